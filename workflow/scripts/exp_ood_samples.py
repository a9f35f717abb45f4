# Out of domain, every sample (for the error distribution); see toobig.analysis.experiments.ood_samples.
import sys

from toobig.analysis.experiments import write_ood_samples

sys.stderr = open(snakemake.log[0], "w")
df = write_ood_samples(snakemake.input.best, snakemake.params.data, snakemake.output.csv)
print(f"{len(df)} samples, {int(df['correct'].sum())} correct", file=sys.stderr)
