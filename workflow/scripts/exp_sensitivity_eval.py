# Protocol sensitivity: a best checkpoint re-evaluated under each evaluation variant.
import sys

from toobig.analysis.experiments import write_variants

sys.stderr = open(snakemake.log[0], "w")
df = write_variants(snakemake.input.best, snakemake.params.data, snakemake.params.variants, snakemake.output.csv)
print(df.to_string(), file=sys.stderr)
