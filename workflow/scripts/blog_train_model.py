import sys
from pathlib import Path

from toobig.blog.config import blog_run_config_from_dict
from toobig.blog.train import train_blog_run

sys.stdout = sys.stderr = open(snakemake.log[0], "a")  # append: a resumed run keeps its first attempt's log
train_blog_run(blog_run_config_from_dict(snakemake.params.run), snakemake.input.train, snakemake.input.heldout,
               Path(snakemake.output.epochs).parent, threads=snakemake.threads)
