"""Command line: `python -m toobig data|train|train-many|evaluate|blog-data|blog-train ...`; the pipeline's rules call these."""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

import torch

from .checkpoint import CheckpointError
from .config import (ConfigError, MODELS, REGIMES, TASKS, load_project_config, load_run_config, resolve_run,
                     run_config_from_dict, validate_section)
from .data import read_dataset, write_dataset
from .evaluate import Vocab, sample_prompts, score, tally
from .fsutil import atomic_write_text
from .train import TrainingDiverged, load_trained, pick_device, train_run


# every prompt set a dataset folder can hold (toobig.data.prompt_sets; tests/test_cli.py checks they agree)
PROMPT_SETS = ("grid91", "grid100", "heldout", "ood", "capitals")


def json_argument(text: str, flag: str):
    """The value of a --*-json flag (the pipeline passes its rule params this way)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{flag} is not valid JSON ({err})") from None


def cmd_data(args) -> None:
    if args.data_json:
        data = json_argument(args.data_json, "--data-json")
        validate_section(data, "data", "--data-json")
    else:
        data = load_project_config(args.config)["data"]
    meta = write_dataset(args.task, data, args.out)
    print(f"wrote {args.out}: {meta['lines']} lines, {meta['characters']} characters, vocabulary {meta['vocab_size']}")


def run_config_from_args(args):
    if args.run_json:
        return run_config_from_dict(json_argument(args.run_json, "--run-json"))
    if args.run_config:
        return load_run_config(args.run_config)
    return resolve_run(load_project_config(args.config), args.task, args.model, args.regime, args.seed)


def cmd_train(args) -> None:
    train_run(run_config_from_args(args).to_dict(), args.data, args.out, device=args.device, threads=args.threads,
              cuda_graphs=args.cuda_graphs)


def cmd_train_many(args) -> None:
    """Every (regime, seed) of one task and model as one stack (toobig.multirun); one folder per run."""
    from .multirun import train_many

    if args.runs_json:
        runs = json_argument(args.runs_json, "--runs-json")
        if not args.out_dirs or len(args.out_dirs) != len(runs):
            raise ConfigError(f"--runs-json holds {len(runs)} runs: give as many --out-dirs")
        train_many(runs, args.data, args.out_dirs, device=args.device, threads=args.threads,
                   cuda_graphs=args.cuda_graphs)
        return
    if not args.out_root:
        raise ConfigError("give --out-root (or --runs-json with --out-dirs)")
    config = load_project_config(args.config)
    pairs = [(regime, seed) for regime in args.regimes for seed in args.seeds]
    runs = [resolve_run(config, args.task, args.model, regime, seed).to_dict() for regime, seed in pairs]
    outs = [Path(args.out_root) / regime / args.task / args.model / f"seed{seed}" for regime, seed in pairs]
    train_many(runs, args.data, outs, device=args.device, threads=args.threads, cuda_graphs=args.cuda_graphs)


def cmd_blog_data(args) -> None:
    from .blog.data import write_dataset

    if args.data_json:
        d = json_argument(args.data_json, "--data-json")
    else:
        d = load_project_config(args.config)["blog"]["data"]
    counts = write_dataset(d, args.out)
    print(f"wrote {args.out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def blog_run_from_args(args):
    """The blog run's settings: --run-json, or the config's blog section with --model and --learn-to-stop
    (unset: the config's blog.learn_to_stop)."""
    from .blog.config import blog_run_config_from_dict, resolve_blog_run

    if args.run_json:
        return blog_run_config_from_dict(json_argument(args.run_json, "--run-json"))
    blog = load_project_config(args.config)["blog"]
    stop = blog.get("learn_to_stop", False) if args.learn_to_stop is None else args.learn_to_stop
    return resolve_blog_run(blog, args.model, stop)


def cmd_blog_train(args) -> None:
    from .blog.train import train_blog_run

    train_blog_run(blog_run_from_args(args), Path(args.data) / "train.txt", Path(args.data) / "heldout.txt", args.out,
                   threads=args.threads, device=args.device)


def cmd_evaluate(args) -> None:
    """Re-evaluate a saved checkpoint on any prompt set of a dataset; one CSV row per sample."""
    for flag, value, low in (("--samples", args.samples, 1), ("--threads", args.threads, 1)):
        if value is not None and value < low:
            raise ConfigError(f"{flag} must be at least {low}, got {value}")
    if args.temperature is not None and not args.temperature > 0:
        raise ConfigError(f"--temperature must be above 0 (top_k 1 in a run config is greedy), got {args.temperature}")
    torch.set_num_threads(args.threads)
    text, meta, sets = read_dataset(args.data)
    device = pick_device(args.device)
    ckpt, cfg, model = load_trained(args.checkpoint, expect_vocab=meta["vocab"], device=device)
    if args.prompts not in sets:
        raise ValueError(f"dataset {args.data} has no prompt set '{args.prompts}'; it has {', '.join(sets)}")
    gen = torch.Generator(device=device).manual_seed(cfg.seed if args.seed is None else args.seed)
    samples = sample_prompts(model, Vocab(meta["vocab"]), sets[args.prompts],
                             cfg.samples_per_prompt if args.samples is None else args.samples,
                             args.temperature if args.temperature is not None else cfg.temperature, cfg.top_k,
                             cfg.arithmetic_new_tokens, cfg.capitals_new_tokens, gen)
    counts = tally(samples)
    if args.out:
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        writer.writerow(["prompt", "kind", "expected", "generated", "answer", "correct", "terminated"])
        for s in samples:
            writer.writerow([s.prompt.text, s.prompt.kind, s.prompt.answer, s.generated, s.judgement.answer,
                             int(s.judgement.correct), int(s.judgement.terminated)])
        atomic_write_text(args.out, buffer.getvalue())
    kinds = sorted({k.rsplit("_", 1)[0] for k in counts})
    for kind in kinds:
        print(f"{kind}: {counts[kind + '_correct']}/{counts[kind + '_total']} correct, "
              f"{counts[kind + '_terminated']} terminated")
    if {"add", "sub", "facts"} & set(kinds):  # the training score (seen addition, subtraction, facts) only
        print(f"score {score(counts):.4f} (checkpoint iteration {ckpt.get('iter')})")
    else:
        print(f"checkpoint iteration {ckpt.get('iter')} (no training score: '{args.prompts}' holds none of the "
              "prompts it counts)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toobig", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="write a task's training text, prompt sets and meta.json",
                       description="Writes one task's dataset folder from the config's data: section: train.txt (the "
                                   "training and validation text), prompts.json (every evaluation prompt set) and "
                                   "meta.json (vocabulary and counts), meta.json last.")
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument("--config", default="config.yaml", help="the project config (default: config.yaml)")
    p.add_argument("--data-json", help="the config's data: section as JSON (what the pipeline passes; "
                                        "instead of --config)")
    p.add_argument("--out", required=True, help="output folder, e.g. results/datasets/arithmetic")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("train", help="train one run (resumes from OUT/resume.pt when present)",
                       description="Trains one run and writes metrics.csv, timing.csv, best.pt, resume.pt and "
                                   "provenance.json (last) into --out. The run's settings come from --run-json, "
                                   "--run-config, or the project config with --task, --model, --regime and --seed. A "
                                   "run folder with a resume.pt continues from it (and rewrites the other files from "
                                   "it), unless the dataset changed since; other settings than resume.pt's are "
                                   "refused.")
    p.add_argument("--config", default="config.yaml", help="the project config (default: config.yaml)")
    p.add_argument("--run-config", help="a JSON/YAML file with every run setting (instead of --config and names)")
    p.add_argument("--run-json", help="every run setting as one JSON object (what the pipeline passes)")
    p.add_argument("--task", choices=TASKS, default="arithmetic")
    p.add_argument("--model", choices=MODELS, default="n14")
    p.add_argument("--regime", choices=REGIMES, default="main")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--data", required=True, help="dataset folder written by `toobig data`")
    p.add_argument("--out", required=True, help="run folder for metrics.csv, best.pt, resume.pt")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda[:N]")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: deterministic, one core)")
    p.add_argument("--cuda-graphs", action="store_true",
                   help="CUDA only, with compile: torch.compile mode='reduce-overhead' (CUDA graphs)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("train-many", help="train several runs of one task and model as one stack (seeds, regimes)",
                       description="Trains every (regime, seed) pair of one task and model together, parameters "
                                   "stacked along a run axis; each run's files are written exactly as `toobig train` "
                                   "writes them, to OUT_ROOT/REGIME/TASK/MODEL/seedSEED. Runs must differ only in "
                                   "seed, regime and weight decay, without dropout (the n-models).")
    p.add_argument("--config", default="config.yaml", help="the project config (default: config.yaml)")
    p.add_argument("--task", choices=TASKS, default="arithmetic")
    p.add_argument("--model", choices=MODELS, default="n14")
    p.add_argument("--regimes", nargs="+", choices=REGIMES, default=list(REGIMES))
    p.add_argument("--seeds", nargs="+", type=int, default=[1337])
    p.add_argument("--data", required=True, help="dataset folder written by `toobig data`")
    p.add_argument("--out-root", help="runs folder, e.g. results/runs")
    p.add_argument("--runs-json", help="a JSON list of run settings (what the pipeline passes; instead of "
                                        "--config, --regimes and --seeds), with --out-dirs")
    p.add_argument("--out-dirs", nargs="+", help="one run folder per entry of --runs-json")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda[:N]")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--cuda-graphs", action="store_true",
                   help="CUDA only, with compile: torch.compile mode='reduce-overhead' (CUDA graphs)")
    p.set_defaults(func=cmd_train_many)

    p = sub.add_parser("blog-data", help="write the blog experiment's train.txt, heldout.txt and counts.json",
                       description="Writes the blog experiment's dataset folder (train.txt, heldout.txt and "
                                   "counts.json) from the config's blog.data section or --data-json.")
    p.add_argument("--config", default="config.yaml", help="the project config (default: config.yaml)")
    p.add_argument("--data-json", help="the config's blog.data section as JSON (instead of --config)")
    p.add_argument("--out", required=True, help="output folder, e.g. results/blog/data")
    p.set_defaults(func=cmd_blog_data)

    p = sub.add_parser("blog-train", help="train one blog run (resumes from its last checkpoint)",
                       description="Trains one run of the blog experiment on a folder written by `toobig blog-data`; "
                                   "settings from --run-json, or the config's blog section with --model and "
                                   "--learn-to-stop. A run folder with a checkpoint continues from it.")
    p.add_argument("--config", default="config.yaml", help="the project config (default: config.yaml)")
    p.add_argument("--model", default="cpu", help="an entry of the config's blog.models (default: cpu)")
    p.add_argument("--learn-to-stop", action=argparse.BooleanOptionalAction,
                   help="train the end-of-answer token (default: the config's blog.learn_to_stop)")
    p.add_argument("--run-json", help="every run setting as one JSON object (what the pipeline passes)")
    p.add_argument("--data", required=True, help="folder with train.txt and heldout.txt (toobig blog-data)")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto (default): CUDA when there is one; the pipeline passes the device its rule declares")
    p.set_defaults(func=cmd_blog_train)

    p = sub.add_parser("evaluate", help="re-evaluate a saved checkpoint on a prompt set",
                       description="Samples a saved checkpoint (best.pt or resume.pt) on one prompt set of its "
                                   "dataset with the run's sampling settings (or those given), prints the counts "
                                   "of correct and terminated answers, and with --out writes one CSV row per sample.")
    p.add_argument("--checkpoint", required=True, help="best.pt or resume.pt of a run")
    p.add_argument("--data", required=True, help="the dataset folder the run was trained on")
    p.add_argument("--prompts", default="grid91", choices=PROMPT_SETS,
                   help="the prompt set (default grid91); a dataset holds those of its task: arithmetic grid91, "
                        "grid100, heldout and ood, capitals capitals, joint all")
    p.add_argument("--samples", type=int, help="samples per prompt (default: the run's)")
    p.add_argument("--temperature", type=float, help="sampling temperature (default: the run's)")
    p.add_argument("--seed", type=int, help="sampling seed (default: the run's seed, as the analysis re-samples)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda[:N]")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--out", help="CSV with one row per sample")
    p.set_defaults(func=cmd_evaluate)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ConfigError, CheckpointError, TrainingDiverged, OSError, ValueError, RuntimeError) as err:
        message = str(err)
        if isinstance(err, OSError) and err.filename:  # the system's own: say which path, and the usual cause
            message = f"{err.strerror}: {err.filename2 or err.filename}"
            if isinstance(err, (FileExistsError, IsADirectoryError, NotADirectoryError)):
                message += " (an --out that is an existing file where a folder is meant, or the other way round?)"
        print(f"toobig {args.command}: error: {message}", file=sys.stderr)
        return 2
    return 0
