# Section 5.1: a run's best checkpoint on out-of-domain operands 0..19; see toobig.analysis.ood.
import sys

import torch

from toobig.analysis.ood import write_ood

sys.stderr = open(snakemake.log[0], "w")
torch.set_num_threads(snakemake.threads)  # the rule's threads (1 unless it says): two jobs share two cores
row = write_ood(snakemake.input.best, snakemake.params.data, snakemake.output.csv)
print(f"addition {row['ood_add_correct']}/{row['ood_add_total']}, subtraction {row['ood_sub_correct']}/{row['ood_sub_total']}",
      file=sys.stderr)
