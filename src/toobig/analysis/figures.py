"""Figures 1-7: accuracy (and, beyond the paper, loss) against iterations, ours over the authors' faint curves.

Figures 1-6 have one column per model: the top row is the paper's figure (addition, subtraction, facts where
trained, the held-out (5,7) count as a percentage, red dots where addition and subtraction are both 100%),
the bottom row the train and validation loss. Figure 7 is the extended MLT run on a log iteration axis, with
the held-out curves of the CPU-sized longer-training runs (experiments.long_training) beside it when they exist.
Every series keeps one colour in every figure (SERIES); the authors' curves use the same colour, faint.
"""
from __future__ import annotations

import base64
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures are files, never windows
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from ..fsutil import atomic_savefig  # noqa: E402
from . import paper, runs  # noqa: E402

SERIES = {  # metric -> (label, colour, line style); the same in every figure
    "addition": ("addition", "#1f77b4", "-"),
    "subtraction": ("subtraction", "#ff7f0e", "-"),
    "facts": ("facts (capitals)", "#2ca02c", "-"),
    "heldout": ("held-out (5,7), % of 40", "#9467bd", "--"),
    "train_loss": ("train loss", "#8c564b", "--"),
    "val_loss": ("validation loss", "#17becf", "-"),
}
RED_DOT = "#d62728"
AUTHORS_ALPHA = 0.3
TASK_SERIES = {"arithmetic": ("addition", "subtraction", "heldout"), "capitals": ("facts",),
               "joint": ("addition", "subtraction", "facts", "heldout")}
plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "figure.dpi": 100, "savefig.dpi": 150,
                     "pdf.compression": 9, "svg.hashsalt": "toobig"})


def _accuracy_panel(ax, run: runs.RunResult, authors, task: str) -> None:
    """One model's accuracy curves: the authors' faint, ours solid, red dots where add and sub are 100%."""
    for metric in TASK_SERIES[task]:
        label, colour, style = SERIES[metric]
        if authors is not None and metric != "heldout":  # the authors recorded no held-out column
            ax.plot(authors["iter"], runs.percent(authors, metric), color=colour, ls=style, lw=1.0,
                    alpha=AUTHORS_ALPHA)
        if run.present:
            ax.plot(run.metrics["iter"], runs.percent(run.metrics, metric), color=colour, ls=style,
                    lw=1.1 if metric == "heldout" else 1.4)
    if run.present and task in ("arithmetic", "joint"):
        m = run.metrics
        both = m[(m["add_correct"] == m["add_total"]) & (m["sub_correct"] == m["sub_total"]) & (m["add_total"] > 0)]
        ax.plot(both["iter"], [100.0] * len(both), "o", color=RED_DOT, ms=4, zorder=5)
    ax.set_ylim(-3, 105)
    ax.set_xlim(0, None)
    ax.grid(alpha=0.3)


def _loss_panel(ax, run: runs.RunResult, authors) -> None:
    for metric in ("val_loss", "train_loss"):  # train on top: on this data the two curves nearly coincide
        label, colour, style = SERIES[metric]
        if authors is not None:
            a = authors.dropna(subset=[metric])
            ax.plot(a["iter"], a[metric], color=colour, ls=style, lw=1.0, alpha=AUTHORS_ALPHA)
        if run.present:
            m = run.metrics.dropna(subset=[metric])
            ax.plot(m["iter"], m[metric], color=colour, ls=style, lw=1.4)
    ax.set_ylim(0, None)
    ax.set_xlim(0, None)
    ax.grid(alpha=0.3)


def _not_run_text(ax, text: str, x: float = 0.5, y: float = 0.5) -> None:
    ax.text(x, y, text, transform=ax.transAxes, ha="center", va="center", fontsize=10, color="#444444",
            bbox=dict(boxstyle="round", fc="white", ec="#999999", alpha=0.9), wrap=True)


def legend_or_note(ax, empty_text: str, below: bool = False) -> None:
    """A legend when the panel drew a labelled line (below the axes when asked), else a note saying why it is empty."""
    if ax.get_legend_handles_labels()[0]:
        if below:
            ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
        else:
            ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, empty_text, ha="center", transform=ax.transAxes)


def _legend_handles(metrics) -> list:
    handles = [Line2D([], [], color=SERIES[m][1], ls=SERIES[m][2], lw=1.6, label=SERIES[m][0]) for m in metrics]
    return handles


def _panel_title(run: runs.RunResult, params: int, several_seeds: bool) -> str:
    title = f"{runs.DISPLAY[run.model]}  ({params:,} parameters)"
    return f"{title}, seed {run.seed}" if several_seeds else title


