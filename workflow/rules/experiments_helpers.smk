# Helpers of the experiments stage (experiments.smk): which runs and files each experiment needs.
# Functions only, so experiments.smk stays declarations (snakemake --lint keeps the two apart).
import re

from toobig.analysis.experiments import experiment_outputs

EXP = X.experiments_section(config)
EXP_DIR = f"{RESULTS}/experiments"
EXP_OUT = experiment_outputs(config, RESULTS)
# Regime wildcards of train_experiment (extended, long, long_wd, warmup_100, no_clip, ...); disjoint from
# train_model's main|controlled, so no ruleorder is needed.
EXPERIMENT_REGIMES = "|".join(re.escape(name) for name in X.experiment_regimes(config))
# Sweep widths that are not models of model_settings (n14, n28, n56 are the paper's runs, trained by train_model).
SWEEP_MODELS = r"n(?!(?:{})(?![0-9]))[0-9]+".format("|".join(re.escape(m[1:]) for m in config["model_settings"]
                                                              if X.SWEEP_MODEL.match(m)) or "x")


def experiment_on(name):
    return bool(EXP[name]["enabled"])


def experiment_targets():
    """What the target all needs from the experiments, the tables and figures of every one switched on ([] if none)."""
    targets = []
    for name, files in EXP_OUT.items():
        if experiment_on(name):
            targets += [f for f in files if f not in targets]
    return targets


def paper_run_keys():
    """(regime, task, model, seed) of the paper-fidelity runs, so tables can tell the time experiments added."""
    return [(r["regime"], r["task"], r["model"], int(r["seed"])) for r in all_runs()]


def experiment_run_device(wildcards):
    if wildcards.regime == "extended":
        return EXP["extended"]["device"]
    return get_run_device(wildcards)


def experiment_run_gpus(wildcards):
    return 1 if experiment_run_device(wildcards) == "cuda" else 0


def experiment_run_files(name, names=("metrics.csv", "provenance.json"), task=None):
    """metrics.csv and provenance.json (or other files) of every run experiment `name` reads, optionally of one task
    (finished ones only in a snapshot; for best.pt, only runs whose checkpoint is here or will be made)."""
    runs = [r for r in X.experiment_runs(config, name) if task in (None, r["task"])]
    if name == "extended" and run_dir(**runs[0]) != EXTENDED_RUN_DIR:
        raise WorkflowError(f"experiments.extended.seed writes {run_dir(**runs[0])}, but Figure 7 reads "
                            f"{EXTENDED_RUN_DIR}: set experiments.extended.seed to seeds[0]")
    runs = only_finished(runs)
    if "best.pt" in names:
        runs = with_checkpoint(runs)
    return [f for n in names for f in run_files(runs, n)]


def experiment_best_files(name):
    """best.pt of the arithmetic runs of experiment `name`: their held-out expressions are re-sampled one by one."""
    return experiment_run_files(name, names=("best.pt",), task="arithmetic") if experiment_on(name) else []


def ood_runs():
    """Every arithmetic run of the paper planned here and of the seeds experiment (in a snapshot, the finished
    ones), of the regimes experiments.ood.regimes names; ood_targets() is the main-regime n14 subset of these,
    for the paper's section 5.1 claims."""
    runs = [run for regime in EXP["ood"]["regimes"] for run in planned_runs(regime=regime, task="arithmetic")]
    runs += [run for regime in EXP["ood"]["regimes"]
             for run in seeds_experiment_runs(regime=regime, task="arithmetic") if run not in runs]
    return with_checkpoint(runs)


def seeds_experiment_runs(**only):
    """The seeds experiment's runs, optionally filtered, e.g. seeds_experiment_runs(task="arithmetic"); in a
    snapshot, only those finished; none when the experiment is off."""
    runs = X.experiment_runs(config, "seeds") if experiment_on("seeds") else []
    return only_finished([run for run in runs if all(run[k] == v for k, v in only.items())])


def ood_sample_files(name="samples.csv"):
    return [f"{EXP_DIR}/ood/{r['regime']}/{r['model']}/seed{r['seed']}/{name}" for r in ood_runs()]


def ood_count_files():
    """The evaluate_ood rule's counts (aggregation.smk) for the same runs: the table checks both agree."""
    return [rules.evaluate_ood.output.csv.format(**r) for r in ood_runs()]


def sensitivity_runs():
    """The paper-protocol runs whose best checkpoints are re-evaluated (first configured seed)."""
    s = EXP["sensitivity_eval"]
    return with_checkpoint([run for task in s["tasks"] for model in s["models"]
                            for run in planned_runs(regime=s["regime"], task=task, model=model, seed=config["seeds"][0])])


def sensitivity_reference_runs():
    """Reference rows of the sensitivity table: the evaluation runs, and the training variants' paper runs."""
    refs = sensitivity_runs() if experiment_on("sensitivity_eval") else []
    if experiment_on("sensitivity_training"):
        t = EXP["sensitivity_training"]
        refs += [r for model in t["models"] for seed in t["seeds"]
                 for r in planned_runs(regime="main", task=t["task"], model=model, seed=seed) if r not in refs]
    return refs


def sensitivity_eval_files():
    if not experiment_on("sensitivity_eval"):
        return []
    return [f"{EXP_DIR}/sensitivity/{r['regime']}/{r['task']}/{r['model']}/seed{r['seed']}.csv" for r in sensitivity_runs()]


def sensitivity_training_runs():
    return only_finished(X.experiment_runs(config, "sensitivity_training")) if experiment_on("sensitivity_training") else []


def sensitivity_table_inputs(wildcards):
    refs = sensitivity_reference_runs()
    return {"reference": run_files(refs) + run_files(refs, "provenance.json"), "evaluations": sensitivity_eval_files(),
            "training": run_files(sensitivity_training_runs()) + run_files(sensitivity_training_runs(), "provenance.json")}


def experiment_report_inputs():
    """The report waits for every experiment table and figure switched on."""
    return experiment_targets()


# With stack_runs: true (the project's switch, training_stacked.smk), the sweep's seeds of one width, and the long
# training's variants and seeds of one model, train as one stack in one process (toobig.multirun): they differ
# only in seed, regime and weight decay. Stacked runs equal single runs to float rounding, not bit for bit.


def sweep_stack_runs(wildcards):
    """The sweep's seeds of one (regime, task, width), as run dicts."""
    return [dict(regime=wildcards.regime, task=wildcards.task, model=wildcards.model, seed=s) for s in EXP["sweep"]["seeds"]]


def long_stack_runs(wildcards):
    """The long training's variants x seeds of one (task, model), as run dicts."""
    t = EXP["long_training"]
    return [dict(regime=v, task=wildcards.task, model=wildcards.model, seed=s) for v in t["variants"] for s in t["seeds"]]


def stack_configs(runs):
    return [run_settings(**r) for r in runs]


def sweep_stack_configs(wildcards):
    return stack_configs(sweep_stack_runs(wildcards))


def sweep_stack_dirs(wildcards):
    return [run_dir(**r) for r in sweep_stack_runs(wildcards)]


def long_stack_configs(wildcards):
    return stack_configs(long_stack_runs(wildcards))


def long_stack_dirs(wildcards):
    return [run_dir(**r) for r in long_stack_runs(wildcards)]
