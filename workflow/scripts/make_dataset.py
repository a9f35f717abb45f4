import sys
from pathlib import Path

from toobig.data import write_dataset

sys.stderr = open(snakemake.log[0], "w")
meta = write_dataset(snakemake.wildcards.task, snakemake.params.data, Path(snakemake.output.text).parent)
print(f"wrote {meta['lines']} lines, vocabulary {meta['vocab_size']}", file=sys.stderr)
