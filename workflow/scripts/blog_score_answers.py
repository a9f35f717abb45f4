import sys

from toobig.blog.report import write_scores

sys.stderr = open(snakemake.log[0], "w")
write_scores(snakemake.input.answers, snakemake.output.scores, k=snakemake.params.k)
