"""The training loop: the posts' fine-tuning recipe, with metrics read every eval_every epochs.

Per epoch: shuffled batches of 30, AdamW (lr 5e-5 constant, weight decay 0.01), gradient norm clipped to 1.0,
loss = mean cross-entropy over the unmasked targets (see encoding.py). Written by the run:

  epochs.csv      every epoch: train loss as logged (dropout on, mean of batch losses), gradient norm
                  (before clipping; mean and max over the epoch), learning rate, wall time
  evals.csv       every eval: eval-mode losses on the whole training set and the held-out set, over all
                  targets and over the answer targets only
  behaviour.csv   every eval: metrics.aggregate per split (heldout, train_subset) and operation
  trace.csv       every eval: the answers to a fixed handful of held-out prompts (3 per operation)
  answers.csv.gz  every eval: every answer field and end-of-text flag, so metrics can be recomputed
                  without retraining (report.behaviour_from_answers)
  predictions.csv the final eval: every held-out and train-subset prediction with its metrics
  run.json        settings, config hash, wall time, epochs done

A resume checkpoint (model, optimiser, RNG, rows so far) is written atomically every checkpoint_every
epochs and after each eval; a rerun continues from it. A NaN loss stops the run with an error.
"""
from __future__ import annotations

import csv
import gzip
import io
import os
import json
import math
import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from toobig.blog.config import OPERATIONS, BlogRunConfig
from toobig.blog.data import Problem, read_lines
from toobig.blog.decode import greedy_decode
from toobig.blog.encoding import IGNORE, Encoded, encode_problems, encode_prompts
from toobig.blog.metrics import aggregate, answer_field, score
from toobig.blog.model import VocabMap, build_model, save_model
from toobig.blog.tokenizer import load_gpt2_tokenizer
from toobig.checkpoint import CheckpointError
from toobig.train import pick_device  # a run declared for a GPU never falls back to the CPU silently
from toobig.fsutil import atomic_torch_save, atomic_write_text
from toobig.provenance import clear_changed_mark

EPOCH_COLUMNS = ["epoch", "step", "train_loss", "grad_norm_mean", "grad_norm_max", "lr", "wall_s"]
EVAL_COLUMNS = ["epoch", "step", "train_loss_logged", "train_loss_eval_mode", "eval_loss",
                "train_answer_loss", "eval_answer_loss", "wall_s"]


def _say(message: str) -> None:
    print(message, flush=True)


