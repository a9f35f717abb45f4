"""Figures from hand-made runs: files written, red dots where they belong, absent runs said plainly."""
import matplotlib.image as mpimg
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


def test_unknown_figure_is_a_clear_error(world, tmp_path):
    with pytest.raises(ValueError, match="Figures 1-7"):
        figures.write_figure(8, small_config(), world, PAPER_DIR, tmp_path / "x.png")
