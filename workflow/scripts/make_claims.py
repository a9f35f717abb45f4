# Every claim of paper/claims.yaml checked against the measured runs; see toobig.analysis.claims.
import sys
from pathlib import Path

from toobig.analysis.claims import write_claims

sys.stderr = open(snakemake.log[0], "w")
df = write_claims(snakemake.config, snakemake.config["results_dir"], Path(snakemake.input.claims).parent,
                  snakemake.output.csv, extended_dir=snakemake.params.extended_dir)
print(df["verdict"].value_counts().to_string(), file=sys.stderr)
