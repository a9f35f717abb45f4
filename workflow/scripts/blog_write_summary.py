import sys
from pathlib import Path

from toobig.blog.report import write_summary

sys.stderr = open(snakemake.log[0], "w")
inp = snakemake.input
runs = {
    name: {"run_json": inp.runs[i], "claims_json": inp.claims[i], "final_csv": inp.final[i],
           "prediction_table_csv": inp.tables[i], "evals_csv": inp.evals[i]}
    for i, name in enumerate(snakemake.params.names)
}
root = Path(snakemake.output.summary).parent
figures = {f"{name}: loss, gradient norm and behaviour per operation": str(Path(f).relative_to(root))
           for name, f in zip(snakemake.params.names, inp.figures)}
if inp.comparison:
    figures["learn_to_stop off vs on (held-out)"] = "learn_to_stop.png"
write_summary(runs, inp.comparison[0] if inp.comparison else None, snakemake.output.summary,
              snakemake.output.fragment, inp.template, figures, snakemake.params.absent)
