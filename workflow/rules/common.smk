# Helpers shared by every stage: config validation, which runs exist, where their files live.
import hashlib
import json
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

# The workflow runs the library beside it (src/), not whichever toobig is installed (another checkout's, or none in a
# --use-conda environment): first on this process's path, and on the PYTHONPATH every job inherits.
SRC = str(Path(workflow.current_basedir).parents[1] / "src")  # this file is workflow/rules/common.smk
sys.path.insert(0, SRC)

from toobig.pythonpath import prepend_to_pythonpath

prepend_to_pythonpath(SRC)

from toobig import experiments as X
from toobig.config import EXECUTION_SETTINGS, ConfigError, validate_config
from toobig.data import dataset_changes
from toobig.provenance import changed_mark_inputs, config_changes

try:  # the same check guards `python -m toobig`
    validate_config(config, "config.yaml (with any --configfile or --config)",
                    Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")
except ConfigError as err:
    sys.exit(str(err))

RESULTS = config["results_dir"]


def gpu_present():
    import torch

    return torch.cuda.is_available()


def mlt_planned():
    """MLT runs are planned when a GPU is here, when the config says always, or when forced onto the CPU."""
    if config["run_mlt"] == "never":
        return False
    if config["run_mlt"] == "always" or config["mlt_device"] == "cpu":
        return True
    return gpu_present()


def all_runs():
    """Every configured run of the paper, planned here or not: one dict per run."""
    return X.paper_runs(config)


def finished(run):
    """A run is finished once provenance.json exists: the trainer writes it last."""
    return Path(run_dir(**run), "provenance.json").exists()


def only_finished(runs):
    """With finished_runs_only (profiles/snapshot), the finished runs only: a report of what exists now, with the
    rest listed as not run; otherwise every run given."""
    return [run for run in runs if finished(run)] if config["finished_runs_only"] else runs


def planned_runs(**only):
    """The runs this machine will train, optionally filtered, e.g. planned_runs(regime="main", task="capitals");
    in a snapshot, only those already finished."""
    return only_finished([
        run
        for run in all_runs()
        if (run["model"] != "mlt" or mlt_planned() or config["finished_runs_only"])
        and all(run[k] == v for k, v in only.items())
    ])


# Appendix B's extended MLT run (experiments.extended, a GPU job): Figure 7 and the claims read its folder.
EXTENDED_RUN = dict(regime="extended", task="arithmetic", model="mlt", seed=config["seeds"][0])


def runs_trained_elsewhere():
    """Configured runs this machine does not plan but has finished (an MLT run brought home from a GPU machine;
    the extended run while experiments.extended is off here), each with its provenance.json's digest. Tables,
    figures and claims read them as they read every run folder; as a param (not an input, which would make this
    machine's plan train them when their dataset is remade) they remake what shows them when one arrives or
    changes."""
    planned = planned_runs()
    elsewhere = [run for run in all_runs() if run not in planned and finished(run)]
    if not X.enabled(config, "extended") and finished(EXTENDED_RUN):  # on, it is an input of Figure 7 and claims
        elsewhere.append(EXTENDED_RUN)
    return {run_dir(**run): hashlib.sha256(Path(run_dir(**run), "provenance.json").read_bytes()).hexdigest()[:16]
            for run in elsewhere}


def with_checkpoint(runs):
    """The runs whose best.pt is here or will be made: a finished run trained elsewhere without it (an MLT run's
    best.pt, 42 MB, stays on the GPU machine) is left out of evaluations rather than retrained for one."""
    return [run for run in runs if not finished(run) or Path(run_dir(**run), "best.pt").exists()]


def run_dir(regime, task, model, seed):
    return f"{RESULTS}/runs/{regime}/{task}/{model}/seed{seed}"


# What a training job writes into its run folder (one list for every training rule). A run trained elsewhere may
# lack best.pt (an MLT run's is 42 MB and stays on the GPU machine): only jobs that ask for best.pt would retrain
# it, and none does (with_checkpoint).
RUN_FILES = ("metrics.csv", "timing.csv", "best.pt", "provenance.json")


def run_outputs():
    """A training rule's outputs by name (metrics, timing, best, provenance), wildcards in the run folder."""
    return {name.split(".")[0]: f"{RESULTS}/runs/{{regime}}/{{task}}/{{model}}/seed{{seed}}/{name}"
            for name in RUN_FILES}


def run_files(runs, name="metrics.csv"):
    return [f"{run_dir(**run)}/{name}" for run in runs]


def dataset_dir(task):
    return f"{RESULTS}/datasets/{task}"


# Editing code does not re-run training by itself (a fresh clone would otherwise retrain everything, and a
# refactor would invalidate every result). TRAINING_VERSION in src/toobig/__init__.py is bumped by any change
# that alters what training writes; it is a param of every training rule, so bumping it re-runs every run.
# For the same reason datasets and training are `shell:` calls of the library's command line, not `script:`
# files: Snakemake re-runs a script rule whose script is newer than its outputs, and a git checkout writes
# workflow/ after results/, so every committed run would look stale on a fresh clone.
from toobig import TRAINING_VERSION


def json_param(settings):
    """Settings as JSON text, the form in which the command line takes them (--run-json)."""
    return lambda wildcards: json.dumps(settings(wildcards), sort_keys=True)


TRAIN_COMMAND = (
    'python -m toobig train --run-json {params.run:q} --data "$(dirname {input.text:q})" '
    '--out "$(dirname {output.metrics:q})" --device {params.device} --threads {threads} >> {log:q} 2>&1'
)
# Several runs as one stack (stack_runs: true): each run's folder as train_model writes it.
TRAIN_STACK_COMMAND = (
    'python -m toobig train-many --runs-json {params.runs:q} --out-dirs {params.out_dirs:q} '
    '--data "$(dirname {input.text:q})" --device {params.device} --threads {threads} {params.cuda_graphs} '
    '>> {log:q} 2>&1'
)


def cuda_graphs_flag():
    return "--cuda-graphs" if config.get("cuda_graphs", False) else ""


def run_settings(regime, task, model, seed) -> dict:
    """The complete settings of one run, the paper's or an experiment's (toobig.experiments.resolve_experiment_run)."""
    try:
        return X.resolve_experiment_run(config, task, model, regime, int(seed)).to_dict()
    except ConfigError as err:
        raise WorkflowError(f"config.yaml: {err}")


def get_run_config(wildcards):
    """The settings of a single-run training job: a rule param, so that Snakemake, from its own records, re-runs
    a run when any value changes (changed_config_flags does the same without those records)."""
    return run_settings(wildcards.regime, wildcards.task, wildcards.model, wildcards.seed)


def changed_config_flags(runs):
    """An input of every training job: for each finished run whose provenance.json records other settings, or
    an older TRAINING_VERSION, than the run gets now, its config_changed.txt, written now (newer than the run's
    outputs) with what changed. Snakemake then re-trains the run even without records of its own (a fresh
    clone); the trainer starts it afresh and removes the file when done (toobig.provenance). A missing input
    would not do: Snakemake does not re-create an intermediate file for a job whose outputs are up to date.
    None in a snapshot (it trains nothing)."""
    if config["finished_runs_only"]:
        return []
    return [flag for run in runs for flag in changed_mark_inputs(
        run_dir(**run), config_changes(run_dir(**run), run_settings(**run), TRAINING_VERSION, ignore=EXECUTION_SETTINGS))]


def changed_data_flag(wildcards):
    """make_dataset's counterpart of changed_config_flags: a written dataset whose files differ from what the
    data: settings give now gets a config_changed.txt, so it is written again (and every run of the task, now
    older than its data, re-trained)."""
    folder = dataset_dir(wildcards.task)
    return changed_mark_inputs(folder, [] if config["finished_runs_only"] else
                               dataset_changes(wildcards.task, config["data"], folder))


def changed_config_flag(wildcards):
    """changed_config_flags of a single-run training job."""
    return changed_config_flags([dict(regime=wildcards.regime, task=wildcards.task, model=wildcards.model,
                                      seed=wildcards.seed)])


def is_gpu_run(wildcards):
    device = config["mlt_device"] if wildcards.model == "mlt" else config["nmodel_device"]
    return device == "cuda"


def get_run_device(wildcards):
    return "cuda" if is_gpu_run(wildcards) else "cpu"


def get_run_gpus(wildcards):
    return 1 if is_gpu_run(wildcards) else 0


def stack_device():
    """Where stacked n-model jobs train (config nmodel_device)."""
    return "cuda" if config["nmodel_device"] == "cuda" else "cpu"


def stack_gpus(wildcards):
    return 1 if stack_device() == "cuda" else 0


def slurm_partition(gpus_of):
    """A training rule's SLURM partition (profiles/slurm), from its gpu resource function: GPU jobs to the GPU
    partition, the rest to the CPU one (config slurm_partitions; "" lets SLURM choose)."""
    return lambda wildcards: config["slurm_partitions"]["gpu" if gpus_of(wildcards) else "cpu"]


def get_final_outputs():
    targets = report_targets()
    for extra in ("blog_targets", "experiment_targets"):
        if extra in globals():
            targets += globals()[extra]()
    return targets
