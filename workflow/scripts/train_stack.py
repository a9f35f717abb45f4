import sys

from toobig.multirun import train_many

sys.stderr = open(snakemake.log[0], "a")  # append: a resumed stack keeps the log of its first attempt
train_many(
    snakemake.params.runs,
    data_dir=snakemake.input.text.rsplit("/", 1)[0],
    out_dirs=snakemake.params.out_dirs,
    device=snakemake.params.device,
    threads=snakemake.threads,
    cuda_graphs=snakemake.params.cuda_graphs,
)
