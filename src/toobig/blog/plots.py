"""Figures and tables from a run's CSV tables (never from a model). Headless (agg)."""
from __future__ import annotations

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from toobig.blog.config import OPERATIONS  # noqa: E402
from toobig.fsutil import atomic_savefig  # noqa: E402

OP_COLOURS = {"SUM": "tab:blue", "SUBTRACT": "tab:orange", "MULTIPLY": "tab:green", "DIVIDE": "tab:red",
              "ALL": "black"}
BEHAVIOUR_PANELS = [
    ("exact", "exact match"),
    ("op_recognised", "operation recognised"),
    ("sign_correct", "sign correct"),
    ("magnitude_correct", "magnitude correct (integer digits)"),
    ("digit_accuracy", "digit accuracy (aligned on '.')"),
    ("termination_failure", "termination failure (correct prefix + run-on)"),
    ("overlong", "overlong (more digits than expected)"),
    ("stopped", "emitted end-of-text"),
    ("within_k", "DIVIDE correct to k decimals"),
    ("rel_error_median", "median relative error"),
]


def plot_dynamics(epochs: pd.DataFrame, evals: pd.DataFrame, behaviour: pd.DataFrame, path, title: str = "") -> None:
    """The posts' loss / gradient-norm figure beside every behaviour metric per operation, one epoch axis.

    Solid lines: held-out set; dashed: the fixed training subset.
    """
    n = 2 + len(BEHAVIOUR_PANELS)
    cols = 4
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.1 * rows), sharex=True)
    axes = axes.ravel()
    ax = axes[0]
    ax.plot(epochs["epoch"], epochs["train_loss"], label="train (dropout on, as logged)", color="tab:blue")
    ax.plot(evals["epoch"], evals["train_loss_eval_mode"], label="train (eval mode)", color="tab:blue", ls=":")
    ax.plot(evals["epoch"], evals["eval_loss"], label="eval (held-out)", color="tab:orange", marker="o", ms=3)
    ax.plot(evals["epoch"], evals["eval_answer_loss"], label="eval, answer tokens only", color="tab:orange", ls="--")
    ax.plot(evals["epoch"], evals["train_answer_loss"], label="train, answer tokens only", color="tab:blue", ls="--")
    ax.set_title("loss (cross-entropy, nats/token)")
    ax.legend(fontsize=6)
    ax = axes[1]
    ax.plot(epochs["epoch"], epochs["grad_norm_mean"], label="mean over epoch", color="tab:purple")
    ax.plot(epochs["epoch"], epochs["grad_norm_max"], label="max over epoch", color="tab:purple", ls=":", lw=0.8)
    ax.set_title(f"gradient norm before clipping (lr {epochs['lr'].iloc[-1]:.0e}, constant)")
    ax.legend(fontsize=6)
    for ax, (metric, label) in zip(axes[2:], BEHAVIOUR_PANELS):
        for op in (*OPERATIONS, "ALL"):
            for split, ls in (("heldout", "-"), ("train_subset", "--")):
                sel = behaviour[(behaviour.op == op) & (behaviour.split == split)].sort_values("epoch")
                if metric == "within_k" and op not in ("DIVIDE",):
                    continue
                ax.plot(sel["epoch"], sel[metric], ls=ls, color=OP_COLOURS[op], lw=1.6 if op == "ALL" else 1,
                        label=op if split == "heldout" else None)
        if metric == "rel_error_median":
            ax.set_yscale("log")
        else:
            ax.set_ylim(-0.03, 1.03)
        ax.set_title(label)
    axes[2].legend(fontsize=6, title="solid held-out, dashed train", title_fontsize=6)
    for ax in axes[n:]:
        ax.axis("off")
    for ax in axes[-cols:]:
        ax.set_xlabel("epoch")
    fig.suptitle(title)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=110)
    plt.close(fig)


def plot_learn_to_stop(off: pd.DataFrame, on: pd.DataFrame, path) -> None:
    """learn_to_stop off vs on: held-out exact match, termination failure and end-of-text emitted, per operation."""
    metrics = [("exact", "exact match"), ("termination_failure", "termination failure"),
               ("overlong", "overlong (more digits than expected)"), ("stopped", "emitted end-of-text"),
               ("digit_accuracy", "digit accuracy")]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.2), sharex=True)
    for ax, (metric, label) in zip(axes, metrics):
        for op in (*OPERATIONS, "ALL"):
            for df, ls in ((off, "-"), (on, "--")):
                sel = df[(df.op == op) & (df.split == "heldout")].sort_values("epoch")
                ax.plot(sel["epoch"], sel[metric], ls=ls, color=OP_COLOURS[op], lw=1.6 if op == "ALL" else 1,
                        label=op if ls == "-" else None)
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(label)
        ax.set_xlabel("epoch")
    axes[0].legend(fontsize=6, title="solid off, dashed on", title_fontsize=6)
    fig.suptitle("learn_to_stop: held-out set")
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=110)
    plt.close(fig)
