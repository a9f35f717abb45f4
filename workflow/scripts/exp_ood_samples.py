# Out of domain, every sample (for the error distribution); see toobig.analysis.experiments.ood_samples.
import sys

import torch

from toobig.analysis.experiments import write_ood_samples

sys.stderr = open(snakemake.log[0], "w")
torch.set_num_threads(snakemake.threads)  # the rule's threads (1 unless it says): two jobs share two cores
df = write_ood_samples(snakemake.input.best, snakemake.params.data, snakemake.output.csv, snakemake.output.timing)
print(f"{len(df)} samples, {int(df['correct'].sum())} correct", file=sys.stderr)
