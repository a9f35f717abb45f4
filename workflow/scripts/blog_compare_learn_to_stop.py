import sys

from toobig.blog.report import write_comparison

sys.stderr = open(snakemake.log[0], "w")
write_comparison(snakemake.input.off, snakemake.input.on, snakemake.output.comparison, snakemake.output.figure)
