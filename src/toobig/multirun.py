"""Several runs of one task and shape trained together in one process: parameters stacked along a run axis.

The n-models have 1,500-50,000 parameters; one of them leaves a GPU idle. A stack of R runs (different seeds,
or the main and controlled regimes, which differ for n-models only in weight decay) trains as one model
whose every parameter has a leading run dimension of size R:

  * the forward pass is the project's own GPT (model.py), called once per run through torch.func's
    functional_call and batched over the run axis with vmap: the same code, R times wider;
  * the backward pass is one backward of the sum of the R losses (each run's loss depends only on its own
    slice, so each slice receives exactly its own run's gradient);
  * gradient clipping is per run (each run's global norm over its own slices);
  * one fused AdamW steps all stacked tensors; weight decay is decoupled and per run (AdamW's
    p *= 1 - lr * wd, applied per slice before the Adam update, as torch's AdamW does it);
  * every run draws its batches from its own generator, seeded exactly as Trainer seeds it, so each run sees
    exactly the batches its single run would see;
  * each run keeps a Trainer of its own (initialised exactly as the single run), whose model receives the
    run's slice at evaluation and checkpoint points: evaluation, metrics.csv, timing.csv, best.pt, resume.pt
    and provenance.json are the single run's code and format. A stacked run's resume.pt can be resumed by a
    single `toobig train` and the other way round.

Equality with the runs trained one by one. The initial weights, batches, learning rates and evaluation
generators are identical. The batched matmuls of the stack may sum in another order than the single run's,
so float32 results agree to rounding, not bit for bit: on the CPU the losses of a few dozen iterations agree
within 1e-5 relative and a tiny run's evaluation counts are identical (tests/test_multirun.py). Rounding
differences can grow over a long chaotic training run, as between two machines; a stack is a faster way to
get runs of the same distribution, and single runs remain the pipeline's default (`stack_runs: false`).
On CUDA under bf16 autocast the per-step losses of a stacked and a single run agree to bf16 rounding
(about 1e-2 relative per step, 8 mantissa bits), the same tolerance as two single CUDA runs with different
kernels; this expectation is not measured yet (the GPU sessions so far trained the MLT, which is not stacked).

What can be stacked: runs of one task and one model whose settings differ only in seed, regime and
weight_decay, with dropout 0 (dropout draws from the global torch generator in an order a stack cannot
reproduce). Anything else stops with a StackError naming the setting.
"""
from __future__ import annotations

import copy
import math
import os
import sys
import time
from pathlib import Path

import torch
from torch.func import functional_call, vmap

from .checkpoint import CheckpointError, load_checkpoint, make_checkpoint
from .config import RunConfig
from .fsutil import atomic_torch_save
from .train import Trainer, _write_rows, get_lr, pick_device

# settings in which the runs of one stack may differ; everything else must be equal
MAY_DIFFER = ("seed", "regime", "weight_decay")
STAGED = "resume.next.pt"  # each run's new resume checkpoint, renamed to resume.pt once every run has one


class StackError(ValueError):
    """The runs given cannot be trained as one stack."""


def check_stackable(cfgs: list[RunConfig]) -> None:
    """Raise StackError unless the runs share task, shape and every setting but seed, regime and weight decay."""
    if not cfgs:
        raise StackError("a stack needs at least one run")
    first = cfgs[0].to_dict()
    tag = lambda c: f"{c.task}/{c.model}/{c.regime}/seed{c.seed}"
    for cfg in cfgs[1:]:
        other = cfg.to_dict()
        differ = [k for k in first if k not in MAY_DIFFER and first[k] != other[k]]
        if differ:
            shown = ", ".join(f"{k}: {first[k]!r} vs {other[k]!r}" for k in differ)
            raise StackError(f"runs {tag(cfgs[0])} and {tag(cfg)} cannot share a stack: they differ in {shown}; "
                             f"a stack holds runs of one task and model that differ only in {', '.join(MAY_DIFFER)}")
    for cfg in cfgs:
        if cfg.dropout != 0:
            raise StackError(f"run {tag(cfg)} has dropout {cfg.dropout}; only runs without dropout can be stacked "
                             "(their dropout masks could not equal the single runs'); train it with `toobig train`")
    seen = set()
    for cfg in cfgs:
        if (cfg.regime, cfg.seed, cfg.weight_decay) in seen:
            raise StackError(f"run {tag(cfg)} appears twice in the stack")
        seen.add((cfg.regime, cfg.seed, cfg.weight_decay))


