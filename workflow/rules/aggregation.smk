# Helpers of the aggregation stage (tables, figures, claims, report): what each aggregation job reads.
# Functions only, so the rule files stay declarations (snakemake --lint keeps the two apart).
from toobig.analysis.claims import claim_seeds
from toobig.analysis.runs import FIGURE_RUNS, TABLE_RUNS

PAPER_DIR = "paper"
TABLE_NUMBERS = list(range(1, 8))
FIGURE_NUMBERS = list(range(1, 8))
# Where the appendix-B extended MLT run is (a GPU experiment, experiments.extended), when it is here.
EXTENDED_RUN_DIR = run_dir(**EXTENDED_RUN)


def table_run_files(wildcards):
    """metrics.csv and provenance.json of the runs this machine trains for Table N (none for Table 1), so
    `snakemake -- results/tables/table3.csv` trains only the capitals runs (runs trained elsewhere: a param)."""
    if int(wildcards.n) not in TABLE_RUNS:
        return []
    regime, task = TABLE_RUNS[int(wildcards.n)]
    runs = planned_runs(regime=regime, task=task)
    return run_files(runs) + run_files(runs, "provenance.json")


def figure_run_files(wildcards):
    """metrics.csv of the runs Figure N draws. Figure 7: the extended run when experiments.extended is on (else
    read when present, never trained: runs_trained_elsewhere); its CPU-sized stand-ins, the longer-training runs,
    when that experiment is on."""
    if int(wildcards.n) == 7:
        return [f for name in ("extended", "long_training") if experiment_on(name) for f in experiment_run_files(name)]
    if int(wildcards.n) not in FIGURE_RUNS:
        return []
    regime, task = FIGURE_RUNS[int(wildcards.n)]
    return run_files(planned_runs(regime=regime, task=task))


def aggregation_settings(wildcards):
    """The config values tables, figures and claims are made from, and the runs trained elsewhere that they read,
    as a param: editing one, or bringing a run home, remakes them."""
    keys = ("models", "seeds", "regimes", "tasks", "model_settings", "regime_settings", "training", "evaluation")
    return {**{key: config.get(key) for key in keys}, "runs_trained_elsewhere": runs_trained_elsewhere()}


def ood_targets():
    """Section 5.1 evaluates the main-regime arithmetic n14; one file per seed trained here (the seeds
    experiment's too, when it is on: the claims are judged on each seed)."""
    runs = planned_runs(regime="main", task="arithmetic", model="n14")
    runs += [r for r in seeds_experiment_runs(regime="main", task="arithmetic", model="n14") if r not in runs]
    return [f"{RESULTS}/ood/{run['regime']}/arithmetic/{run['model']}/seed{run['seed']}/ood.csv" for run in runs]


def figure_stand_in_runs(wildcards):
    """The longer-training runs Figure 7 draws beside the extended MLT (those finished, in a snapshot)."""
    if int(wildcards.n) != 7 or not experiment_on("long_training"):
        return []
    return only_finished(X.experiment_runs(config, "long_training"))


def claim_run_files():
    """The paper's runs; of the experiments switched on, the extended run (claim extended-no-grokking), the
    longer-training runs (claim extended-no-grokking-cpu), the seeds experiment's runs (each claim judged on each
    seed) and the capacity sweep's arithmetic runs of those seeds (claim n14-smallest-viable); in a snapshot, the
    finished ones."""
    seeds = claim_seeds(config)
    sweep = X.experiment_runs(config, "sweep") if experiment_on("sweep") else []
    extra = [r for r in sweep if r["seed"] in seeds and r["task"] == "arithmetic"]  # what the claim reads
    for name in ("extended", "long_training"):
        extra += X.experiment_runs(config, name) if experiment_on(name) else []
    extra += seeds_experiment_runs()
    extra = list({(r["regime"], r["task"], r["model"], r["seed"]): r for r in extra if r not in all_runs()}.values())
    runs = planned_runs() + only_finished(extra)
    return run_files(runs) + run_files(runs, "provenance.json")


def report_targets():
    """Every output of the aggregation: what `rule all` asks for."""
    return (
        expand(f"{RESULTS}/tables/table{{n}}.csv", n=TABLE_NUMBERS)
        + expand(f"{RESULTS}/figures/figure{{n}}.{{ext}}", n=FIGURE_NUMBERS, ext=["png", "pdf"])
        + [f"{RESULTS}/claims.csv", f"{RESULTS}/report.html"]
    )