def accuracy_figure(number: int, config: dict, results_dir: str | Path, paper_dir: str | Path):
    """Figure 1-6 as a matplotlib Figure: accuracy on top, loss below, one column per model."""
    regime, task = runs.FIGURE_RUNS[number]
    run_list = runs.load_runs(config, results_dir, regime, task)
    width = max(4.1 * len(run_list), 11.0)  # wide enough for the legend and title even with two models
    fig, axes = plt.subplots(2, len(run_list), figsize=(width, 7.6), sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": [3, 2]})
    for col, run in enumerate(run_list):
        authors = paper.authors_curve(paper_dir, regime, task, run.model)
        top, bottom = axes[0, col], axes[1, col]
        _accuracy_panel(top, run, authors, task)
        _loss_panel(bottom, run, authors)
        top.set_title(_panel_title(run, runs.parameter_count(run, config)[0], len(config.get("seeds", [])) > 1))
        if not run.present:
            _not_run_text(top, f"ours: {run.note}\n(authors' run drawn faintly)")
        elif run.status != "complete":
            top.text(0.98, 0.03, run.note, transform=top.transAxes, ha="right", va="bottom", fontsize=8,
                     color="#aa0000")
        bottom.set_xlabel("iteration")
    axes[0, 0].set_ylabel("accuracy (%)")
    axes[1, 0].set_ylabel("cross-entropy loss (nats/char)")
    handles = _legend_handles(TASK_SERIES[task])
    if task != "capitals":
        handles.append(Line2D([], [], color=RED_DOT, marker="o", ls="", label="addition and subtraction both 100%"))
    handles += _legend_handles(("train_loss", "val_loss"))
    handles.append(Line2D([], [], color="#555555", alpha=AUTHORS_ALPHA + 0.1, lw=1.6,
                          label="faint: the authors' run (same colours)"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4 if width < 14 else 5), frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    regime_text = "controlled regularization" if regime == "controlled" else "main regime"
    fig.suptitle(f"Figure {number}: {task} task, {regime_text}\n"
                 "top: accuracy, as in the paper; bottom: loss, beyond the paper", fontsize=12)
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))
    return fig


STAND_IN_COLOURS = ("#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#8c564b", "#1f77b4")
STAND_IN_WINDOW = 20  # evaluations per rolling mean: a raw held-out curve jumps between 0 and 75% every 250 iterations
PAPER_LINE = dict(color="#333333", ls="--", lw=0.9)


def paper_iterations_line(ax, iters: int) -> Line2D:
    """A dashed vertical line where the paper's training stopped (training.max_iters); returns its legend handle
    (a label on the line itself would sit on the curves)."""
    ax.axvline(iters, zorder=1, **PAPER_LINE)
    return Line2D([], [], **PAPER_LINE, label=f"the paper's training length ({iters:,} iterations)")


def _stand_in_curves(ax, stand_ins: list[runs.RunResult]) -> list[Line2D]:
    """Held-out (5,7) % of the longer-trained n-models, one colour each: every evaluation thin and light, and a
    centred rolling mean over STAND_IN_WINDOW evaluations on top; returns their legend handles."""
    handles = []
    for run, colour in zip([r for r in stand_ins if r.present], STAND_IN_COLOURS):
        m = run.metrics
        raw = runs.percent(m, "heldout")
        x = m["iter"].clip(lower=250)
        ax.plot(x, raw, color=colour, lw=0.4, alpha=0.25)
        ax.plot(x, raw.rolling(STAND_IN_WINDOW, center=True, min_periods=STAND_IN_WINDOW).mean(), color=colour, lw=1.5)
        last = "" if run.status == "complete" else f", to iteration {int(m['iter'].iloc[-1])}"
        handles.append(Line2D([], [], color=colour, lw=1.5,
                              label=f"held-out (5,7) %: {run.model} {run.regime} seed {run.seed}{last} (trained on CPU)"))
    return handles


