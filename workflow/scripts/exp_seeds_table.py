# Seeds: mean and 95% t-interval per cell, and in how many seeds each claim-like outcome holds.
import sys

from toobig.analysis.experiments import write_seeds_tables

sys.stderr = open(snakemake.log[0], "w")
cells, outcomes = write_seeds_tables(snakemake.params.runs, snakemake.config["results_dir"], snakemake.output.cells,
                                     snakemake.output.outcomes, {tuple(k) for k in snakemake.params.paper_runs})
print(f"{len(cells)} cells, {len(outcomes)} outcomes", file=sys.stderr)
