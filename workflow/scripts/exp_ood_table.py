# Out-of-domain table: per run and operator, accuracy and how wrong the wrong answers are.
import sys
from pathlib import Path

from toobig.analysis.experiments import ood_table, paper_ood_values
from toobig.fsutil import atomic_write_csv

sys.stderr = open(snakemake.log[0], "w")
entries = [dict(run, samples=s, counts=c, timing=t) for run, s, c, t
           in zip(snakemake.params.runs, snakemake.input.samples, snakemake.input.counts, snakemake.input.timing)]
df = ood_table(entries, paper_ood_values(Path(snakemake.input.paper).parent), paper_seed=snakemake.config["seeds"][0])
atomic_write_csv(snakemake.output.csv, df)
print(f"{len(df)} rows", file=sys.stderr)
