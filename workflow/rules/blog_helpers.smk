# Helpers of the blog stage (functions only, so blog.smk stays declarations). The stage is self-contained: it
# can be included without common.smk.
import json
from pathlib import Path

from toobig.blog.data import dataset_changes as blog_dataset_changes
from toobig.provenance import changed_mark_inputs, config_changes

BLOG = f"{config.get('results_dir', 'results')}/blog"
BLOG_RUN = f"{BLOG}/runs/{{model}}_stop-{{stop}}"


def blog_stop_settings():
    """The learn_to_stop settings trained: the configured one, plus the other when compare_learn_to_stop."""
    first = "on" if config["blog"]["learn_to_stop"] else "off"
    if config["blog"]["compare_learn_to_stop"]:
        return ["off", "on"]
    return [first]


def configured_blog_runs():
    """The runs the config asks for, "<model>_stop-<on|off>"."""
    return [f"{config['blog']['model']}_stop-{stop}" for stop in blog_stop_settings()]


def blog_runs():
    """The runs trained; with finished_runs_only (profiles/snapshot), as the paper's runs there, only those that
    exist (run.json, which the trainer writes last): a snapshot trains nothing, and its summary and report leave
    the others out."""
    runs = configured_blog_runs()
    if config.get("finished_runs_only"):
        runs = [run for run in runs if Path(BLOG, "runs", run, "run.json").exists()]
    return runs


def blog_absent_runs():
    """The configured runs a snapshot leaves out for want of run.json (none outside a snapshot)."""
    trained = blog_runs()
    return [run for run in configured_blog_runs() if run not in trained]


def blog_run_settings(wildcards) -> dict:
    from toobig.blog.config import resolve_blog_run

    return resolve_blog_run(config["blog"], wildcards.model, wildcards.stop == "on").to_dict()


def blog_run_params(wildcards):
    """The resolved settings of one run as JSON (the command line's --run-json); a config edit changes them and
    so re-triggers the run."""
    return json.dumps(blog_run_settings(wildcards), sort_keys=True)


def blog_data_changed_flag(wildcards):
    """changed_data_flag for the blog dataset: written again when its files differ from what blog.data gives now."""
    folder = f"{BLOG}/data"
    return changed_mark_inputs(folder, [] if config.get("finished_runs_only") else
                               blog_dataset_changes(config["blog"]["data"], folder))


def blog_changed_flag(wildcards):
    """changed_config_flags for a blog run: its run.json against the settings it gets now."""
    folder = f"{BLOG}/runs/{wildcards.model}_stop-{wildcards.stop}"
    return changed_mark_inputs(folder, [] if config.get("finished_runs_only") else
                               config_changes(folder, blog_run_settings(wildcards), None, "run.json"))


def blog_run_gpus(wildcards):
    """The DistilGPT-2-size run declares one GPU; the CPU-sized variant none."""
    return 0 if wildcards.model == "cpu" else 1


def blog_run_device(wildcards):
    """The device the run trains on: the one its gpu resource declares (never a GPU a CPU-declared job did not ask
    for; a GPU-declared job on a machine without one stops with a message)."""
    return "cuda" if blog_run_gpus(wildcards) else "cpu"


def blog_slurm_partition(wildcards):
    """As the paper stages' slurm_partition (common.smk), read here without it: "" lets SLURM choose."""
    return (config.get("slurm_partitions") or {}).get("gpu" if blog_run_gpus(wildcards) else "cpu", "")


def blog_run_paths(kind):
    """The `kind` file of every trained run, in blog_runs() order."""
    return [f"{BLOG}/runs/{run}/{kind}" for run in blog_runs()]


def blog_comparison_inputs(wildcards):
    model = config["blog"]["model"]
    return {
        "off": f"{BLOG}/runs/{model}_stop-off/scores.csv",
        "on": f"{BLOG}/runs/{model}_stop-on/scores.csv",
    }


def blog_comparison_outputs():
    """The learn_to_stop comparison, when asked for and both of its runs are trained (in a snapshot: both exist)."""
    model = config["blog"]["model"]
    both = {f"{model}_stop-off", f"{model}_stop-on"} <= set(blog_runs())
    return [f"{BLOG}/learn_to_stop.json"] if config["blog"]["compare_learn_to_stop"] and both else []


def blog_report_inputs():
    """The HTML fragment the main report embeds; [] when the blog experiment is switched off."""
    return [f"{BLOG}/report.html"] if config["blog"]["enabled"] else []


def blog_targets():
    """What rule all needs from this experiment; [] when config["blog"]["enabled"] is false."""
    if not config["blog"]["enabled"]:
        return []
    return [f"{BLOG}/summary.json", f"{BLOG}/report.html"]
