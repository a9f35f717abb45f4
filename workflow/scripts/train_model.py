import sys
from pathlib import Path

from toobig.train import train_run

sys.stderr = open(snakemake.log[0], "a")  # append: a resumed run keeps the log of its first attempt
train_run(
    snakemake.params.run,
    data_dir=Path(snakemake.input.text).parent,
    out_dir=Path(snakemake.output.metrics).parent,
    device=snakemake.params.device,
    threads=snakemake.threads,
)