def _checkpoint_iter(path: Path) -> int | None:
    """The iteration a resume checkpoint was written at, or None when it is missing or unreadable."""
    if not path.exists():
        return None
    try:
        return int(load_checkpoint(path, expect_kind="resume")["iter"])
    except (CheckpointError, KeyError, TypeError, ValueError):
        return None


class StackedTrainer:
    """Train several runs as one stack. Create it with one RunConfig and one output folder per run, then run()."""

    def __init__(self, cfgs: list[RunConfig], data_dir: str | Path, out_dirs: list[str | Path], device: str = "auto",
                 log=None, cuda_graphs: bool = False):
        cfgs = list(cfgs)
        if len(cfgs) != len(out_dirs):
            raise StackError(f"{len(cfgs)} run configs but {len(out_dirs)} output folders")
        check_stackable(cfgs)
        if len({Path(o).resolve() for o in out_dirs}) != len(out_dirs):
            raise StackError("two runs of the stack were given the same output folder")
        self.device = pick_device(device)
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        # one Trainer per run: initialised exactly as the single run (seed, model, generators), it evaluates and
        # writes the run's files; its model holds the run's weights only at evaluation and checkpoint points
        self.members = [Trainer(c, data_dir, o, device=self.device, log=self.log) for c, o in zip(cfgs, out_dirs)]
        self.cfg = cfgs[0]  # the settings all runs share
        template = self.members[0].model
        self.template = copy.deepcopy(template)  # the module functional_call runs with stacked weights
        for block in self.template.transformer.h:
            # explicit attention has plain vmap batching rules on every device (sdpa's vary by kernel and torch)
            block.attn.attention = "explicit"
        self.names = [n for n, _ in template.named_parameters()]  # tied weights appear once
        self.member_params = [dict(m.model.named_parameters()) for m in self.members]
        self.params = {n: torch.nn.Parameter(torch.stack([mp[n].detach() for mp in self.member_params]).clone())
                       for n in self.names}
        decay = [self.params[n] for n in self.names if self.params[n].dim() >= 3]  # >= 2-D per run
        no_decay = [self.params[n] for n in self.names if self.params[n].dim() < 3]
        # weight decay is applied per run in step(); the optimizer itself decays nothing
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.0},
                                            {"params": no_decay, "weight_decay": 0.0}],
                                           lr=self.cfg.learning_rate, betas=(self.cfg.beta1, self.cfg.beta2),
                                           fused=True)
        self.decay_params = decay
        self.weight_decays = [c.weight_decay for c in cfgs]
        self.autocast = self.members[0].autocast
        self.cuda_graphs = bool(cuda_graphs and self.cfg.compile and self.device.startswith("cuda"))
        self.step_fn = (torch.compile(self._losses, mode="reduce-overhead") if self.cuda_graphs
                        else torch.compile(self._losses) if self.cfg.compile else self._losses)
        self.loss_acc = None  # CUDA: running per-run loss sums on the device, flushed at evaluation points
        self.loss_count = 0
        self.iter = 0

    @property
    def runs(self) -> int:
        return len(self.members)

    # ---- the stacked step ------------------------------------------------------------------------
    def _losses(self, params: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(R,) losses of R runs on their own (R, B, T) batches."""
        def one(p, xb, yb):
            return functional_call(self.template, p, (xb, yb))[1]

        with self.autocast:
            return vmap(one)(params, x, y)

    def get_batches(self):
        """Each run's batch from its own generator, exactly as its single run draws it; stacked to (R, B, T)."""
        xs, ys = zip(*(m.get_batch(m.gens["batches"]) for m in self.members))
        return torch.stack(xs), torch.stack(ys)

    def forward(self) -> torch.Tensor:
        """Draw every run's batch and compute the (R,) losses: the first half of one training step."""
        x, y = self.get_batches()
        if self.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()  # the previous step's graph outputs are no longer read
        return self.step_fn(self.params, x, y)

    def update(self, losses: torch.Tensor, lr: float) -> None:
        """Backward, per-run clipping and weight decay, one AdamW step: the second half of one training step."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        losses.sum().backward()
        if self.cfg.grad_clip > 0:
            self._clip_gradients()
        self._decay(lr)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def _clip_gradients(self) -> None:
        """clip_grad_norm_ per run: each run's global norm over its own slices, scale min(1, max / (norm + 1e-6))."""
        grads = [self.params[n].grad for n in self.names if self.params[n].grad is not None]
        norms = torch.stack([g.flatten(1).norm(dim=1) for g in grads])  # (P, R)
        total = norms.norm(dim=0)  # (R,)
        coef = (self.cfg.grad_clip / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.view(-1, *[1] * (g.dim() - 1)).to(g.dtype))

    def _decay(self, lr: float) -> None:
        """AdamW's decoupled weight decay p *= 1 - lr * wd, per run (factor computed in double, as torch does)."""
        if not any(self.weight_decays):
            return
        factors = torch.tensor([1.0 - lr * wd for wd in self.weight_decays], device=self.device)
        with torch.no_grad():
            for p in self.decay_params:
                p.mul_(factors.to(p.dtype).view(-1, *[1] * (p.dim() - 1)))

    # ---- moving state between the stack and the runs -----------------------------------------------
    @torch.no_grad()
    def _to_members(self, optimizer: bool = False) -> None:
        for r, (m, mp) in enumerate(zip(self.members, self.member_params)):
            m.iter = self.iter
            for n in self.names:
                mp[n].copy_(self.params[n][r])
                state = self.optimizer.state.get(self.params[n])
                if optimizer and state:
                    m.optimizer.state[mp[n]] = {k: (v.clone() if v.dim() == 0 else v[r].clone())
                                                for k, v in state.items()}
            if optimizer:
                for group in m.optimizer.param_groups:
                    group["lr"] = self.optimizer.param_groups[0]["lr"]

    @torch.no_grad()
    def _from_members(self) -> None:
        for n in self.names:
            self.params[n].copy_(torch.stack([mp[n] for mp in self.member_params]))
            states = [m.optimizer.state.get(mp[n]) for m, mp in zip(self.members, self.member_params)]
            if all(states):
                self.optimizer.state[self.params[n]] = {
                    k: (states[0][k].clone() if states[0][k].dim() == 0 else torch.stack([s[k] for s in states]))
                    for k in states[0]}
            elif any(states):
                raise StackError("the runs' resume checkpoints disagree: some hold optimizer state, some not")

    # ---- checkpoints -------------------------------------------------------------------------------
    def _settle_resume_files(self) -> None:
        """Finish or undo a checkpoint that a kill interrupted: every run ends at one common iteration.

        New resume checkpoints are first written as resume.next.pt in every run folder, then renamed to
        resume.pt one by one. A kill before the renames leaves the old resume.pt files (the staged ones are
        dropped); a kill during them leaves some runs renamed and some staged: the staged ones are renamed."""
        staged = [(m.out / STAGED, m.out / "resume.pt") for m in self.members]
        target = max((i for i in (_checkpoint_iter(s) for s, _ in staged) if i is not None), default=None)
        if target is not None and all(_checkpoint_iter(s) == target or _checkpoint_iter(r) == target
                                      for s, r in staged):
            for s, r in staged:
                if s.exists():
                    os.replace(s, r)
        for s, _ in staged:
            if s.exists():
                s.unlink()

    def _save_resume(self, wall: float) -> None:
        self._flush_losses()
        self._to_members(optimizer=True)
        for m in self.members:  # before any resume.pt is replaced: a NaN state never replaces a good one
            m._check_finite_weights(self.iter)
        for m in self.members:
            m.save_resume(wall, m.out / STAGED)
        for m in self.members:
            os.replace(m.out / STAGED, m.out / "resume.pt")

    def _flush_losses(self) -> None:
        """CUDA: move the device-side loss sums into each run's (sum, count); one sync, at evaluation points."""
        if self.loss_acc is None or not self.loss_count:
            return
        for m, value in zip(self.members, self.loss_acc.tolist()):
            m.loss_sum = [float(m.loss_sum[0]) + value, m.loss_sum[1] + self.loss_count]
        self.loss_acc.zero_()
        self.loss_count = 0

    # ---- the loop ----------------------------------------------------------------------------------
    def run(self, stop_after: int | None = None) -> list[dict]:
        """Train every run to max_iters (or stop before iteration stop_after, for tests); the best row of each."""
        cfg = self.cfg
        for m in self.members:
            m.out.mkdir(parents=True, exist_ok=True)
            for stale in m.out.glob(".*.tmp"):
                stale.unlink()
        self._settle_resume_files()
        for m in self.members:
            m.try_resume()
        iters = {m.tag: m.iter for m in self.members}
        if len(set(iters.values())) > 1:
            raise StackError("the runs' resume checkpoints are at different iterations "
                             f"({', '.join(f'{t}: {i}' for t, i in iters.items())}); a stack resumes only runs that "
                             "stopped together: train them one by one with `toobig train`, or delete their resume.pt")
        self.iter = self.members[0].iter
        self._from_members()
        wall_before = max(m.wall_before for m in self.members)
        t0 = time.perf_counter() - wall_before
        self.template.train()
        cuda = self.device.startswith("cuda")
        if cuda:
            self.loss_acc = torch.zeros(self.runs, device=self.device)
        tags = ", ".join(m.tag for m in self.members)
        self.log(f"[stack of {self.runs}] {tags} on {self.device}, from iteration {self.iter}")
        while self.iter <= cfg.max_iters:
            it = self.iter
            if stop_after is not None and it >= stop_after:
                return []
            first = self.members[0]
            if it % cfg.checkpoint_interval == 0 and it > 0 and not (first.rows and first.rows[-1]["iter"] >= it):
                self._save_resume(time.perf_counter() - t0)
            lr = get_lr(it, cfg)
            rows = None
            if it % cfg.eval_interval == 0:
                self._flush_losses()
                self._to_members()
                rows, new_best = zip(*[self._evaluate_member(m, it, lr) for m in self.members])
            losses = self.forward()
            values = None
            if cuda:
                self.loss_acc += losses.detach().float()  # stays on the GPU: no sync per step
                self.loss_count += 1
            if not cuda or rows is not None:
                values = losses.detach().float().tolist()  # free on the CPU; on CUDA only at evaluation points
                for m, v in zip(self.members, values):
                    if not cuda:
                        m.loss_sum[0] += v
                        m.loss_sum[1] += 1
                    if not math.isfinite(v):
                        raise self._diverged(m, f"the loss is {v} at iteration {it}")
            self.update(losses, lr)
            if rows is not None:
                wall = time.perf_counter() - t0
                for m, row, v, best in zip(self.members, rows, values, new_best):
                    if best:  # best.pt with its row, once this step's loss is known to be finite
                        atomic_torch_save(m.best_ckpt, m.out / "best.pt")
                    row["batch_loss"] = v
                    m.rows.append(row)
                    m.timings.append({"iter": it, "wall_s": round(wall, 3)})
                    _write_rows(m.out / "metrics.csv", m.rows)
                    _write_rows(m.out / "timing.csv", m.timings, ("iter", "wall_s"),
                                lambda r: f"{r['iter']},{r['wall_s']}")
                    self.log(m._progress_line(row, wall))
            self.iter += 1
        wall = time.perf_counter() - t0
        self._save_resume(wall)
        bests = []
        for m in self.members:
            best = max(m.rows, key=lambda r: (r["score"], -r["iter"]))
            m._write_provenance(wall, best, stacked_with=[o.tag for o in self.members if o is not m],
                                wall_seconds_note="wall time of the whole stack")
            bests.append(best)
        return bests

    def _evaluate_member(self, m: Trainer, it: int, lr: float) -> tuple[dict, bool]:
        """The single run's evaluation and best-checkpoint rule, on the run's slice of the stack: (its row, whether
        it is a new best, which run() saves once the step's loss is known to be finite)."""
        m._check_finite_weights(it)  # names the run when its weights are NaN
        row = m.evaluate(it, lr)
        if row["score"] > m.best_score:  # strict: ties keep the earliest evaluation
            m.best_score = row["score"]
            m.best_ckpt = make_checkpoint("best", m.model, m.cfg, m.vocab.chars, iter=it, score=m.best_score)
            m.best_ckpt["model"] = {k: v.detach().clone() for k, v in m.best_ckpt["model"].items()}
            return row, True
        return row, False

    def _diverged(self, m: Trainer, what: str):
        err = m._diverged(what)
        others = [o.tag for o in self.members if o is not m]
        if others:
            err.args = (err.args[0] + f" (the other runs of the stack, {', '.join(others)}, stopped with it; "
                        "their files keep their evaluations so far)",)
        return err


def stack_run_configs(config: dict, task: str, model: str, seed: int) -> list[dict]:
    """The settings of every configured regime of (task, model, seed), as the pipeline's stacked rule passes them."""
    from .config import resolve_run

    return [resolve_run(config, task, model, regime, seed).to_dict() for regime in config["regimes"]]


def train_many(runs: list[dict], data_dir, out_dirs, device: str = "auto", threads: int = 1,
               cuda_graphs: bool = False) -> list[dict]:
    """Train a stack from dicts of run settings (what the pipeline's rule passes); the best row of each run."""
    from .config import run_config_from_dict

    torch.set_num_threads(threads)
    cfgs = [run_config_from_dict(r) for r in runs]
    return StackedTrainer(cfgs, data_dir, out_dirs, device=device, cuda_graphs=cuda_graphs).run()
