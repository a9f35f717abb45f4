import sys

from toobig.blog.report import write_run_tables

sys.stderr = open(snakemake.log[0], "w")
write_run_tables(snakemake.input.predictions, snakemake.input.behaviour, snakemake.output.table,
                 snakemake.output.observations, snakemake.output.final, k=snakemake.params.k)
