# Figure N of the paper (PNG and PDF); see toobig.analysis.figures.
import sys
from pathlib import Path

from toobig.analysis.figures import write_figure

sys.stderr = open(snakemake.log[0], "w")
write_figure(int(snakemake.wildcards.n), snakemake.config, snakemake.config["results_dir"],
             Path(snakemake.input.captions).parent, snakemake.output.png, snakemake.output.pdf,
             extended_dir=snakemake.params.extended_dir,
             stand_in_runs=snakemake.params.stand_in_runs)
