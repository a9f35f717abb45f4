# Table N of the paper from the run directories (Table 1 from config.yaml); see toobig.analysis.tables.
import sys
from pathlib import Path

from toobig.analysis.tables import write_table

sys.stderr = open(snakemake.log[0], "w")
write_table(int(snakemake.wildcards.n), snakemake.config, snakemake.config["results_dir"],
            Path(snakemake.input.paper).parent, snakemake.output.csv)
