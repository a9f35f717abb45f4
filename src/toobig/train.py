"""The training loop: nanoGPT's schedule plus the paper's evaluation every 250 iterations.

A run directory holds
  metrics.csv      one row per evaluation (deterministic: byte-identical across identical runs on one machine)
  timing.csv       wall seconds per evaluation (kept apart so metrics.csv stays byte-identical)
  best.pt          the model at the first evaluation with the highest score
  resume.pt        everything needed to continue: model, optimizer, every RNG, rows so far, the dataset's digest
  provenance.json  git commit, config hash, dataset digest, torch version, device, wall time; written last
Every file is replaced atomically, so a killed run leaves only complete files, and a restart continues from
resume.pt to the same bytes an uninterrupted run would have written. A restart rewrites metrics.csv, timing.csv and
best.pt from resume.pt at once (Snakemake deletes a job's outputs before re-running it, a finished run's too), and
starts afresh when the dataset it reads is no longer the one resume.pt was trained on.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import TRAINING_VERSION, __version__
from .checkpoint import CheckpointError, check_vocab, load_checkpoint, make_checkpoint, require_entries
from .config import RunConfig, run_config_from_dict
from .data import read_dataset, training_prompts
from .evaluate import Vocab, sample_prompts, score, tally
from .fsutil import atomic_torch_save, atomic_write_text
from .model import GPT, GPTConfig
from .provenance import CHANGED_MARK, clear_changed_mark, is_marked_changed

METRIC_COLUMNS = (
    "iter", "lr", "score",
    "add_correct", "add_total", "add_terminated",
    "sub_correct", "sub_total", "sub_terminated",
    "heldout_correct", "heldout_total", "heldout_terminated",
    "facts_correct", "facts_total",
    "batch_loss", "train_loss", "val_loss",
)


# what try_resume reads from resume.pt besides the entries every checkpoint has
RESUME_ENTRIES = ("optimizer", "rng", "iter", "score", "rows", "timings", "wall", "loss_sum", "best")
# the parts of a dataset folder a run reads, as named in messages
DATASET_PARTS = {"train.txt": "train.txt", "evaluated_prompts": "the evaluated prompts of prompts.json"}


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def get_lr(it: int, cfg: RunConfig) -> float:
    """nanoGPT's schedule: 1) linear warm-up, 2) min_lr after lr_decay_iters, 3) cosine in between."""
    if not cfg.decay_lr:
        return cfg.learning_rate
    if it < cfg.warmup_iters:
        return cfg.learning_rate * (it + 1) / (cfg.warmup_iters + 1)
    if it > cfg.lr_decay_iters:
        return cfg.min_lr
    ratio = (it - cfg.warmup_iters) / (cfg.lr_decay_iters - cfg.warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * ratio))
    return cfg.min_lr + coeff * (cfg.learning_rate - cfg.min_lr)


def pick_device(requested: str = "auto") -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"device '{requested}' was requested but torch sees no CUDA GPU; run it on a machine with one, or ask "
            "for auto or cpu to train on the CPU anyway (the MLT and DistilGPT-2 runs need a GPU: README, \"GPU\")"
        )
    if requested != "cpu" and not requested.startswith("cuda"):
        raise ValueError(f"unknown device '{requested}'; use auto, cpu or cuda")
    return requested


def build_model(cfg: RunConfig, vocab_size: int) -> GPT:
    return GPT(GPTConfig(vocab_size=vocab_size, block_size=cfg.block_size, n_layer=cfg.n_layer, n_head=cfg.n_head,
                         n_embd=cfg.n_embd, mlp_expansion=cfg.mlp_expansion, dropout=cfg.dropout, bias=cfg.bias))


