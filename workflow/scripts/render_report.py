# The one-page HTML report; see toobig.analysis.report.
import sys
from pathlib import Path

from toobig.analysis.report import render_report

sys.stderr = open(snakemake.log[0], "w")
render_report(
    snakemake.config,
    snakemake.config["results_dir"],
    Path(snakemake.input.captions).parent,
    tables=dict(zip(snakemake.params.tables, snakemake.input.tables)),
    figures=dict(zip(snakemake.params.figures, snakemake.input.figures)),
    claims_csv=snakemake.input.claims,
    template_dir=Path(snakemake.input.template).parent,
    out=snakemake.output.html,
    ood_csvs=list(snakemake.input.ood),
    extended_dir=snakemake.params.extended_dir,
    blog_fragment=snakemake.input.blog[0] if snakemake.input.blog else None,
)
