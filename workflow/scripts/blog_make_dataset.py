import json
import sys

from toobig.blog.data import make_dataset
from toobig.fsutil import atomic_write_text

sys.stderr = open(snakemake.log[0], "w")
d = snakemake.params.data
counts = make_dataset(snakemake.output.train, snakemake.output.heldout, d["n_lines"], d["data_seed"],
                      d["operand_min"], d["operand_max"], d["division_decimals"], d["heldout_fraction"])
atomic_write_text(snakemake.output.counts, json.dumps(counts, indent=2) + "\n")
