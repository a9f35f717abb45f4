# Capacity sweep: held-out and facts accuracy against parameter count (table and figure), and the held-out
# expressions one by one (best checkpoints re-sampled).
import sys

import torch

from toobig.analysis.experiments import write_heldout_by_expression, write_sweep

sys.stderr = open(snakemake.log[0], "w")
torch.set_num_threads(snakemake.threads)  # the rule's threads (1 unless it says): two jobs share two cores
df = write_sweep(snakemake.params.runs, snakemake.config["results_dir"], {"model_settings": snakemake.params.model_settings},
                 snakemake.output.csv, snakemake.output.png, {tuple(k) for k in snakemake.params.paper_runs})
write_heldout_by_expression(snakemake.params.runs, snakemake.config["results_dir"], snakemake.output.heldout)
print(f"{len(df)} sweep points", file=sys.stderr)
