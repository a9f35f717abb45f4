"""Speed on one device (GPU or CPU): the MLT step and evaluation, ours beside the plain eager loop, MFU, and
projected wall times for the 24 paper runs and the 1.5M-iteration run. One command, one device, one table.

    python benchmarks/gpu.py                          # CUDA if torch sees a GPU: arithmetic MLT + every shape
    python benchmarks/gpu.py --cuda-graphs            # also the compile + CUDA graphs variant (mode="reduce-overhead")
    python benchmarks/gpu.py --device cpu --model n14 --tasks arithmetic --models n14 --iters 3 --evals 1

What is measured, all in this one process on one device:
  * headline shape (--task/--model, default arithmetic MLT): the plain eager reference loop of
    benchmarks/train_speed.py (nanoGPT's step with loss.item() every step, foreach AdamW, windows stacked one by
    one, one generate() per prompt and sample) beside our Trainer's step (eager, torch.compile, optionally CUDA
    graphs) and batched evaluation. ms/iteration is the median of 3 timed blocks of --iters steps, with a device
    synchronisation at the end of each block only (our step has no host sync inside, so this is its real rate).
  * tokens/s = batch_size * block_size / (s/iteration).
  * model-FLOPs utilisation (MFU) = FLOPs per iteration / (s/iteration) / peak. FLOPs per iteration (nanoGPT's
    estimate_mfu, after PaLM appendix B): (6 * N + 12 * L * C * T) * B * T with N the non-embedding parameter
    count (the paper's count), L layers, C = n_embd, T = block_size, B = batch_size; 6N for the matmuls forward
    and backward, 12LCT for attention scores and weighted values. Peak: bf16 dense tensor-core FLOP/s from the
    table PEAK_BF16 below, by device name; an unknown device (and every CPU) prints n/a.
  * projections: each (task, model) shape of the paper trained with our step (n-models as one stack of their
    main + controlled runs unless --no-stack; the MLT one run at a time, its main regime has dropout), its
    evaluation and loss estimate, over 30,001 steps, 121 evaluations and 61 loss estimates per run, plus the
    measured start-up (compilation). The 1.5M-iteration run (appendix B) is the headline shape's figures over
    1,500,001 steps, 6,001 evaluations and 3,001 loss estimates.
"""
from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_speed import ReferenceLoop, timed  # noqa: E402

from toobig.config import MODELS, TASKS, load_config, resolve_run  # noqa: E402
from toobig.data import write_dataset  # noqa: E402
from toobig.multirun import StackedTrainer  # noqa: E402
from toobig.train import Trainer, pick_device  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# bf16 dense (no sparsity) tensor-core peak, FLOP/s, from the vendors' data sheets; first matching name wins
PEAK_BF16 = (
    ("H100 PCIe", 756e12),
    ("H100 NVL", 835e12),
    ("H100", 989e12),  # SXM
    ("H200", 989e12),
    ("GH200", 989e12),
    ("A100", 312e12),
    ("RTX 4090", 165e12),
)
FULL = dict(steps=30_001, evals=121, losses=61)  # one paper run: iterations 0..30000, eval every 250, loss every 500
LONG = dict(steps=1_500_001, evals=6_001, losses=3_001)  # appendix B: 1.5M iterations, eval every 250, loss every 500


def peak_flops(device: str) -> tuple[str, float | None]:
    if not device.startswith("cuda"):
        return f"cpu ({platform.machine()}, {torch.get_num_threads()} thread(s))", None
    name = torch.cuda.get_device_name(device)
    return name, next((peak for key, peak in PEAK_BF16 if key in name), None)


