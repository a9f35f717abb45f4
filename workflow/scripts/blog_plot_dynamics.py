import sys

from toobig.blog.report import write_run_figure

sys.stderr = open(snakemake.log[0], "w")
write_run_figure(snakemake.input.epochs, snakemake.input.evals, snakemake.input.behaviour, snakemake.output.figure,
                 title=f"{snakemake.wildcards.model}, learn_to_stop {snakemake.wildcards.stop}")