def extended_figure(config: dict, extended_dir: str | Path, paper_dir: str | Path,
                    stand_ins: list[runs.RunResult] = ()):
    """Figure 7: the 1.5M-iteration arithmetic MLT run, log iteration axis; says plainly (in the title, never over
    the curves) when ours is absent, and its legend names only the series drawn. stand_ins: the longer-trained
    n-models, drawn as held-out curves (the same question asked on this CPU). A dashed line marks the paper's
    training length (training.max_iters)."""
    run = runs.load_extended(extended_dir)
    authors = paper.authors_curve(paper_dir, "extended", "arithmetic", "mlt")
    quoted = paper.text_values(paper_dir)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 6.4 if stand_ins else 5.2))
    _accuracy_panel(left, run, authors, "arithmetic")
    _loss_panel(right, run, authors)
    paper_iters = int(config.get("training", {}).get("max_iters", 30_000))
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlim(250, 1.6e6)  # iteration 0 cannot sit on a log axis; the first evaluation after it is 250
        ax.set_xlabel("iteration (log scale)")
        paper_line = paper_iterations_line(ax, paper_iters)
    right.axhline(quoted["extended_lowest_val_ce"]["value"], color="#555555", lw=0.8, ls=":")
    right.text(300, quoted["extended_lowest_val_ce"]["value"] * 1.06,
               f"paper: lowest validation CE {quoted['extended_lowest_val_ce']['printed']}", fontsize=8, color="#333333")
    left.set_ylabel("accuracy (%)")
    right.set_ylabel("cross-entropy loss (nats/char)")
    left.set_title("accuracy")
    right.set_title("loss")
    # the legend names what is drawn: our five series when our run exists, else the authors' four (no held-out)
    if run.present:
        handles = _legend_handles(("addition", "subtraction", "heldout", "train_loss", "val_loss"))
        if authors is not None:
            handles.append(Line2D([], [], color="#555555", alpha=AUTHORS_ALPHA + 0.1, lw=1.6,
                                  label="faint: the authors' run (same colours)"))
    else:
        handles = [Line2D([], [], color=SERIES[m][1], ls=SERIES[m][2], lw=1.6, alpha=AUTHORS_ALPHA + 0.2,
                          label=f"{SERIES[m][0]}: the authors' run") for m in
                   ("addition", "subtraction", "train_loss", "val_loss")] if authors is not None else []
    stand_in_handles = _stand_in_curves(left, stand_ins)
    fig.legend(handles=handles + [paper_line] + stand_in_handles, loc="lower center",
               ncol=3 if not stand_in_handles else 2, frameon=False, fontsize=9)
    lines = ["Figure 7: extended training of the arithmetic MLT (1.5M iterations)"]
    if not run.present:
        lines.append(f"our extended run: {run.note}; drawn: the authors' run"
                     + (" (they recorded no held-out column)" if authors is not None else ""))
    elif run.status != "complete":
        lines.append(f"our extended run: {run.note}")
    if stand_in_handles:
        lines.append(f"beside it, n-models trained 10x longer on this CPU (a smaller stand-in for the same question):\n"
                     f"held-out (5,7) at every evaluation (thin) and its centred mean over {STAND_IN_WINDOW} evaluations (thick)")
    fig.suptitle("\n".join(lines), fontsize=11)
    fig.tight_layout(rect=(0, 0.18 if stand_in_handles else 0.13, 1, 1))  # tight_layout leaves the suptitle room
    return fig


def embed_png(png: str | Path) -> str:
    """A PNG as a data URI, so an HTML page that shows it stays one self-contained file."""
    return "data:image/png;base64," + base64.b64encode(Path(png).read_bytes()).decode()


def save(fig, png: str | Path, pdf: str | Path | None = None) -> None:
    atomic_savefig(fig, png, metadata={"Software": None})
    if pdf is not None:
        atomic_savefig(fig, pdf, metadata={"CreationDate": None, "Creator": None, "Producer": None})
    plt.close(fig)


def write_figure(number: int, config: dict, results_dir: str | Path, paper_dir: str | Path, png: str | Path,
                 pdf: str | Path | None = None, extended_dir: str | Path | None = None,
                 stand_in_runs: list[dict] = ()) -> None:
    """stand_in_runs: (regime, task, model, seed) dicts of the longer-training runs Figure 7 also draws."""
    if number == 7:
        if extended_dir is None:
            extended_dir = runs.run_path(results_dir, "extended", "arithmetic", "mlt", config.get("seeds", [1337])[0])
        stand_ins = [runs.load_run(results_dir, r["regime"], r["task"], r["model"], r["seed"],
                                   finished_only=config.get("finished_runs_only", False)) for r in stand_in_runs]
        fig = extended_figure(config, extended_dir, paper_dir, stand_ins)
    elif number in runs.FIGURE_RUNS:
        fig = accuracy_figure(number, config, results_dir, paper_dir)
    else:
        raise ValueError(f"the paper has Figures 1-7, not Figure {number}")
    save(fig, png, pdf)
