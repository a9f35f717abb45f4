"""Training and evaluation speed of one run, ours beside a plain nanoGPT-style reference, in one process.

    python benchmarks/train_speed.py                         # n14 arithmetic on the CPU, one thread
    python benchmarks/train_speed.py --task capitals --model n28 --iters 300
    python benchmarks/train_speed.py --device cuda --model mlt
    python benchmarks/train_speed.py --stacks 2,4,8                # also R seeds trained as one stack
    python benchmarks/train_speed.py --profile                     # where our step's time goes

Reference = what the authors' script does: nanoGPT's model with torch's scaled_dot_product_attention,
foreach AdamW, a get_batch that stacks windows one by one, and one generate() call per prompt and sample.
Ours = the project's Trainer (explicit attention on the CPU, fused AdamW, windows indexed in one op, one
batched generate per evaluation, optionally torch.compile). Figures are medians of timed repetitions.
The projected full-run time is 30,001 steps + 121 evaluations + 61 loss estimates.
With --stacks, R runs (seeds 1337..) train as one stack (toobig.multirun, one process, one thread); its rows
give the time per run: the stack's step divided by R, plus each run's own evaluations and loss estimates.
With --profile, torch.profiler splits our last variant's step into compiled kernels, matmuls, optimizer and
the rest (self CPU time per step), which shows what a faster step would have to shrink.
Last, the floor: the matmuls one eager step dispatches, replayed bare on tensors of the same shapes and strides
(nothing else), beside the time per step that a full run within --target-min minutes leaves once our
evaluations, loss estimates and start-up are counted. When the first exceeds the second, no change outside
torch's matmul kernels reaches the target.
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from toobig.config import load_config, resolve_run
from toobig.data import write_dataset
from toobig.evaluate import judge
from toobig.model import GPT
from toobig.multirun import StackedTrainer
from toobig.train import Trainer

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeats: int) -> float:
    """Median seconds of fn() over repeats calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


