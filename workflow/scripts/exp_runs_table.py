# Extended / long training: one row per run (best row, held-out over training, wall time); optional figure.
import sys

import torch

from toobig.analysis.experiments import (long_training_figure, write_heldout_by_expression, write_heldout_stretches,
                                         write_runs_table)

sys.stderr = open(snakemake.log[0], "w")
torch.set_num_threads(snakemake.threads)  # the rule's threads (1 unless it says): two jobs share two cores
paper_runs = {tuple(k) for k in snakemake.params.paper_runs}
df = write_runs_table(snakemake.params.runs, snakemake.config["results_dir"], snakemake.output.csv, paper_runs,
                      finished_only=snakemake.config["finished_runs_only"])
if snakemake.params.figure:
    long_training_figure(df, snakemake.config["results_dir"], snakemake.output.png,
                         paper_iters=snakemake.config["training"]["max_iters"])
if hasattr(snakemake.output, "stretches"):
    write_heldout_stretches(df, snakemake.params.stretch_ends, snakemake.output.stretches)
if hasattr(snakemake.output, "heldout"):
    write_heldout_by_expression(snakemake.params.runs, snakemake.config["results_dir"], snakemake.output.heldout)
print(f"{len(df)} runs", file=sys.stderr)
