# Seeds: mean and 95% t-interval per cell, in how many seeds each claim-like outcome holds, every seed's value
# drawn beside them, and the held-out expressions one by one.
import sys

import torch

from toobig.analysis.experiments import write_heldout_by_expression, write_seeds_tables

sys.stderr = open(snakemake.log[0], "w")
torch.set_num_threads(snakemake.threads)  # the rule's threads (1 unless it says): two jobs share two cores
cells, outcomes = write_seeds_tables(snakemake.params.runs, snakemake.config["results_dir"], snakemake.output.cells,
                                     snakemake.output.outcomes, {tuple(k) for k in snakemake.params.paper_runs},
                                     snakemake.output.png)
write_heldout_by_expression(snakemake.params.runs, snakemake.config["results_dir"], snakemake.output.heldout)
print(f"{len(cells)} cells, {len(outcomes)} outcomes", file=sys.stderr)