class ReferenceLoop:
    """The plain loop: nanoGPT's train.py step and its per-prompt sampling, on our model class."""

    def __init__(self, trainer: Trainer):
        self.t = trainer
        cfg = trainer.cfg
        gcfg = dataclasses.replace(trainer.model.config, attention="sdpa")
        torch.manual_seed(cfg.seed)
        self.model = GPT(gcfg).to(trainer.device)
        params = [p for p in self.model.parameters()]
        self.opt = torch.optim.AdamW(
            [{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
             {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
            lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2), foreach=True)
        self.data = trainer.data

    def get_batch(self):
        cfg = self.t.cfg
        ix = torch.randint(len(self.data) - cfg.block_size, (cfg.batch_size,))
        x = torch.stack([self.data[i:i + cfg.block_size] for i in ix])
        y = torch.stack([self.data[i + 1:i + 1 + cfg.block_size] for i in ix])
        return x, y

    def step(self):
        x, y = self.get_batch()
        with self.t.autocast:
            _, loss = self.model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.t.cfg.grad_clip)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        loss.item()

    @torch.no_grad()
    def generate_one(self, ids, new_tokens):
        cfg = self.t.cfg
        idx = torch.tensor([ids], device=self.t.device)
        for _ in range(new_tokens):
            logits, _ = self.model(idx[:, -cfg.block_size:])
            logits = logits[:, -1, :] / cfg.temperature
            v, _ = torch.topk(logits, min(cfg.top_k, logits.size(-1)))
            logits[logits < v[:, [-1]]] = -float("inf")
            nxt = torch.multinomial(torch.softmax(logits, dim=-1), 1)
            idx = torch.cat((idx, nxt), dim=1)
        return idx[0, len(ids):].tolist()

    def evaluate(self):
        cfg, vocab = self.t.cfg, self.t.vocab
        self.model.eval()
        for p in self.t.prompts:
            new = cfg.arithmetic_new_tokens if p.kind != "facts" else cfg.capitals_new_tokens
            for _ in range(cfg.samples_per_prompt):
                judge(p, vocab.decode(self.generate_one(vocab.encode(p.text), new)))
        self.model.train()


STEP_PARTS = (  # (label, test on a profiler event name); an event counts toward the first part that matches
    ("compiled kernels (inductor C++)", lambda n: n.startswith("## Call CompiledFxGraph")),
    ("matmuls (mm, addmm, bmm)", lambda n: n in ("aten::mm", "aten::addmm", "aten::bmm")),
    ("optimizer and clipping", lambda n: n.startswith(("Optimizer.", "aten::_fused_adam", "aten::_foreach_",
                                                        "aten::linalg_vector_norm"))),
    ("everything else (eager ops, dispatch)", lambda n: True),
)


def print_step_profile(name: str, step, iters: int) -> None:
    """Self CPU time per step by kind of work, from torch.profiler over `iters` steps."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(iters):
            step()
    spent = dict.fromkeys((label for label, _ in STEP_PARTS), 0.0)
    for event in prof.key_averages():
        label = next(label for label, match in STEP_PARTS if match(event.key))
        spent[label] += event.self_cpu_time_total / 1e3 / iters  # us over all steps -> ms per step
    total = sum(spent.values())
    print(f"step profile of {name}, {iters} steps (self CPU ms/step; the profiler adds some overhead):")
    for label, ms in spent.items():
        print(f"  {label:40s} {ms:7.2f} {100 * ms / total:5.1f}%")
    print(f"  {'total':40s} {total:7.2f}")


MATMULS = (torch.ops.aten.mm.default, torch.ops.aten.addmm.default, torch.ops.aten.bmm.default)


class RecordMatmuls(TorchDispatchMode):
    """Notes each matmul dispatched inside it (forward and backward), with its operands' shapes and strides."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in MATMULS:
            self.calls.append((func, [(a.shape, a.stride()) if isinstance(a, torch.Tensor) else a for a in args]))
        return func(*args, **(kwargs or {}))


def matmul_floor(step, device: str, iters: int) -> tuple[int, float]:
    """(number of matmuls in one step, seconds to run just those) -- the step's matmuls replayed bare."""
    with RecordMatmuls() as record:
        step()
    calls = [(func, [torch.empty_strided(*a, device=device).normal_() if isinstance(a, tuple) else a for a in args])
             for func, args in record.calls]

    def replay():
        for func, args in calls:
            func(*args)

    return len(calls), timed(lambda: [replay() for _ in range(iters)], 3) / iters


def set_inductor_option(option: str) -> None:
    import torch._inductor.config as inductor_config

    key, sep, text = option.partition("=")
    *parents, leaf = key.split(".")
    try:
        owner = functools.reduce(getattr, parents, inductor_config)
        getattr(owner, leaf)
    except AttributeError:
        raise SystemExit(f"--inductor {option}: torch._inductor.config has no option '{key}'")
    if not sep:
        raise SystemExit(f"--inductor {option}: expected KEY=VALUE, e.g. cpp_wrapper=True")
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text  # a plain string such as max_autotune_gemm_backends=CPP,ATEN
    setattr(owner, leaf, value)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="arithmetic")
    ap.add_argument("--model", default="n14")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=200, help="timed training steps per variant")
    ap.add_argument("--evals", type=int, default=3, help="timed evaluations per variant")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    ap.add_argument("--stacks", default="", help="comma-separated stack sizes R to time (e.g. 2,4,8)")
    ap.add_argument("--profile", action="store_true", help="also split our step's time by kind of work")
    ap.add_argument("--target-min", type=float, default=2.0,
                    help="full-run minutes the floor line compares with (issue 3's target: 2)")
    ap.add_argument("--inductor", action="append", default=[], metavar="KEY=VALUE",
                    help="set a torch._inductor.config option before compiling, e.g. cpp_wrapper=True or "
                         "max_autotune=True (repeatable)")
    args = ap.parse_args(argv)
    stacks = [int(r) for r in args.stacks.split(",") if r.strip()]
    torch.set_num_threads(args.threads)
    for option in args.inductor:
        set_inductor_option(option)

    config = load_config(ROOT / "config.yaml")
    data_dir = Path(tempfile.mkdtemp()) / args.task
    write_dataset(args.task, config["data"], data_dir)
    base = resolve_run(config, args.task, args.model, "main", 1337)
    variants = {"ours (eager)": dataclasses.replace(base, compile=False)}
    if not args.no_compile:
        variants["ours (torch.compile)"] = dataclasses.replace(base, compile=True)

    rows = []
    for name, cfg in variants.items():
        tr = Trainer(cfg, data_dir, Path(tempfile.mkdtemp()), args.device, log=lambda m: None)

        def step(tr=tr):
            x, y = tr.get_batch(tr.gens["batches"])
            loss = tr.step_fn(x, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(tr.model.parameters(), tr.cfg.grad_clip)
            tr.optimizer.step()
            tr.optimizer.zero_grad(set_to_none=True)
            loss.item()

        t0 = time.perf_counter()
        step(), tr.evaluate(0, 0.0)  # compile (if any) happens here
        warm = time.perf_counter() - t0
        step_s = timed(lambda: [step() for _ in range(args.iters)], 3) / args.iters
        eval_s = timed(lambda: tr.evaluate(250, 0.0), args.evals)
        loss_s = timed(tr.estimate_val_loss, 1)
        rows.append((name, step_s, eval_s, loss_s, warm))
        profiled = (name, step)
        if name == "ours (eager)":
            floor = matmul_floor(step, args.device, args.iters)
            ref = ReferenceLoop(tr)
            ref_step = timed(lambda: [ref.step() for _ in range(args.iters)], 3) / args.iters
            ref_eval = timed(ref.evaluate, 1)
            rows.insert(0, ("reference (plain loop)", ref_step, ref_eval, loss_s * 2, 0.0))
    single = rows[-1]  # the stack's runs evaluate and estimate losses with the single run's code
    for r in stacks:
        cfgs = [dataclasses.replace(base, seed=base.seed + i, compile=not args.no_compile) for i in range(r)]
        st = StackedTrainer(cfgs, data_dir, [Path(tempfile.mkdtemp()) for _ in cfgs], args.device, log=lambda m: None)

        def stack_step(st=st):
            losses = st.forward()
            losses.detach().float().tolist()
            st.update(losses, base.learning_rate)

        t0 = time.perf_counter()
        stack_step()  # compile (if any) happens here
        warm = time.perf_counter() - t0
        step_s = timed(lambda: [stack_step() for _ in range(args.iters)], 3) / args.iters
        rows.append((f"ours, stack of {r} (per run)", step_s / r, single[2], single[3], warm / r))

    if args.profile:
        print_step_profile(*profiled, args.iters)
    steps, evals, losses = base.max_iters + 1, base.max_iters // base.eval_interval + 1, base.max_iters // base.loss_interval + 1

    def run_seconds(step_s, eval_s, loss_s, warm):  # a full-protocol run, projected from the timed pieces
        return steps * step_s + evals * eval_s + losses * loss_s + warm

    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"cpu, {args.threads} thread(s)"
    print(f"{args.task} {args.model} on {device}, torch {torch.__version__}")
    print(f"{'variant':26s} {'ms/iter':>8s} {'s/eval':>7s} {'s/loss-est':>10s} {'start-up s':>10s} {'full run min':>12s} {'speed-up':>8s}")
    ref_total = None
    for name, step_s, eval_s, loss_s, warm in rows:
        total = run_seconds(step_s, eval_s, loss_s, warm)
        ref_total = ref_total or total
        print(f"{name:26s} {step_s * 1e3:8.2f} {eval_s:7.3f} {loss_s:10.3f} {warm:10.1f} {total / 60:12.1f} {ref_total / total:7.1f}x")
    name, _, eval_s, loss_s, warm = single
    budget = (args.target_min * 60 - run_seconds(0.0, eval_s, loss_s, warm)) / steps
    print(f"floor: the {floor[0]} matmuls of one eager step, replayed bare: {floor[1] * 1e3:.2f} ms/step; a full run "
          f"within {args.target_min:g} min leaves {budget * 1e3:.2f} ms/step after {name}'s evaluations, loss "
          f"estimates and start-up")


if __name__ == "__main__":
    sys.exit(main())
