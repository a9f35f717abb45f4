"""Figures from hand-made runs: files written, red dots where they belong, absent runs said plainly."""
import matplotlib.image as mpimg
import pandas as pd
import pytest

from analysis_fixtures import PAPER_DIR, paper_world, small_config
from toobig.analysis import figures, runs


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return paper_world(tmp_path_factory.mktemp("results"))


def texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]


def test_figure1_red_dots_titles_and_not_run_panels(world):
    fig = figures.accuracy_figure(1, small_config(), world, PAPER_DIR)
    top = [ax for ax in fig.axes if ax.get_ylim()[1] == 105]  # the accuracy row
    assert [ax.get_title() for ax in top] == ["n14  (1,456 parameters)", "n28  (5,264 parameters)",
                                              "n56  (19,936 parameters)", "MLT  (10,628,352 parameters)"]
    dots = [line for line in top[0].lines if line.get_marker() == "o"]
    assert len(dots) == 1 and list(dots[0].get_xdata()) == [500, 1000]  # n14 perfect at 500 and 1000 only
    assert not [line.get_xdata() for line in top[1].lines if line.get_marker() == "o" and len(line.get_xdata())]
    shown = " ".join(texts(fig))
    assert runs.NEEDS_GPU in shown and "not run yet (no metrics.csv)" in shown
    figures.plt.close(fig)


def test_series_colours_are_the_same_in_every_figure(world):
    colours = {}
    for number in (1, 3):
        fig = figures.accuracy_figure(number, small_config(), world, PAPER_DIR)
        ours = [line for line in fig.axes[0].lines if line.get_alpha() is None and line.get_marker() != "o"]
        colours[number] = {line.get_color() for line in ours}
        figures.plt.close(fig)
    assert figures.SERIES["addition"][1] in colours[1] & colours[3]
    assert figures.SERIES["facts"][1] in colours[3] - colours[1]


def test_incomplete_run_is_flagged(world):
    fig = figures.accuracy_figure(3, small_config(), world, PAPER_DIR)
    assert "incomplete: trained to iteration 500 of 1000" in texts(fig)
    figures.plt.close(fig)


@pytest.mark.parametrize("number", [2, 7])
def test_write_figure_png_and_pdf(world, tmp_path, number):
    png, pdf = tmp_path / f"figure{number}.png", tmp_path / f"figure{number}.pdf"
    figures.write_figure(number, small_config(), world, PAPER_DIR, png, pdf)
    image = mpimg.imread(png)
    assert image.shape[0] > 500 and image.std() > 0.05  # a real picture, not a blank page
    assert pdf.read_bytes().startswith(b"%PDF")


def test_figure7_says_not_run_when_the_extended_run_is_absent(world):
    fig = figures.extended_figure(small_config(), world / "runs/extended/arithmetic/mlt/seed1337", PAPER_DIR)
    assert any(runs.NEEDS_GPU in t for t in texts(fig))
    assert fig.axes[0].get_xscale() == "log"
    figures.plt.close(fig)


def legend_labels(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_figure7_note_covers_no_curve_and_its_legend_names_only_what_is_drawn(world):
    """Our extended run absent: the note is in the title, not in a box on the axes; the legend names the authors'
    curves drawn (no held-out: they recorded none) and nothing of ours; a dashed line marks the paper's
    training length (training.max_iters: 1000 in the small config) in both panels."""
    fig = figures.extended_figure(small_config(), world / "runs/extended/arithmetic/mlt/seed1337", PAPER_DIR)
    assert runs.NEEDS_GPU in fig._suptitle.get_text()
    assert not [t for ax in fig.axes for t in ax.texts if runs.NEEDS_GPU in t.get_text() or t.get_bbox_patch()]
    labels = legend_labels(fig)
    assert labels == ["addition: the authors' run", "subtraction: the authors' run", "train loss: the authors' run",
                      "validation loss: the authors' run", "the paper's training length (1,000 iterations)"]
    for ax in fig.axes:
        vertical = [l for l in ax.get_lines() if list(l.get_xdata()) == [1000, 1000]]
        assert len(vertical) == 1 and vertical[0].get_linestyle() == "--"
    figures.plt.close(fig)


def test_figure7_with_our_run_and_smoothed_stand_ins(world, tmp_path):
    """Our run present: its five series in the legend, the authors' faint; a longer-training stand-in drawn
    thin at every evaluation and thick as the centred mean of STAND_IN_WINDOW evaluations."""
    from analysis_fixtures import E, write_run

    results = tmp_path / "results"
    ext = write_run(results, "extended", "arithmetic", "mlt", [E(0), E(250, 900, 900, 0), E(500, 910, 910, 10)])
    held = [0, 30] * 20 + [40] * 10  # 50 evaluations every 250 iterations, jumping between 0 and 30 of 40
    write_run(results, "long", "arithmetic", "n28", [E(250 * i, 910, 910, h) for i, h in enumerate(held)])
    stand_in = runs.load_run(results, "long", "arithmetic", "n28", 1337)
    fig = figures.extended_figure(small_config(), ext, PAPER_DIR, [stand_in])
    labels = legend_labels(fig)
    assert labels[:6] == [figures.SERIES[m][0] for m in ("addition", "subtraction", "heldout", "train_loss", "val_loss")] \
        + ["faint: the authors' run (same colours)"]
    assert labels[-1] == "held-out (5,7) %: n28 long seed 1337 (trained on CPU)"
    colour = figures.STAND_IN_COLOURS[0]
    thin, thick = [l for l in fig.axes[0].get_lines() if l.get_color() == colour]
    pct = pd.Series(held) * 2.5
    assert list(thin.get_ydata()) == pct.tolist() and thin.get_linewidth() < thick.get_linewidth()
    mean = pct.rolling(figures.STAND_IN_WINDOW, center=True, min_periods=figures.STAND_IN_WINDOW).mean()
    assert list(thick.get_ydata()[10:30]) == pytest.approx([37.5] * 20)  # 0 and 30 of 40 alternating: 15/40
    assert list(thick.get_ydata()) == pytest.approx(mean.tolist(), nan_ok=True)
    assert f"mean over {figures.STAND_IN_WINDOW} evaluations" in fig._suptitle.get_text()
    figures.plt.close(fig)


def test_unknown_figure_is_a_clear_error(world, tmp_path):
    with pytest.raises(ValueError, match="Figures 1-7"):
        figures.write_figure(8, small_config(), world, PAPER_DIR, tmp_path / "x.png")
