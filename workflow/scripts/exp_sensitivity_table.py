# Protocol sensitivity: one table of the held-out (5,7) outcome (and accuracies) under each variant.
import sys

from toobig.analysis.experiments import write_sensitivity

sys.stderr = open(snakemake.log[0], "w")
evaluations = [dict(run, path=path) for run, path in zip(snakemake.params.evaluations, snakemake.input.evaluations)]
df = write_sensitivity(snakemake.params.reference, evaluations, snakemake.params.training, snakemake.config["results_dir"],
                       snakemake.output.csv, snakemake.params.training_settings)
print(f"{len(df)} rows", file=sys.stderr)