def load_trained(path: str | Path, expect_kind: str | None = None, expect_vocab=None, device: str = "cpu"):
    """(checkpoint, run config, model in eval mode) from a checkpoint this project wrote, checked by load_checkpoint."""
    ckpt = load_checkpoint(path, expect_kind=expect_kind, expect_vocab=expect_vocab)
    cfg = run_config_from_dict(ckpt["run_config"])
    model = build_model(cfg, len(ckpt["vocab"])).to(device)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as err:  # torch lists every mismatching tensor over many lines: name the first
        detail = next((line.strip() for line in str(err).splitlines()[1:] if line.strip()), str(err))
        raise CheckpointError(f"{path}: its weights do not fit the model its run config describes ({detail})") from None
    bad = [name for name, t in ckpt["model"].items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise CheckpointError(f"{path} holds NaN or infinite weights ({', '.join(bad[:3])}): it was saved by a run "
                              "that diverged, and cannot be sampled")
    return ckpt, cfg, model.eval()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # CPU and every CUDA device
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def git_commit() -> str:
    """TOOBIG_GIT_COMMIT when set (a copy of the tree sent to a rented GPU may carry a stale .git), else HEAD."""
    if os.environ.get("TOOBIG_GIT_COMMIT"):
        return os.environ["TOOBIG_GIT_COMMIT"]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).resolve().parent)
        return (out.stdout.strip() if out.returncode == 0 else "") or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_name() -> str:
    """The processor, "model (vendor)": CPU runs are byte-reproducible on one kind of processor, not across kinds
    (the BLAS picks other kernels, so the float rounding differs from the first steps on)."""
    try:
        fields = dict(tuple(part.strip() for part in line.split(":", 1))
                      for line in Path("/proc/cpuinfo").read_text().splitlines() if ":" in line)
    except OSError:
        fields = {}
    model, vendor = fields.get("model name", platform.processor() or "unknown"), fields.get("vendor_id", "")
    return f"{model} ({vendor})" if vendor else model


def dataset_digest(data_dir: str | Path, prompts) -> dict:
    """sha256 of what a run reads from its dataset folder: train.txt's bytes (`sha256sum train.txt` gives the same),
    and the prompts it evaluates, as the JSON list [[text, answer, kind], ...]. Only those prompts: prompts.json
    also holds sets a run never evaluates (ood), whose change must not discard a run."""
    evaluated = json.dumps([[p.text, p.answer, p.kind] for p in prompts]).encode()
    return {"train.txt": hashlib.sha256((Path(data_dir) / "train.txt").read_bytes()).hexdigest(),
            "evaluated_prompts": hashlib.sha256(evaluated).hexdigest()}


def _format_row(row: dict) -> str:
    return ",".join("" if row.get(c) is None else repr(row[c]) if isinstance(row[c], float) else str(row[c])
                    for c in METRIC_COLUMNS)


def _write_rows(path: Path, rows: list[dict], columns=METRIC_COLUMNS, fmt=_format_row) -> None:
    atomic_write_text(path, ",".join(columns) + "\n" + "".join(fmt(r) + "\n" for r in rows))