def flops_per_iter(cfg, n_params: int) -> float:
    tokens = cfg.batch_size * cfg.block_size
    return (6 * n_params + 12 * cfg.n_layer * cfg.n_embd * cfg.block_size) * tokens


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def ours_step(tr: Trainer) -> None:
    """The Trainer's step as Trainer.run does it between evaluations (no host sync on CUDA)."""
    x, y = tr.get_batch(tr.gens["batches"])
    if tr.cuda_graphs:
        torch.compiler.cudagraph_mark_step_begin()
    loss = tr.step_fn(x, y)
    if tr.device.startswith("cuda"):
        tr.loss_sum[0] = tr.loss_sum[0] + loss.detach().float()
    else:
        loss.item()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(tr.model.parameters(), tr.cfg.grad_clip)
    tr.optimizer.step()
    tr.optimizer.zero_grad(set_to_none=True)


def stacked_step(st: StackedTrainer, lr: float) -> None:
    losses = st.forward()
    if not st.device.startswith("cuda"):
        losses.tolist()
    st.update(losses, lr)


def measure_trainer(tr: Trainer, iters: int, evals: int) -> dict:
    device = tr.device
    t0 = time.perf_counter()
    ours_step(tr), tr.evaluate(0, 0.0)  # compilation (if any) happens here
    sync(device)
    warm = time.perf_counter() - t0
    step_s = timed(lambda: [ours_step(tr) for _ in range(iters)], 3) / iters
    eval_s = timed(lambda: tr.evaluate(250, 0.0), evals)
    loss_s = timed(tr.estimate_val_loss, 1)
    return dict(step_s=step_s, eval_s=eval_s, loss_s=loss_s, warm=warm)


def print_step_profile(name: str, step, iters: int, device: str, top: int = 12) -> None:
    """torch.profiler over `iters` steps: wall time, the time the device was busy (on CUDA: the kernels' own time;
    far below the wall time means the host cannot launch fast enough), and the `top` kernels or ops by own time."""
    from torch.profiler import ProfilerActivity, profile

    cuda = device.startswith("cuda")
    step(), sync(device)
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])) as prof:
        for _ in range(iters):
            step()
        sync(device)
    wall_ms = (time.perf_counter() - t0) * 1e3 / iters
    own = "self_device_time_total" if cuda else "self_cpu_time_total"
    events = sorted((e for e in prof.key_averages() if getattr(e, own) > 0), key=lambda e: -getattr(e, own))
    busy_ms = sum(getattr(e, own) for e in events) / 1e3 / iters if cuda else None
    print(f"step profile of {name}, {iters} steps under torch.profiler: {wall_ms:.3f} ms/step wall"
          + (f", device busy {busy_ms:.3f} ms/step ({100 * busy_ms / wall_ms:.0f}%)" if cuda else ""))
    print(f"  {'kernel' if cuda else 'op':70s} {'ms/step':>8s} {'calls/step':>10s}")
    for e in events[:top]:
        print(f"  {e.key[:70]:70s} {getattr(e, own) / 1e3 / iters:8.3f} {e.count / iters:10.1f}")


def run_seconds(m: dict, counts: dict, runs: int = 1) -> float:
    """Wall seconds of `runs` runs trained by one step (a stack when runs > 1): steps once, evaluations per run."""
    return counts["steps"] * m["step_s"] + runs * (counts["evals"] * m["eval_s"] + counts["losses"] * m["loss_s"]) \
        + m["warm"]


