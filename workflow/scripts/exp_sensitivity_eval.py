# Protocol sensitivity: a best checkpoint re-evaluated under each evaluation variant.
import sys

import torch

from toobig.analysis.experiments import write_variants

sys.stderr = open(snakemake.log[0], "w")
torch.set_num_threads(snakemake.threads)  # the rule's threads (1 unless it says): two jobs share two cores
df = write_variants(snakemake.input.best, snakemake.params.data, snakemake.params.variants, snakemake.output.csv)
print(df.to_string(), file=sys.stderr)