class Trainer:
    """One training run. Create it, then call run(); run() resumes from resume.pt when one exists."""

    def __init__(self, cfg: RunConfig, data_dir: str | Path, out_dir: str | Path, device: str = "auto", log=None,
                 cuda_graphs: bool = False):
        self.cfg = cfg
        self.out = Path(out_dir)
        self.device = pick_device(device)
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        text, meta, prompt_sets = read_dataset(data_dir)
        if meta["task"] != cfg.task:
            raise ValueError(f"dataset in {data_dir} is for task '{meta['task']}', but the run is for '{cfg.task}'")
        self.vocab = Vocab(meta["vocab"])
        self.data = torch.tensor(self.vocab.encode(text), dtype=torch.long, device=self.device)
        self.prompts = training_prompts(prompt_sets, cfg.grid)
        self.data_dir = Path(data_dir)
        self.dataset_sha256 = dataset_digest(data_dir, self.prompts)
        self.tag = f"{cfg.task}/{cfg.model}/{cfg.regime}/seed{cfg.seed}"
        self.commit = git_commit()  # the code that runs is the code at the start; HEAD may move while it trains
        self.machines: list[dict] = []  # where the run ran, each from an iteration on (a resume may move it)

        seed_everything(cfg.seed)
        self.model = build_model(cfg, len(self.vocab.chars)).to(self.device)
        self.optimizer = self.model.configure_optimizer(cfg.weight_decay, cfg.learning_rate, (cfg.beta1, cfg.beta2))
        # separate generators so that evaluation never shifts the training batches
        self.gens = {name: torch.Generator(device=self.device) for name in ("batches", "loss", "eval")}
        for offset, g in enumerate(self.gens.values()):
            g.manual_seed(cfg.seed + offset)
        self.autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if self.device.startswith("cuda")
                         else torch.autocast("cpu", enabled=False))
        self.window = torch.arange(cfg.block_size + 1, device=self.device)
        # CUDA graphs (torch.compile mode="reduce-overhead") replay the whole compiled step as one launch; a
        # pipeline-level switch (config.yaml cuda_graphs), not a RunConfig field, and only ever on CUDA
        self.cuda_graphs = bool(cuda_graphs and cfg.compile and self.device.startswith("cuda"))
        self.step_fn = (torch.compile(self._loss, mode="reduce-overhead") if self.cuda_graphs
                        else torch.compile(self._loss) if cfg.compile else self._loss)
        self.iter = 0
        self.rows: list[dict] = []
        self.timings: list[dict] = []
        self.best_score = -1.0
        self.best_ckpt: dict | None = None  # kept in resume.pt too, so a resumed run can rewrite best.pt
        self.wall_before = 0.0
        self.loss_sum = [0.0, 0]  # running (sum, count) of training batch losses between loss estimates

    # ---- data ------------------------------------------------------------------------------------
    def get_batch(self, generator: torch.Generator):
        """batch_size windows of block_size + 1 tokens at uniform random offsets, in one indexing op."""
        starts = torch.randint(len(self.data) - self.cfg.block_size, (self.cfg.batch_size,),
                               generator=generator, device=self.device)
        chunk = self.data[starts.unsqueeze(1) + self.window]  # (B, block + 1)
        return chunk[:, :-1], chunk[:, 1:]

    def _loss(self, x, y):
        with self.autocast:
            return self.model(x, y)[1]

    @torch.no_grad()
    def estimate_val_loss(self) -> float:
        """Mean loss over loss_batches random batches in eval mode (validation text = training text)."""
        self.model.eval()
        losses = [self._loss(*self.get_batch(self.gens["loss"])) for _ in range(self.cfg.loss_batches)]
        self.model.train()
        return torch.stack(losses).float().mean().item()

    # ---- evaluation ------------------------------------------------------------------------------
    def evaluate(self, it: int, lr: float) -> dict:
        cfg = self.cfg
        samples = sample_prompts(self.model, self.vocab, self.prompts, cfg.samples_per_prompt, cfg.temperature,
                                 cfg.top_k, cfg.arithmetic_new_tokens, cfg.capitals_new_tokens, self.gens["eval"])
        counts = tally(samples)
        row = {c: counts.get(c, 0) for c in METRIC_COLUMNS if c.endswith(("_correct", "_total", "_terminated"))}
        row.update(iter=it, lr=lr, score=score(counts), batch_loss=None, train_loss=None, val_loss=None)
        if it % cfg.loss_interval == 0:
            row["val_loss"] = self.estimate_val_loss()
            # train loss = mean of the training batches' losses since the last estimate (free, and what
            # a training log shows); a second 100-batch estimate on the same text would only add noise
            if self.loss_sum[1]:
                row["train_loss"] = float(self.loss_sum[0]) / self.loss_sum[1]
            self.loss_sum = [0.0, 0]
        return row

    # ---- checkpoints -----------------------------------------------------------------------------
    def _rng_state(self) -> dict:
        state = {name: g.get_state() for name, g in self.gens.items()}
        state["torch"] = torch.get_rng_state()
        if self.device.startswith("cuda"):
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def save_resume(self, wall: float, path: Path | None = None) -> None:
        ckpt = make_checkpoint("resume", self.model, self.cfg, self.vocab.chars, iter=self.iter,
                               score=self.best_score)
        ckpt.update(optimizer=self.optimizer.state_dict(), rng=self._rng_state(), rows=self.rows, best=self.best_ckpt,
                    timings=self.timings, wall=wall, loss_sum=[float(self.loss_sum[0]), self.loss_sum[1]],
                    device_type=self.device_type, dataset_sha256=self.dataset_sha256, machines=self.machines)
        atomic_torch_save(ckpt, path or self.out / "resume.pt")

    @property
    def device_type(self) -> str:
        return "cuda" if self.device.startswith("cuda") else "cpu"

    def try_resume(self) -> bool:
        """Continue from resume.pt when there is one (see _restore), and note the machine this process runs on."""
        resumed = self._restore()
        self._note_machine()
        return resumed

    def _machine(self) -> dict:
        device = torch.cuda.get_device_name(self.device) if self.device.startswith("cuda") else f"cpu ({platform.machine()})"
        return {"device": device, "cpu": cpu_name(), "threads": torch.get_num_threads()}

    def _note_machine(self) -> None:
        """A run resumed on another processor or thread count rounds differently from there on (README,
        "Determinism"): say so, and list each machine in resume.pt and provenance.json with the iteration it
        took over at (a resume file from before this record starts the list at its iteration)."""
        here = self._machine()
        last = self.machines[-1] if self.machines else None
        if last is not None and {k: last.get(k) for k in here} == here:
            return
        if last is not None:
            self.log(f"[{self.tag}] resumed at iteration {self.iter} on {here['cpu']} ({here['threads']} threads) after "
                     f"{last.get('cpu')} ({last.get('threads')} threads): from here on it rounds differently from "
                     "a run that never moved")
        self.machines.append({**here, "from_iter": self.iter})

    def _restore(self) -> bool:
        """Continue from resume.pt when there is one; rewrites metrics.csv, timing.csv and best.pt from it (a finished
        run's too: its resume.pt is past max_iters, so the loop that writes them does not run again)."""
        path = self.out / "resume.pt"
        if not path.exists():
            return False
        if is_marked_changed(self.out):  # the end state of a run trained with the old settings
            return self._start_afresh(path, f"settings changed since this run finished ({self.out / CHANGED_MARK})")
        try:
            ckpt = load_checkpoint(path, expect_kind="resume", expect_config=self.cfg)
            saved_data = ckpt.get("dataset_sha256")  # resume files written before the key: resumed as before
            if saved_data is not None and not isinstance(saved_data, dict):
                raise CheckpointError(f"{path} is damaged: its 'dataset_sha256' entry is not a mapping")
            if saved_data is not None and saved_data != self.dataset_sha256:
                changed = [DATASET_PARTS.get(k, k) for k in sorted(set(saved_data) | set(self.dataset_sha256))
                           if saved_data.get(k) != self.dataset_sha256.get(k)]
                return self._start_afresh(path, f"the dataset changed since {path.name} was written ({', '.join(changed)}"
                                                f" in {self.data_dir} differ from what it was trained on)")
            check_vocab(path, ckpt["vocab"], self.vocab.chars)
            require_entries(path, ckpt, RESUME_ENTRIES)
        except CheckpointError as err:
            advice = "" if "delete it" in str(err) else "; delete it (or move it away) to start this run afresh"
            raise CheckpointError(f"cannot resume: {err}{advice}") from None
        saved = ckpt.get("device_type", self.device_type)  # resume files written before the key: as before
        if saved != self.device_type:  # float32 steps and bf16 ones in one run, and RNG states of another device
            raise CheckpointError(f"cannot resume: {path} was written by this run on {saved}, and it now runs on "
                                  f"{self.device_type}; run it with --device {saved}, or delete {path.name} (or move "
                                  "it away) to start this run afresh")
        try:
            self.model.load_state_dict(ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            for name, g in self.gens.items():
                g.set_state(ckpt["rng"][name])
            torch.set_rng_state(ckpt["rng"]["torch"])
            if "cuda" in ckpt["rng"] and self.device.startswith("cuda"):
                torch.cuda.set_rng_state(ckpt["rng"]["cuda"], self.device)
            self.iter, self.best_score = int(ckpt["iter"]), ckpt["score"]
            self.rows, self.timings, self.wall_before = list(ckpt["rows"]), list(ckpt["timings"]), ckpt["wall"]
            self.loss_sum = list(ckpt["loss_sum"])
            self.best_ckpt = ckpt["best"]
            self.machines = list(ckpt.get("machines", []))  # absent from resume files written before the record
            # Snakemake deletes a job's outputs before re-running it: every one comes back from resume.pt, as the
            # uninterrupted run wrote it (rows evaluated after the checkpoint are evaluated again, to the same bytes)
            if self.rows:
                self._write_tables()
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError) as err:
            detail = next((line.strip() for line in str(err).splitlines() if line.strip()), "no message")
            raise CheckpointError(f"cannot resume: {path} is damaged ({type(err).__name__}: {detail}); delete it (or "
                                  "move it away) to start this run afresh") from None
        if self.best_ckpt is not None:
            atomic_torch_save(self.best_ckpt, self.out / "best.pt")
        self.log(f"[{self.tag}] resuming at iteration {self.iter} from {path}")
        return True

    def _start_afresh(self, path: Path, why: str) -> bool:
        """Drop resume.pt (and provenance.json, which would mark the folder finished meanwhile); returns False."""
        self.log(f"[{self.tag}] {why}; starting afresh")
        path.unlink()
        (self.out / "provenance.json").unlink(missing_ok=True)
        return False

    def _write_tables(self) -> None:
        _write_rows(self.out / "metrics.csv", self.rows)
        _write_rows(self.out / "timing.csv", self.timings, ("iter", "wall_s"), lambda r: f"{r['iter']},{r['wall_s']}")

    # ---- the loop --------------------------------------------------------------------------------
    def run(self, stop_after: int | None = None) -> dict:
        """Train to max_iters (or stop before iteration stop_after, for tests); returns the best row."""
        cfg, out = self.cfg, self.out
        out.mkdir(parents=True, exist_ok=True)
        for stale in out.glob(".*.tmp"):  # left by a kill in the middle of an atomic write
            stale.unlink()
        self.try_resume()
        t0 = time.perf_counter() - self.wall_before
        self.model.train()
        last_row = None
        while self.iter <= cfg.max_iters:
            it = self.iter
            if stop_after is not None and it >= stop_after:
                return {}
            checkpoint = (it % cfg.checkpoint_interval == 0 and it > 0
                          and not (self.rows and self.rows[-1]["iter"] >= it))
            if checkpoint or it % cfg.eval_interval == 0:
                self._check_finite_weights(it)  # before resume.pt is replaced: a NaN state never replaces a good one
            if checkpoint:
                self.save_resume(time.perf_counter() - t0)
            lr = get_lr(it, cfg)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            new_best = False
            if it % cfg.eval_interval == 0:
                last_row = self.evaluate(it, lr)
                if last_row["score"] > self.best_score:  # strict: ties keep the earliest evaluation
                    self.best_score = last_row["score"]
                    self.best_ckpt = make_checkpoint("best", self.model, cfg, self.vocab.chars, iter=it,
                                                     score=self.best_score)
                    self.best_ckpt["model"] = {k: v.detach().clone() for k, v in self.best_ckpt["model"].items()}
                    new_best = True  # saved with the row, once this step's loss is known to be finite
            # one optimisation step (nanoGPT also steps at iteration max_iters, after its last evaluation)
            x, y = self.get_batch(self.gens["batches"])
            if self.cuda_graphs:
                torch.compiler.cudagraph_mark_step_begin()  # the previous step's graph outputs are no longer read
            loss = self.step_fn(x, y)
            if self.device.startswith("cuda"):
                self.loss_sum[0] = self.loss_sum[0] + loss.detach().float()  # stays on the GPU: no sync per step
                self.loss_sum[1] += 1
            if not self.device.startswith("cuda") or last_row is not None:
                loss_value = loss.item()  # free on the CPU; on CUDA only at evaluation points
                if not self.device.startswith("cuda"):
                    self.loss_sum[0] += loss_value
                    self.loss_sum[1] += 1
                if not math.isfinite(loss_value):
                    raise self._diverged(f"the loss is {loss_value} at iteration {it}")
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            if last_row is not None:
                if new_best:  # best.pt first: metrics.csv never names an evaluation best.pt does not hold yet
                    atomic_torch_save(self.best_ckpt, out / "best.pt")
                last_row["batch_loss"] = loss_value
                self.rows.append(last_row)
                wall = time.perf_counter() - t0
                self.timings.append({"iter": it, "wall_s": round(wall, 3)})
                self._write_tables()
                self.log(self._progress_line(last_row, wall))
                last_row = None
            self.iter += 1
        wall = time.perf_counter() - t0
        self.save_resume(wall)
        best = max(self.rows, key=lambda r: (r["score"], -r["iter"]))
        self._write_provenance(wall, best)
        return best

    def _check_finite_weights(self, it: int) -> None:
        """Sampling from NaN weights fails deep inside torch: name the divergence here instead."""
        finite = torch.stack([p.detach().isfinite().all() for p in self.model.parameters()]).all()
        if not bool(finite):
            raise self._diverged(f"the weights became NaN or infinite before iteration {it}")

    def _diverged(self, what: str) -> TrainingDiverged:
        kept = self.rows[-1]["iter"] if self.rows else "none"
        return TrainingDiverged(f"[{self.tag}] {what}; stopping. metrics.csv and best.pt keep the evaluations up to "
                                f"iteration {kept}; lower the learning rate or check the data")

    def _progress_line(self, row: dict, wall: float) -> str:
        parts = [f"[{self.tag}] iter {row['iter']:>6}/{self.cfg.max_iters}", f"score {row['score']:.3f}"]
        if row["add_total"]:
            parts.append(f"add {row['add_correct']}/{row['add_total']} sub {row['sub_correct']}/{row['sub_total']} "
                         f"(5,7) {row['heldout_correct']}/{row['heldout_total']}")
        if row["facts_total"]:
            parts.append(f"facts {row['facts_correct']}/{row['facts_total']}")
        parts.append(f"loss {row['batch_loss']:.4f}")
        parts.append(f"{wall:7.1f}s")
        return "  ".join(parts)

    def _write_provenance(self, wall: float, best: dict, **extra) -> None:
        """provenance.json in one atomic write (its presence marks the run finished), with any extra facts."""
        record = {
            "run": self.tag,
            "config": self.cfg.to_dict(),
            "config_hash": self.cfg.config_hash(),
            "training_version": TRAINING_VERSION,
            "git_commit": self.commit,
            "toobig_version": __version__,
            "torch_version": torch.__version__,
            "python_version": platform.python_version(),
            "device": torch.cuda.get_device_name(self.device) if self.device.startswith("cuda") else f"cpu ({platform.machine()})",
            "threads": torch.get_num_threads(),
            "cpu": cpu_name(),
            "precision": "bf16 autocast" if self.device.startswith("cuda") else "float32",
            "wall_seconds": round(wall, 1),
            "parameters": self.model.num_params(),
            "dataset_sha256": self.dataset_sha256,
            "machines": self.machines,
            "best_iter": best["iter"],
            "best_score": best["score"],
            **extra,
        }
        atomic_write_text(self.out / "provenance.json", json.dumps(record, indent=1) + "\n")
        clear_changed_mark(self.out)



def train_run(run: dict, data_dir, out_dir, device: str = "auto", threads: int = 1, cuda_graphs: bool = False) -> dict:
    """Train one run from a dict of run settings (what the pipeline's rule passes); returns the best row."""
    from .config import run_config_from_dict

    torch.set_num_threads(threads)
    return Trainer(run_config_from_dict(run), data_dir, out_dir, device=device, cuda_graphs=cuda_graphs).run()