def fmt_mfu(flops: float, step_s: float, peak: float | None) -> str:
    return "n/a" if peak is None else f"{100 * flops / step_s / peak:.1f}%"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", help="auto (CUDA when torch sees one), cpu or cuda[:N]")
    ap.add_argument("--task", default="arithmetic", choices=TASKS, help="headline shape's task")
    ap.add_argument("--model", default="mlt", choices=MODELS, help="headline shape's model")
    ap.add_argument("--tasks", default=",".join(TASKS), help="tasks of the projection (comma-separated)")
    ap.add_argument("--models", default=",".join(MODELS), help="models of the projection (comma-separated)")
    ap.add_argument("--iters", type=int, default=50, help="steps per timed block (3 blocks, after one warm-up)")
    ap.add_argument("--evals", type=int, default=3, help="timed evaluations per variant")
    ap.add_argument("--ref-evals", type=int, default=1, help="timed evaluations of the reference loop (slow)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--no-compile", action="store_true", help="eager only (fast start-up; no compile variant)")
    ap.add_argument("--cuda-graphs", action="store_true", help="also time compile + CUDA graphs (CUDA only)")
    ap.add_argument("--no-stack", action="store_true", help="project n-model runs one at a time, not stacked")
    ap.add_argument("--profile", action="store_true",
                    help="profile the fastest variant's step: device busy time and the kernels that take it")
    ap.add_argument("--no-projection", action="store_true",
                    help="skip the per-shape projection (each shape compiles anew); the 1.5M-iteration line stays")
    ap.add_argument("--samples", type=int, help="samples per prompt (default: the protocol's 10; tests use 1)")
    ap.add_argument("--loss-batches", type=int, help="batches per loss estimate (default: the protocol's 100)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    name, peak = peak_flops(device)
    config = load_config(ROOT / "config.yaml")
    tmp = Path(tempfile.mkdtemp(prefix="toobig-bench-"))
    data = {}

    def data_dir(task):
        if task not in data:
            data[task] = tmp / "data" / task
            write_dataset(task, config["data"], data[task])
        return data[task]

    def trainer(cfg, **kw):
        return Trainer(cfg, data_dir(cfg.task), tempfile.mkdtemp(dir=tmp), device, log=lambda m: None, **kw)

    precision = "bf16 autocast" if device.startswith("cuda") else "float32"
    print(f"device: {name}; peak bf16 dense: {'n/a' if peak is None else f'{peak / 1e12:.0f} TFLOP/s'}; "
          f"torch {torch.__version__}; precision {precision}")

    # ---- headline shape: reference beside ours --------------------------------------------------------
    small = {k: v for k, v in (("samples_per_prompt", args.samples), ("loss_batches", args.loss_batches)) if v}

    def run_cfg(task, model, regime):
        return dataclasses.replace(resolve_run(config, task, model, regime, 1337), **small)

    base = run_cfg(args.task, args.model, "main")
    eager = dataclasses.replace(base, compile=False)
    tr = trainer(eager)
    n_params = tr.model.num_params()
    flops = flops_per_iter(base, n_params)
    tokens = base.batch_size * base.block_size
    print(f"FLOPs/iteration = (6*N + 12*L*C*T) * B*T with N={n_params:,} L={base.n_layer} C={base.n_embd} "
          f"T={base.block_size} B={base.batch_size}: {flops:.3e}")
    ref = ReferenceLoop(tr)
    t0 = time.perf_counter()
    ref.step()
    sync(device)
    ref_warm = time.perf_counter() - t0
    rows = [("reference (plain eager loop)",
             dict(step_s=timed(lambda: [ref.step() for _ in range(args.iters)], 3) / args.iters,
                  eval_s=timed(ref.evaluate, args.ref_evals), loss_s=None, warm=ref_warm))]
    variants = {"ours (eager)": tr}
    if not args.no_compile:
        variants["ours (torch.compile)"] = trainer(base)
        if args.cuda_graphs and device.startswith("cuda"):
            variants["ours (compile + CUDA graphs)"] = trainer(base, cuda_graphs=True)
    ours = {name: measure_trainer(t, args.iters, args.evals) for name, t in variants.items()}
    rows[0][1]["loss_s"] = ours["ours (eager)"]["loss_s"]  # the reference estimates loss the same way, unbatched
    rows += list(ours.items())
    best_name, best = min(ours.items(), key=lambda kv: run_seconds(kv[1], FULL))
    if small:
        print(f"NOTE: evaluation settings shrunk for a quick check ({small}); s/eval and projections are not the protocol's")
    print(f"headline: {args.task}/{args.model}, one run = {FULL['steps']:,} steps + {FULL['evals']} evaluations + "
          f"{FULL['losses']} loss estimates")
    print(f"{'variant':30s} {'ms/iter':>9s} {'tokens/s':>11s} {'MFU':>6s} {'s/eval':>8s} {'s/loss-est':>10s} "
          f"{'start-up s':>10s} {'run min':>8s} {'speed-up':>8s}")
    ref_total = run_seconds(rows[0][1], FULL)
    for label, m in rows:
        total = run_seconds(m, FULL)
        print(f"{label:30s} {m['step_s'] * 1e3:9.3f} {tokens / m['step_s']:11.0f} {fmt_mfu(flops, m['step_s'], peak):>6s} "
              f"{m['eval_s']:8.3f} {m['loss_s']:10.3f} {m['warm']:10.1f} {total / 60:8.2f} {ref_total / total:7.1f}x")

    if args.profile:
        print_step_profile(best_name, lambda: ours_step(variants[best_name]), args.iters, device)

    # ---- projection: the paper's runs ----------------------------------------------------------------
    if not args.no_projection:  # each shape compiles anew: minutes on a GPU
        tasks = [t for t in args.tasks.split(",") if t]
        models = [m for m in args.models.split(",") if m]
        regimes = list(config["regimes"])
        print(f"projection with {'eager' if args.no_compile else 'compiled'} steps: "
              f"{len(tasks)} task(s) x {len(models)} model(s) x {len(regimes)} regime(s)")
        print(f"{'shape':18s} {'runs':>4s} {'how':>8s} {'ms/iter':>9s} {'MFU':>6s} {'s/eval':>8s} {'start-up s':>10s} "
              f"{'min':>8s}")
        total_s, n_runs = 0.0, 0
        for task in tasks:
            for model in models:
                cfgs = [dataclasses.replace(run_cfg(task, model, r), compile=not args.no_compile)
                        for r in regimes]
                stackable = not args.no_stack and len(cfgs) > 1 and all(c.dropout == 0 for c in cfgs)
                if stackable:
                    st = StackedTrainer(cfgs, data_dir(task), [tempfile.mkdtemp(dir=tmp) for _ in cfgs], device,
                                        log=lambda m: None)
                    member = st.members[0]
                    t0 = time.perf_counter()
                    stacked_step(st, 1e-3), member.evaluate(0, 0.0)
                    sync(device)
                    m = dict(warm=time.perf_counter() - t0,
                             step_s=timed(lambda: [stacked_step(st, 1e-3) for _ in range(args.iters)], 3) / args.iters,
                             eval_s=timed(lambda: member.evaluate(250, 0.0), args.evals),
                             loss_s=timed(member.estimate_val_loss, 1))
                    seconds, how, model_flops = run_seconds(m, FULL, runs=len(cfgs)), "stacked", \
                        len(cfgs) * flops_per_iter(cfgs[0], member.model.num_params())
                else:
                    t = trainer(cfgs[0])
                    m = measure_trainer(t, args.iters, args.evals)
                    seconds, how, model_flops = len(cfgs) * run_seconds(m, FULL), "one-by-1", \
                        flops_per_iter(cfgs[0], t.model.num_params())
                total_s += seconds
                n_runs += len(cfgs)
                print(f"{task + '/' + model:18s} {len(cfgs):4d} {how:>8s} {m['step_s'] * 1e3:9.3f} "
                      f"{fmt_mfu(model_flops, m['step_s'], peak):>6s} {m['eval_s']:8.3f} {m['warm']:10.1f} "
                      f"{seconds / 60:8.2f}")
        paper_runs = len(TASKS) * len(MODELS) * 2
        scope = "all 24 paper runs" if n_runs == paper_runs else f"{n_runs} of the {paper_runs} paper runs (the shapes above)"
        print(f"projected wall time, {scope}, one after another on this device: {total_s / 60:.1f} min")
    shape = "arithmetic/mlt" if (args.task, args.model) == ("arithmetic", "mlt") else \
        f"{args.task}/{args.model} (headline shape; the real run is arithmetic/mlt)"
    print(f"projected wall time, 1.5M-iteration run at {shape}: ours ({best_name}) "
          f"{run_seconds(best, LONG) / 3600:.2f} h, reference {run_seconds(rows[0][1], LONG) / 3600:.2f} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
