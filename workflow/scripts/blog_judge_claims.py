import sys

from toobig.blog.report import write_run_claims

sys.stderr = open(snakemake.log[0], "w")
write_run_claims(snakemake.input.epochs, snakemake.input.evals, snakemake.input.behaviour, snakemake.output.claims,
                 dict(snakemake.params.thresholds))