def atomic_write_gzip(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(gzip.compress(text.encode(), mtime=0))
    os.replace(tmp, path)


class NaNLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


def rows_to_csv(rows: list[dict], columns: list[str] | None = None) -> str:
    columns = columns or list(rows[0]) if rows else (columns or [])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


def sequence_loss(model, ids, attention, labels, answer_mask=None, only_answer=False):
    """(sum of target losses, number of targets): logits only where a target exists."""
    hidden = model.transformer(input_ids=ids, attention_mask=attention).last_hidden_state   # (B, T, C)
    targets = labels[:, 1:]                                                                 # shift: t predicts t+1
    keep = targets != IGNORE
    if only_answer:
        keep &= answer_mask[:, 1:]
    logits = model.lm_head(hidden[:, :-1][keep])                                            # (K, V)
    return F.cross_entropy(logits, targets[keep], reduction="sum"), int(keep.sum())


def trim(enc: Encoded, idx: torch.Tensor, vocab: VocabMap):
    """One batch, cut after its last target column (right padding: exact for a causal model)."""
    ids, att, lab, ans = enc.ids[idx], enc.attention[idx], enc.labels[idx], enc.answer_mask[idx]
    used = int(((lab != IGNORE) | (att == 1)).any(0).nonzero().max()) + 1
    return vocab.to_model(ids[:, :used]), att[:, :used], vocab.to_model(lab[:, :used]), ans[:, :used]


class BlogTrainer:
    def __init__(self, cfg: BlogRunConfig, train_path, heldout_path, out_dir, log=None, device: str = "auto"):
        self.cfg, self.out, self.log = cfg, Path(out_dir), log or _say
        for path in (Path(train_path), Path(heldout_path)):
            if not path.exists():
                raise FileNotFoundError(f"blog dataset file {path} is missing; write it with "
                                        f"`python -m toobig blog-data --out {path.parent}`")
        self.device = pick_device(device)
        self.tok = load_gpt2_tokenizer(cfg.pretrained if cfg.init == "pretrained" else None)
        self.train_set: list[Problem] = read_lines(train_path)
        self.heldout: list[Problem] = read_lines(heldout_path)
        self.out.mkdir(parents=True, exist_ok=True)
        self.enc_train = encode_problems(self.train_set, self.tok, cfg.max_length, cfg.learn_to_stop)
        self.enc_held = encode_problems(self.heldout, self.tok, cfg.max_length, cfg.learn_to_stop)
        kept = None
        if cfg.compact_vocab:
            kept = sorted(set(self.enc_train.ids.flatten().tolist()) | set(self.enc_held.ids.flatten().tolist()))
        self.vocab = VocabMap(kept)
        self.model = build_model(cfg, self.vocab).to(self.device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        subset = random.Random(f"subset-{cfg.data_seed}").sample(range(len(self.train_set)),
                                                                 min(cfg.train_subset, len(self.train_set)))
        self.subset = [self.train_set[i] for i in sorted(subset)]
        self.traced = [p for op in OPERATIONS for p in [q for q in self.heldout if q.op == op][:3]]
        self.epoch, self.step, self.wall = 0, 0, 0.0
        self.epoch_rows: list[dict] = []
        self.eval_rows: list[dict] = []
        self.behaviour_rows: list[dict] = []
        self.trace_rows: list[dict] = []
        self.last_predictions: list[dict] | None = None
        self.answer_rows: list[dict] = []
        self.ckpt = self.out / "checkpoint" / "resume.pt"

    # -- checkpointing -----------------------------------------------------------------------------
    def save_resume(self) -> None:
        atomic_torch_save({
            "resume_hash": self.cfg.resume_hash(), "model": self.model.state_dict(), "opt": self.opt.state_dict(),
            "epoch": self.epoch, "step": self.step, "wall": self.wall, "torch_rng": torch.get_rng_state(),
            "rows": [self.epoch_rows, self.eval_rows, self.behaviour_rows, self.trace_rows],
            "last_predictions": self.last_predictions, "answer_rows": self.answer_rows,
        }, self.ckpt)

    def try_resume(self) -> bool:
        if not self.ckpt.exists():
            return False
        try:  # weights_only: tensors and plain data, so no code in the file runs
            state = torch.load(self.ckpt, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - unpickling, zip and I/O errors alike: the file is not usable
            raise CheckpointError(f"cannot resume from {self.ckpt}: it cannot be read ({type(err).__name__}); delete it "
                                  "(or move it away) to start this blog run afresh") from None
        if not isinstance(state, dict) or "resume_hash" not in state:
            raise CheckpointError(f"{self.ckpt} is not a blog run's resume checkpoint; move it away (it is kept, "
                                  "not overwritten) to start this blog run afresh")
        if state.get("resume_hash") != self.cfg.resume_hash():
            self.log(f"ignoring {self.ckpt}: written by other settings")
            return False
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.epoch, self.step, self.wall = state["epoch"], state["step"], state["wall"]
        torch.set_rng_state(state["torch_rng"])
        self.epoch_rows, self.eval_rows, self.behaviour_rows, self.trace_rows = state["rows"]
        self.last_predictions = state["last_predictions"]
        self.answer_rows = state["answer_rows"]
        self.log(f"resumed at epoch {self.epoch} (step {self.step})")
        return True

    # -- measurement -------------------------------------------------------------------------------
    @torch.no_grad()
    def eval_loss(self, enc: Encoded, only_answer: bool = False) -> float:
        self.model.eval()
        total, count = 0.0, 0
        for start in range(0, enc.ids.shape[0], 250):
            idx = torch.arange(start, min(start + 250, enc.ids.shape[0]))
            ids, att, lab, ans = (t.to(self.device) for t in trim(enc, idx, self.vocab))
            s, n = sequence_loss(self.model, ids, att, lab, ans, only_answer)
            total, count = total + float(s), count + n
        self.model.train()
        return total / max(count, 1)

    def predict(self, problems: list[Problem]) -> list[dict]:
        outputs = greedy_decode(self.model, encode_prompts(problems, self.tok), self.vocab, self.cfg.max_new_tokens)
        rows = []
        for p, (gen, stopped) in zip(problems, outputs):
            text = self.tok.decode(gen)
            row = score(p, answer_field(text), stopped, self.cfg.decimals_k)
            row["generated"] = text
            rows.append(row)
        return rows

    def evaluate(self) -> list[dict]:
        logged = self.epoch_rows[-1]["train_loss"] if self.epoch_rows else math.nan
        losses = {
            "epoch": self.epoch, "step": self.step, "train_loss_logged": logged,
            "train_loss_eval_mode": self.eval_loss(self.enc_train), "eval_loss": self.eval_loss(self.enc_held),
            "train_answer_loss": self.eval_loss(self.enc_train, True),
            "eval_answer_loss": self.eval_loss(self.enc_held, True),
        }
        predictions = []
        for split, problems in (("heldout", self.heldout), ("train_subset", self.subset)):
            rows = self.predict(problems)
            for r in rows:
                r["split"] = split
                self.answer_rows.append({"epoch": self.epoch, "split": split, "op": r["op"], "a": r["a"], "b": r["b"],
                                         "expected": r["expected"], "answer": r["answer"], "stopped": r["stopped"]})
            predictions += rows
            for agg in aggregate(rows):
                self.behaviour_rows.append({"epoch": self.epoch, "split": split, **agg})
        for r in self.predict(self.traced):
            self.trace_rows.append({"epoch": self.epoch, "op": r["op"], "a": r["a"], "b": r["b"],
                                    "expected": r["expected"], "answer": r["answer"], "generated": r["generated"]})
        losses["wall_s"] = self.wall
        self.eval_rows.append(losses)
        held_all = next(r for r in self.behaviour_rows[::-1] if r["split"] == "heldout" and r["op"] == "ALL")
        self.log(f"epoch {self.epoch:4d} step {self.step:6d} | train {logged:.4f} (eval-mode "
                 f"{losses['train_loss_eval_mode']:.4f}) | eval {losses['eval_loss']:.4f} | answer-only eval "
                 f"{losses['eval_answer_loss']:.4f} | held-out exact {held_all['exact']:.3f} op {held_all['op_recognised']:.3f} "
                 f"term-fail {held_all['termination_failure']:.3f} | {self.wall / 60:.1f} min")
        self.last_predictions = predictions
        return predictions

    def write_tables(self, predictions: list[dict] | None = None) -> None:
        atomic_write_text(self.out / "epochs.csv", rows_to_csv(self.epoch_rows, EPOCH_COLUMNS))
        atomic_write_text(self.out / "evals.csv", rows_to_csv(self.eval_rows, EVAL_COLUMNS))
        atomic_write_text(self.out / "behaviour.csv", rows_to_csv(self.behaviour_rows))
        atomic_write_text(self.out / "trace.csv", rows_to_csv(self.trace_rows))
        atomic_write_gzip(self.out / "answers.csv.gz", rows_to_csv(self.answer_rows))
        if predictions is not None:
            cols = ["split", "op", "a", "b", "expected", "answer", "generated", "exact", "parsed", "stopped",
                    "op_recognised", "sign_correct", "magnitude_correct", "digit_accuracy", "termination_failure",
                    "run_on_digits", "truncated", "within_k", "rel_error"]
            atomic_write_text(self.out / "predictions.csv", rows_to_csv(predictions, cols))

    # -- training ----------------------------------------------------------------------------------
    def train_epoch(self) -> dict:
        cfg = self.cfg
        order = torch.randperm(len(self.train_set), generator=torch.Generator().manual_seed(cfg.seed + self.epoch))
        losses, norms = [], []
        for start in range(0, len(order), cfg.batch_size):
            ids, att, lab, ans = (t.to(self.device) for t in trim(self.enc_train, order[start:start + cfg.batch_size], self.vocab))
            s, n = sequence_loss(self.model, ids, att, lab)
            loss = s / n
            if not torch.isfinite(loss):
                raise NaNLossError(f"training loss is {float(loss.detach())} at epoch {self.epoch + 1}, step {self.step + 1}; "
                                   f"stopping (last checkpoint: {self.ckpt})")
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip if cfg.grad_clip > 0 else math.inf)
            self.opt.step()
            self.step += 1
            losses.append(float(loss.detach()))
            norms.append(float(norm))
        return {"train_loss": sum(losses) / len(losses), "grad_norm_mean": sum(norms) / len(norms),
                "grad_norm_max": max(norms), "lr": self.opt.param_groups[0]["lr"]}

    def run(self, stop_after_epochs: int | None = None) -> dict:
        self.try_resume()
        cfg = self.cfg
        if self.epoch == 0 and not self.eval_rows:
            self.write_tables(self.evaluate())
        done_now = 0
        while self.epoch < cfg.epochs:
            t0 = time.time()
            row = self.train_epoch()
            self.epoch += 1
            self.wall += time.time() - t0
            self.epoch_rows.append({"epoch": self.epoch, "step": self.step, **row, "wall_s": self.wall})
            done_now += 1
            is_eval = self.epoch % cfg.eval_every == 0 or self.epoch == cfg.epochs
            if is_eval:
                t0 = time.time()
                predictions = self.evaluate()
                self.wall += time.time() - t0
                self.write_tables(predictions)
            if is_eval or self.epoch % cfg.checkpoint_every == 0:
                self.save_resume()
            if stop_after_epochs is not None and done_now >= stop_after_epochs:
                break
        finished = self.epoch >= cfg.epochs
        if finished:
            self.write_tables(self.last_predictions)   # also when resumed after the final eval
            save_model(self.model, self.out / "model")
        info = {"config": cfg.to_dict(), "config_hash": cfg.config_hash(), "epochs_done": self.epoch,
                "steps": self.step, "wall_s": round(self.wall, 1), "finished": finished,
                "vocab_size": self.vocab.size, "n_parameters": sum(p.numel() for p in self.model.parameters()),
                "n_train": len(self.train_set), "n_heldout": len(self.heldout), "device": self.device,
                "torch_threads": torch.get_num_threads()}
        atomic_write_text(self.out / "run.json", json.dumps(info, indent=2, sort_keys=True) + "\n")
        if finished:
            clear_changed_mark(self.out)
        return info


def train_blog_run(cfg: BlogRunConfig, train_path, heldout_path, out_dir, log=None, threads: int = 1,
                   device: str = "auto") -> dict:
    """Train (or resume) one run and write its tables under out_dir."""
    torch.set_num_threads(threads)
    return BlogTrainer(cfg, train_path, heldout_path, out_dir, log=log, device=device).run()
