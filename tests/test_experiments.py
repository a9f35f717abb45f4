"""The experiments beyond the paper (issue 6): run resolution, interval math, seed outcomes, sweep parameter
counts, out-of-domain error statistics, the report section, and what the workflow schedules."""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys

from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from analysis_fixtures import E, PAPER_DIR, REPO, small_config, write_run
from toobig import experiments as X
from toobig.analysis import experiments as A
from toobig.analysis import figures
from toobig.analysis import runs
from toobig.analysis.ood import evaluate_ood
from toobig.config import ConfigError, resolve_run
from toobig.data import write_dataset
from toobig.train import Trainer, build_model


@pytest.fixture(scope="module")
def config():
    return yaml.safe_load((REPO / "config.yaml").read_text())


# ---- resolution ------------------------------------------------------------------------------------------
def test_paper_runs_resolve_exactly_as_before(config):
    for regime in ("main", "controlled"):
        for task in ("arithmetic", "capitals", "joint"):
            for model in ("n14", "n28", "n56", "mlt"):
                assert X.resolve_experiment_run(config, task, model, regime, 1337) == resolve_run(config, task, model, regime, 1337)


def test_extended_run_is_the_main_mlt_with_appendix_b_schedule(config):
    cfg = X.resolve_experiment_run(config, "arithmetic", "mlt", "extended", 1337)
    main = resolve_run(config, "arithmetic", "mlt", "main", 1337).to_dict()
    changed = {k: v for k, v in cfg.to_dict().items() if main[k] != v}
    assert changed == {"regime": "extended", "learning_rate": 1e-6, "min_lr": 1e-7, "lr_decay_iters": 10_000_000,
                       "max_iters": 1_500_000}
    assert cfg.eval_interval == 250 and cfg.dropout == 0.2 and cfg.weight_decay == 0.1 and cfg.n_embd == 384


def test_long_training_and_training_variants(config):
    long = X.resolve_experiment_run(config, "arithmetic", "n56", "long", 1337)
    long_wd = X.resolve_experiment_run(config, "arithmetic", "n56", "long_wd", 1337)
    assert (long.max_iters, long.lr_decay_iters, long.weight_decay, long.learning_rate) == (300_000, 300_000, 0.0, 1e-2)
    assert long_wd.weight_decay == 0.1 and long_wd.to_dict() | {"weight_decay": 0.0, "regime": "long"} == long.to_dict()
    warm = X.resolve_experiment_run(config, "arithmetic", "n14", "warmup_100", 1337).to_dict()
    clip = X.resolve_experiment_run(config, "arithmetic", "n14", "no_clip", 1337).to_dict()
    main = resolve_run(config, "arithmetic", "n14", "main", 1337).to_dict()
    assert {k for k in warm if warm[k] != main[k]} == {"regime", "warmup_iters"} and warm["warmup_iters"] == 100
    assert {k for k in clip if clip[k] != main[k]} == {"regime", "grad_clip"} and clip["grad_clip"] == 0.0


def test_sweep_widths_copy_the_base_model(config):
    n8 = X.resolve_experiment_run(config, "capitals", "n8", "main", 1338)
    n14 = resolve_run(config, "capitals", "n14", "main", 1338).to_dict()
    assert n8.to_dict() == n14 | {"model": "n8", "n_embd": 8}
    assert X.resolve_experiment_run(config, "capitals", "n28", "main", 1338) == resolve_run(config, "capitals", "n28", "main", 1338)


def test_resolution_errors_name_the_problem(config):
    with pytest.raises(ConfigError, match="unknown regime 'warmup_5'"):
        X.resolve_experiment_run(config, "arithmetic", "n14", "warmup_5", 1337)
    clash = dict(config, experiments={"long_training": {"variants": {"no_clip": {}}}})
    with pytest.raises(ConfigError, match="'no_clip' is defined twice"):
        X.experiment_regimes(clash)
    with pytest.raises(ConfigError, match="clash with regime_settings"):
        X.experiment_regimes(dict(config, experiments={"long_training": {"variants": {"main": {}}}}))
    with pytest.raises(ConfigError, match="may not override seed"):
        X.experiment_regimes(dict(config, experiments={"sensitivity_training": {"variants": {"x": {"seed": 1}}}}))
    with pytest.raises(ConfigError, match="unknown run config key"):
        X.resolve_experiment_run(dict(config, experiments={"sensitivity_training": {"variants": {"x": {"warmup": 1}}}}),
                                 "arithmetic", "n14", "x", 1337)


def test_experiment_runs_counts(config):
    on = X.experiments_section(config)
    assert len(X.experiment_runs(config, "seeds")) == 2 * 3 * 3 * len(on["seeds"]["seeds"]) == 90
    assert len(X.experiment_runs(config, "sweep")) == 12 * 2 * 3
    assert X.experiment_runs(config, "extended") == [{"regime": "extended", "task": "arithmetic", "model": "mlt", "seed": 1337}]
    assert X.experiment_runs(config, "ood") == []


def test_schema_defaults_agree_with_the_library_defaults():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "experiments.schema.yaml").read_text())
    for name, props in schema["properties"].items():
        for key, spec in props["properties"].items():
            assert spec["default"] == X.DEFAULTS[name][key], (name, key)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    assert X.experiments_section(config) == X.DEFAULTS  # config.yaml states the defaults


# ---- statistics ------------------------------------------------------------------------------------------
def test_t_interval_on_hand_numbers():
    mean, low, high, n = X.mean_interval([1, 2, 3, 4, 5])
    # s = sqrt(10/4) = 1.58114; half width = 2.776 * 1.58114 / sqrt(5) = 1.96293
    assert (mean, n) == (3.0, 5) and low == pytest.approx(1.03707, abs=1e-5) and high == pytest.approx(4.96293, abs=1e-5)
    mean, low, high, n = X.mean_interval([40, 0])  # t(0.975, 1) = 12.706; s = 28.2843; half = 12.706 * 20 = 254.12
    assert (mean, low, high) == pytest.approx((20.0, 20 - 254.12, 20 + 254.12))
    assert X.mean_interval([40, 0], bounds=(0, 40))[:3] == (20.0, 0, 40)  # clipped to what the metric can take
    assert X.mean_interval([100, 90, 95], bounds=(0, 100))[2] == 100
    assert X.mean_interval([7.0, 7.0, 7.0])[:3] == (7.0, 7.0, 7.0)
    one = X.mean_interval([5, float("nan")])
    assert one[0] == 5 and math.isnan(one[1]) and one[3] == 1
    assert X.t_quantile_975(40) == pytest.approx(2.0211, abs=2e-4) and X.t_quantile_975(120) == pytest.approx(1.9799, abs=2e-4)


def test_a_snapshot_runs_table_shows_a_run_still_training_as_absent(tmp_path, monkeypatch):
    """finished_runs_only (profiles/snapshot): a run without provenance.json has no numbers in the table,
    as in the paper's tables; the full pipeline (which waits for it) would show it as incomplete."""
    results = tmp_path / "results"
    write_run(results, "long", "arithmetic", "n28", [E(0), E(250, 900, 900, 30)], finished=False)
    write_run(results, "long", "arithmetic", "n28", [E(0), E(250, 910, 910, 40)], seed=1338)
    runs_list = [{"regime": "long", "task": "arithmetic", "model": "n28", "seed": s} for s in (1337, 1338)]
    snapshot = A.runs_table(runs_list, results, finished_only=True).set_index("seed")
    assert snapshot.loc[1337, "status"] == "absent" and math.isnan(snapshot.loc[1337, "heldout_correct"])
    assert snapshot.loc[1338, "status"] == "complete" and snapshot.loc[1338, "heldout_correct"] == 40
    live = A.runs_table(runs_list, results).set_index("seed")
    assert live.loc[1337, "status"] == "incomplete" and live.loc[1337, "heldout_correct"] == 30
    drawn = []  # the long-training figure of the snapshot draws the finished run only
    monkeypatch.setattr(A.figures, "save", lambda fig, out: drawn.extend(
        l.get_label() for l in fig.axes[0].get_lines() if not l.get_label().startswith("_")))
    A.long_training_figure(snapshot.reset_index(), results, tmp_path / "long.png", paper_iters=30_000)
    assert drawn == ["long seed 1338"]


def test_long_training_figure_marks_where_the_paper_stops(tmp_path, monkeypatch):
    """A dashed vertical line at the paper's training length (training.max_iters), named in the legend, which
    sits below the axes (the curves fill the panel); with no run, the note says so and no legend is drawn."""
    results = tmp_path / "results"
    write_run(results, "long", "arithmetic", "n28", [E(0), E(250, 910, 910, 30), E(500, 910, 910, 10)])
    table = A.runs_table([{"regime": "long", "task": "arithmetic", "model": "n28", "seed": 1337}], results)
    figs = []
    monkeypatch.setattr(A.figures, "save", lambda fig, out: figs.append(fig))
    A.long_training_figure(table, results, tmp_path / "long.png", paper_iters=300)
    ax = figs[0].axes[0]
    vertical = [l for l in ax.get_lines() if list(l.get_xdata()) == [300, 300]]
    assert len(vertical) == 1 and vertical[0].get_linestyle() == "--"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["long seed 1337", "the paper's training length (300 iterations)"]
    figs[0].canvas.draw()
    assert not ax.get_legend().get_window_extent().overlaps(ax.get_window_extent())
    A.long_training_figure(table.iloc[:0], results, tmp_path / "none.png", paper_iters=30_000)
    ax = figs[1].axes[0]
    assert [list(l.get_xdata()) for l in ax.get_lines()] == [[30_000, 30_000]]
    assert ax.get_legend() is None and "no run yet" in [t.get_text() for t in ax.texts]
    for fig in figs:
        figures.plt.close(fig)


def test_heldout_stretches_cover_the_paper_run_then_each_later_stretch(tmp_path):
    """Iterations 0..first end inclusive (the paper's whole run), then (end, next end], the last up to the run's
    last evaluation; an end at or past the last evaluation adds no empty stretch; a run not started has no rows."""
    results = tmp_path / "results"
    write_run(results, "long", "arithmetic", "n28", [E(0), E(250, held=10), E(500, held=20), E(750), E(1000, held=40)])
    runs_list = [{"regime": "long", "task": "arithmetic", "model": m, "seed": 1337} for m in ("n28", "n56")]
    table = A.runs_table(runs_list, results)
    df = A.heldout_stretches(table, [1000, 250, 5000])  # unsorted ends are sorted; 1000 and 5000 end no stretch
    assert df[["from_iter", "to_iter", "evaluations", "heldout_max"]].values.tolist() == [[0, 250, 2, 10],
                                                                                          [250, 1000, 3, 40]]
    assert df["heldout_mean"].tolist() == [5.0, 20.0]
    assert df["evaluations_at_zero_pct"].tolist() == [50.0, 33.33]
    assert set(df["model"]) == {"n28"}


def test_heldout_by_expression_tells_the_four_expressions_apart(tmp_path, tiny_run):
    """Every finished arithmetic run's best checkpoint, one row per held-out expression; a run still training
    (no provenance.json) and a capitals run are left out."""
    import shutil

    tmp, config = tiny_run
    run = tmp / "run"
    results = tmp_path / "results"
    for seed, names in ((1337, ("best.pt", "metrics.csv", "provenance.json")), (1338, ("best.pt", "metrics.csv"))):
        dest = runs.run_path(results, "main", "arithmetic", "n14", seed)
        dest.mkdir(parents=True)
        for name in names:
            shutil.copy(run / name, dest)
    runs_list = [{"regime": "main", "task": t, "model": "n14", "seed": s}
                 for t, s in (("arithmetic", 1337), ("arithmetic", 1338), ("capitals", 1337))]
    df = A.heldout_by_expression(runs_list, results)
    assert df["expression"].tolist() == ["5+7=12", "7+5=12", "5-7=-2", "7-5=2"]
    assert set(df["seed"]) == {1337} and (df["samples"] == config["evaluation"]["samples_per_prompt"]).all()
    for r in df.to_dict("records"):  # "answers" lists every sample's answer; "correct" counts the expected one
        counts = dict(item.rsplit(" (", 1) for item in r["answers"].split(", "))
        assert sum(int(n.rstrip(")")) for n in counts.values()) == r["samples"]
        assert r["correct"] == int(counts.get(r["expression"].split("=")[1], "0)").rstrip(")"))
    best = runs.best_row(runs.read_metrics(run / "metrics.csv"))
    assert (df["heldout_correct_in_training"] == int(best["heldout_correct"])).all()
    # the committed paper run n28 (10/40 held-out at its best row): only the negative result is right, the other
    # three are off by one (temperature 0.01 makes the draw all but greedy, so the answers are stable)
    n28 = A.heldout_by_expression([{"regime": "main", "task": "arithmetic", "model": "n28", "seed": 1337}],
                                  REPO / "results")
    assert n28["correct"].tolist() == [0, 0, 10, 0]
    assert n28["answers"].tolist() == ["11 (10)", "11 (10)", "-2 (10)", "1 (10)"]
    shown = A.heldout_display(n28).iloc[0]  # the report's view: one run a line
    assert (shown["5+7=12"], shown["5-7=-2"], shown["7-5=2"], shown["held-out of 40 in training"]) == \
        ("0/10 (says 11)", "10/10", "0/10 (says 1)", 10)


def test_seed_outcomes_count_the_seeds_where_a_claim_holds(tmp_path):
    results = tmp_path / "results"
    heldout = {1337: 40, 1338: 40, 1339: 0, 1340: 40, 1341: 12}
    for seed, held in heldout.items():
        write_run(results, "main", "arithmetic", "n14", [E(0), E(250, 910, 910, held)], seed=seed)
    write_run(results, "main", "arithmetic", "n28", [E(0), E(250, 890, 890, 0)], seed=1337)
    runs_list = [{"regime": "main", "task": "arithmetic", "model": "n14", "seed": s} for s in heldout]
    runs_list += [{"regime": "main", "task": "arithmetic", "model": "n28", "seed": s} for s in (1337, 1338)]
    cells, outcomes = A.seeds_tables(A.runs_table(runs_list, results, {("main", "arithmetic", "n14", 1337)}))
    row = outcomes.set_index(["model", "outcome"]).loc[("n14", "extrapolates (held-out 40/40 at the best row)")]
    assert (row["k_of_n"], row["seeds"], row["seeds_planned"]) == ("3/5", "1337 1338 1340", 5)
    assert outcomes.set_index(["model", "outcome"]).loc[("n28", "no extrapolation (held-out 0/40 at the best row)"), "k_of_n"] == "1/1"
    assert outcomes.set_index(["model", "outcome"]).loc[("n28", "every seen expression right (addition and subtraction >= 97.8%)"), "k_of_n"] == "1/1"
    held = cells.set_index(["model", "metric"]).loc[("n14", "heldout_correct")]
    # s = 19.0997, t(0.975, 4) = 2.776 (the table's 3 decimals): 26.4 +- 23.7117; the upper end passes 40, clipped
    assert (held["mean"], held["ci95_high"], held["seeds_complete"]) == (26.4, 40, 5)
    assert held["ci95_low"] == pytest.approx(2.68834, abs=1e-5)
    assert held["wall_seconds"] == 5 * 12.5 and held["extra_wall_seconds"] == 4 * 12.5  # seed 1337 is a paper run
    assert cells.set_index(["model", "metric"]).loc[("n28", "heldout_correct"), "seeds_planned"] == 2


def test_seeds_figure_draws_every_finished_seed_and_stars_the_paper_run(tmp_path):
    results = tmp_path / "results"
    heldout = {1337: 40, 1338: 40, 1339: 0}
    for seed, held in heldout.items():
        write_run(results, "main", "arithmetic", "n14", [E(0), E(250, 910, 910, held)], seed=seed)
    write_run(results, "controlled", "arithmetic", "n14", [E(0), E(250, 910, 910, 30)], seed=1338)
    runs_list = [{"regime": r, "task": "arithmetic", "model": "n14", "seed": s}
                 for r in ("main", "controlled") for s in heldout]  # controlled 1337 and 1339 not trained
    summaries = A.runs_table(runs_list, results, {("main", "arithmetic", "n14", 1337)})
    cells, _ = A.seeds_tables(summaries)
    fig = A.draw_seeds(summaries, cells)
    (ax,) = fig.axes  # one panel: arithmetic's held-out count (no capitals or joint run)
    from matplotlib.collections import PathCollection

    points = [(tuple(p), float(c.get_sizes()[0])) for c in ax.collections
              if isinstance(c, PathCollection) for p in c.get_offsets()]  # the scatter dots, not the error bars
    assert sorted(y for (x, y), _ in points) == [0, 30, 40, 40]  # the four finished runs, nothing for the absent
    stars = [xy for xy, size in points if size > 20]  # the paper seed's marker is larger than the others'
    assert len(stars) == 1 and stars[0][1] == 40 and stars[0][0] < 0.5  # main (the first column), seed 1337
    assert [t.get_text() for t in ax.get_xticklabels()] == ["n14\nmain", "n14\ncontrolled"]
    figures.plt.close(fig)
    empty = A.draw_seeds(summaries.iloc[:0], cells.iloc[:0])
    assert "no seeds run yet" in [t.get_text() for t in empty.axes[0].texts]
    figures.plt.close(empty)


def test_wall_totals_round_a_float_sum_and_leave_out_paper_runs():
    runs_ = pd.DataFrame({"wall_seconds": [1435.1, 848.8, 10.0], "paper_run": [True, False, False]})
    assert runs_["wall_seconds"].iloc[:2].sum() == 2283.8999999999996  # what the tables printed before
    assert A.wall_totals(runs_) == (2293.9, 858.8)
    assert A.wall_totals(runs_.iloc[:0]) == (0.0, 0.0)


# ---- sweep -----------------------------------------------------------------------------------------------
def test_sweep_parameter_counts():
    protocol = {("arithmetic", 14): 1456, ("arithmetic", 28): 5264, ("arithmetic", 56): 19936,
                ("capitals", 14): 1932, ("capitals", 28): 6216, ("capitals", 56): 21840,
                ("joint", 14): 2142, ("joint", 28): 6636, ("joint", 56): 22680}
    vocab = {"arithmetic": 17, "capitals": 51, "joint": 66}
    for (task, n), count in protocol.items():
        assert X.nmodel_parameters(vocab[task], n) == count
    assert X.nmodel_parameters(17, 8) == 17 * 8 + 6 * 64 + 3 * 8 == 544
    assert X.nmodel_parameters(51, 64) == 51 * 64 + 6 * 4096 + 3 * 64 == 28_032
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for n in (8, 10, 36, 64):
        cfg = X.resolve_experiment_run(config, "capitals", f"n{n}", "main", 1337)
        assert build_model(cfg, 51).num_params() == X.nmodel_parameters(51, n)


def test_sweep_table_and_figure(tmp_path):
    results = tmp_path / "results"
    for seed, sub, held in ((1337, 910, 40), (1338, 455, 20)):
        write_run(results, "main", "arithmetic", "n8", [E(0), E(250, 910, sub, held)], seed=seed)
    write_run(results, "main", "capitals", "n8", [E(0), E(250, facts=250)], seed=1337)
    run_list = [{"regime": "main", "task": t, "model": "n8", "seed": s} for t in ("arithmetic", "capitals") for s in (1337, 1338)]
    df = A.write_sweep(run_list, results, small_config(), tmp_path / "sweep.csv", tmp_path / "sweep.png")
    rows = df.set_index(["task", "metric"])
    held = rows.loc[("arithmetic", "heldout (5,7) %")]
    assert (held["parameters"], held["mean"], held["seeds_complete"], held["seeds_planned"]) == (544, 75.0, 2, 2)
    assert (held["ci95_low"], held["ci95_high"]) == (0.0, 100.0)  # 75 +- 318 clipped to what a percentage can be
    seen = rows.loc[("arithmetic", "arithmetic % (mean of addition and subtraction, held-out four included)")]
    assert (seen["mean"], seen["values"]) == (87.5, "100 75")  # seed 1338: addition 100%, subtraction 50%
    cap = rows.loc[("capitals", "facts %")]
    assert (cap["parameters"], cap["mean"], cap["seeds_complete"]) == (51 * 8 + 6 * 64 + 24, 50.0, 1)
    assert len(df) == 3  # capitals has no arithmetic rows
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_sweep_legend_hides_no_point():
    # series cross the whole plot (held-out falls while facts rise), so the legend must sit outside the axes
    from matplotlib.transforms import Bbox
    rows = [{"task": task, "model": f"n{n}", "parameters": 60 * n * n, "metric": metric, "seeds_complete": 3,
             "mean": mean, "ci95_low": max(mean - 20, 0), "ci95_high": min(mean + 20, 100)}
            for n, (held, facts) in zip((8, 16, 28, 64), ((70, 0), (100, 20), (10, 97), (30, 100)))
            for task, metric, mean in (("arithmetic", "heldout (5,7) %", held), ("capitals", "facts %", facts))]
    fig = A.draw_sweep(pd.DataFrame(rows))
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent()
    assert not legend.overlaps(ax.get_window_extent())
    assert Bbox.union([legend, ax.get_window_extent()]).height <= fig.bbox.height + 1  # and it is not cut off
    figures.plt.close(fig)


# ---- out of domain ---------------------------------------------------------------------------------------
def test_error_stats_on_hand_answers():
    stats = A.error_stats([20, 20, 20, 20, 20, 20], ["20", "19", "22", "30", None, "-1"])
    # wrong parsed answers: 19, 22, 30, -1 -> errors 1, 2, 10, 21; median 6; p90 = 10 + 0.7 * 11 = 17.7
    assert stats == {"wrong": 4, "unparsed": 1, "abs_err_median": 6.0, "abs_err_p90": pytest.approx(17.7),
                     "share_within_1": 0.25, "share_off_by_10": 0.25}
    # tens-digit errors either way (25 and 5 for 15) count as off by exactly 10; 11 and 9 do not
    stats = A.error_stats([15, 15, 15, 15, 15, 15, 3], ["25", "5", "14", "26", "24", "15", "-7"])
    assert (stats["wrong"], stats["share_off_by_10"], stats["share_within_1"]) == (6, 3 / 6, 1 / 6)
    none = A.error_stats([3], ["3"])
    assert math.isnan(none["abs_err_median"]) and math.isnan(none["share_off_by_10"])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A real 21-iteration n14 arithmetic run (seconds), for the evaluation-only experiments."""
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("tiny")
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    write_dataset("arithmetic", config["data"], tmp / "data")
    cfg = resolve_run(config | {"training": config["training"] | {"max_iters": 20, "eval_interval": 10,
                                                                   "loss_interval": 10, "loss_batches": 1,
                                                                   "checkpoint_interval": 100, "compile": False}},
                      "arithmetic", "n14", "main", 1337)
    Trainer(cfg, tmp / "data", tmp / "run", device="cpu", log=lambda m: None).run()
    return tmp, config


# the paper's own n14 run (committed): it answers some out-of-domain subtractions right, so counts are not all 0
PAPER_N14 = REPO / "results/runs/main/arithmetic/n14/seed1337/best.pt"


def test_ood_samples_match_the_evaluate_ood_counts(tmp_path):
    tmp, config = tmp_path, yaml.safe_load((REPO / "config.yaml").read_text())
    samples = A.write_ood_samples(PAPER_N14, config["data"], tmp / "samples.csv", tmp / "timing.csv")
    counts = evaluate_ood(PAPER_N14)
    assert len(samples) == 2 * (400 - 100) * 10
    # the time apart, one number: re-sampling must not rewrite 6,000 lines of a committed file for it
    assert "eval_seconds" not in pd.read_csv(tmp / "samples.csv").columns
    seconds = pd.read_csv(tmp / "timing.csv")["eval_seconds"]
    assert len(seconds) == 1 and seconds.iloc[0] > 0
    # each sample judged against the arithmetic of its own prompt, worked out here from the text "<a+b=" / "<a-b="
    a_op_b = samples["prompt"].str.extract(r"^<(\d+)([+-])(\d+)=$")
    truth = a_op_b[0].astype(int) + a_op_b[2].astype(int) * a_op_b[1].map({"+": 1, "-": -1})
    assert (samples["expected"] == truth).all()
    assert (samples["correct"] == (pd.to_numeric(samples["answer"], errors="coerce") == truth).astype(int)).all()
    for op, key in (("addition", "ood_add"), ("subtraction", "ood_sub")):
        assert int(samples.loc[samples["operator"] == op, "correct"].sum()) == counts[f"{key}_correct"]
    assert counts["ood_sub_correct"] > 0
    pd.DataFrame([counts]).to_csv(tmp / "ood.csv", index=False)
    table = A.ood_table([{"regime": "main", "model": "n14", "seed": seed, "samples": tmp / "samples.csv",
                          "counts": tmp / "ood.csv", **({"timing": tmp / "timing.csv"} if seed == 1337 else {})}
                         for seed in (1337, 1338)], A.paper_ood_values(PAPER_DIR))
    assert list(table["operator"]) == ["addition", "subtraction"] * 2 and list(table["total"]) == [3000] * 4
    assert table["wall_seconds"].iloc[:2].tolist() == [seconds.iloc[0] / 2] * 2  # one call, split over two rows
    assert table["wall_seconds"].iloc[2:].isna().all()  # no timing file: not measured, not 0
    # the paper's 0% / 4.75% beside the run it measured (seed 1337) only
    assert table["paper_pct"].tolist()[:2] == [0.0, 4.75] and table["paper_pct"].iloc[2:].isna().all()
    shown = A.display(REPO / "results/experiments/ood.csv", table)  # the report's view: labelled columns, a share as a percentage
    assert {"correct %", "no number", "% of wrong answers off by 1", "% of wrong answers off by exactly 10"} <= \
        set(shown.columns) and not {"share_within_1", "share_off_by_10"} & set(shown.columns)
    assert shown["% of wrong answers off by 1"].tolist() == pytest.approx((100 * table["share_within_1"]).tolist(), nan_ok=True)
    assert shown["% of wrong answers off by exactly 10"].tolist() == \
        pytest.approx((100 * table["share_off_by_10"]).tolist(), nan_ok=True)
    for op in ("addition", "subtraction"):  # the table's share is the samples' own, worked out here
        part = samples[(samples["operator"] == op) & (samples["correct"] == 0)]
        err = (pd.to_numeric(part["answer"], errors="coerce") - part["expected"]).abs().dropna()
        row = table[(table["seed"] == 1337) & (table["operator"] == op)].iloc[0]
        assert row["share_off_by_10"] == pytest.approx((err == 10).mean())
    bad = dict(counts, ood_add_correct=counts["ood_add_correct"] + 1)
    pd.DataFrame([bad]).to_csv(tmp / "bad.csv", index=False)
    with pytest.raises(ValueError, match="must sample alike"):
        A.ood_table([{"regime": "main", "model": "n14", "seed": 1337, "samples": tmp / "samples.csv", "counts": tmp / "bad.csv"}])


def test_evaluation_variants_of_a_checkpoint():
    """The paper's n14 (100% seen, 40/40 held-out at its best row): each variant's setting reaches the sampler."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    variants = X.DEFAULTS["sensitivity_eval"]["variants"]
    df = A.evaluate_variants(PAPER_N14, config["data"], variants).set_index("variant")
    assert list(df.index) == ["reference", "temperature_0.8", "greedy", "grid_100"]  # prompt style: capitals only
    assert df.loc["grid_100", "add_total"] == 1000 and df.loc["reference", "add_total"] == 910
    assert (df["heldout_total"] == 40).all() and (df["facts_total"] == 0).all()
    # the reference re-sampling gives the training-time best row (every answer right there, so no near ties flip)
    best = runs.best_row(runs.read_metrics(PAPER_N14.parent / "metrics.csv"))
    ref = df.loc["reference"]
    assert (ref["add_correct"], ref["sub_correct"], ref["heldout_correct"]) == \
        (int(best["add_correct"]), int(best["sub_correct"]), int(best["heldout_correct"])) == (910, 910, 40)
    # temperature 0.8 reaches the sampler: about 1 in 30 answers goes wrong (98.7% / 94.8% measured)
    hot = df.loc["temperature_0.8"]
    assert hot["add_correct"] + hot["sub_correct"] < 1820 - 20
    # top_k 1 reaches it too: with it, temperature 0.8 no longer matters
    greedy_hot = A.evaluate_variants(PAPER_N14, config["data"], {"g": {"top_k": 1, "temperature": 0.8}}).iloc[0]
    for column in ("add_correct", "sub_correct", "heldout_correct"):
        assert greedy_hot[column] == df.loc["greedy", column]
    again = A.evaluate_variants(PAPER_N14, config["data"], {"hot": {"temperature": 0.8}}).iloc[0]
    assert again["add_correct"] == hot["add_correct"]  # seeded: the same counts
    with pytest.raises(ValueError, match="may set only"):
        A.evaluate_variants(PAPER_N14, config["data"], {"x": {"warmup_iters": 1}})


def test_sensitivity_table_marks_training_variants_not_run(tmp_path):
    results = tmp_path / "results"
    write_run(results, "main", "arithmetic", "n14", [E(0), E(250, 910, 910, 40)])
    write_run(results, "warmup_100", "arithmetic", "n14", [E(0), E(250, 890, 890, 0)])
    ref = [{"regime": "main", "task": "arithmetic", "model": "n14", "seed": 1337}]
    train = [{"regime": r, "task": "arithmetic", "model": "n14", "seed": 1337} for r in ("warmup_100", "no_clip")]
    df = A.sensitivity_table(ref, [], train, results, {"warmup_100": {"warmup_iters": 100}})
    assert list(df["heldout"]) == ["40/40", "0/40", ""] and list(df["status"]) == ["complete", "complete", "absent"]
    assert df.iloc[1]["setting"] == '{"warmup_iters": 100}'
    assert list(df["seconds_of"]) == ["training"] * 3


def test_sensitivity_table_gives_capitals_no_held_out_count(tmp_path):
    """Capitals has no held-out test: its rows leave the held-out columns empty rather than say 0 of 0."""
    results = tmp_path / "results"
    write_run(results, "main", "capitals", "n14", [E(0), E(250, facts=37)])
    df = A.sensitivity_table([{"regime": "main", "task": "capitals", "model": "n14", "seed": 1337}], [], [], results)
    row = df.iloc[0]
    assert row["heldout"] == "" and pd.isna(row["heldout_correct"]) and pd.isna(row["heldout_total"])
    assert row["facts"] == 7.4


# ---- report ----------------------------------------------------------------------------------------------
def test_report_view_says_which_experiments_were_switched_off(tmp_path):
    config = small_config()
    (tmp_path / "experiments").mkdir()
    pd.DataFrame([{"regime": "main", "model": "n14", "wall_seconds": 7200.0}]).to_csv(tmp_path / "experiments" / "ood.csv", index=False)
    view = {e["name"]: e for e in A.report_view(config, tmp_path)}
    assert view["seeds"]["off"] == "not run (switched off in config.yaml: experiments.seeds.enabled)"
    assert not view["seeds"]["enabled"] and view["ood"]["enabled"]
    assert view["ood"]["time"] == "Evaluation time: 2.00 h of single-thread wall-clock time (no training)."
    assert "<table" in view["ood"]["tables"][0]["html"]
    assert view["sensitivity_eval"]["tables"][0]["missing"]
    assert set(view) == set(A.NOTES) and "sampling noise alone" in view["sensitivity_eval"]["note"]  # how to read it


def _wall(path, seconds: float) -> None:
    prov = json.loads((path / "provenance.json").read_text())
    (path / "provenance.json").write_text(json.dumps(prov | {"wall_seconds": seconds}))


def test_report_view_counts_each_run_once_over_the_experiments(tmp_path):
    """seeds and sweep share runs (main arithmetic n14 at seeds 1337 and 1338): the paper's run is the paper's,
    the shared seed 1338 is counted by the seeds experiment (first in TITLES) and named as shared under the
    sweep; the section's total counts each run beyond the paper once, by run directory. The OOD time is
    evaluation time, apart."""
    config = small_config()
    config["experiments"] = {"seeds": {"enabled": True, "seeds": [1337, 1338], "tasks": ["arithmetic"], "models": ["n14"],
                                       "regimes": ["main"]},
                             "sweep": {"enabled": True, "widths": [8, 14], "tasks": ["arithmetic"], "seeds": [1337, 1338]},
                             "sensitivity_eval": {"enabled": False}}
    seconds = {("n14", 1337): 3600.0, ("n14", 1338): 1800.0, ("n8", 1337): 720.0, ("n8", 1338): 360.0}
    for (model, seed), wall in seconds.items():
        _wall(write_run(tmp_path, "main", "arithmetic", model, [E(0), E(250, 910, 910, 40)], seed=seed), wall)
    write_run(tmp_path, "main", "arithmetic", "n8", [E(0)], seed=1339, finished=False)  # not planned, not finished
    (tmp_path / "experiments").mkdir()
    pd.DataFrame([{"regime": "main", "model": "n14", "seed": 1337, "operator": op, "wall_seconds": 30.0}
                  for op in ("addition", "subtraction")]).to_csv(tmp_path / "experiments" / "ood.csv", index=False)
    view = A.report_view(config, tmp_path)
    entries = {e["name"]: e for e in view}
    assert entries["seeds"]["time"] == ("Training: 1.50 h of single-thread wall-clock time over 2 finished runs; "
                                        "1.00 h of it the paper's own runs (1); 0.50 h beyond the paper (1).")
    assert entries["sweep"]["time"] == ("Training: 1.80 h of single-thread wall-clock time over 4 finished runs; "
                                        "1.00 h of it the paper's own runs (1); 0.50 h shared with the seeds "
                                        "experiment, counted there (1); 0.30 h beyond the paper and the experiments "
                                        "above (2).")
    assert entries["ood"]["time"] == "Evaluation time: 60 s of single-thread wall-clock time (no training)."
    assert view.total.startswith("Beyond the paper's own runs, the experiments switched on trained 3 distinct runs "
                                 "(each counted once, by run directory): 0.80 h of single-thread wall-clock time")
    assert "not CPU time" in view.total and view.total.endswith("(the evaluation-only experiments) took 60 s more.")
    assert entries["long_training"]["time"] == ""  # switched off: no time line
    html = (REPO / "workflow/report/report.html.j2").read_text()
    assert "{{ experiments.total }}" in html and "{{ e.time }}" in html  # the template prints both
    assert not any("CPU time in all" in e["time"] for e in view)


def test_ood_note_names_the_paper_arithmetic_runs_without_a_row(tmp_path):
    """ood.csv has no row for a run trained on a GPU whose best.pt stayed there, nor for one not run: the note
    says which and why, from the run directories."""
    config = small_config()
    config["models"] = ["n14", "mlt"]
    n14 = write_run(tmp_path, "main", "arithmetic", "n14", [E(0), E(250, 910, 910, 40)])
    (n14 / "best.pt").write_bytes(b"")
    mlt = write_run(tmp_path, "main", "arithmetic", "mlt", [E(0), E(250, 890, 890, 0)])
    prov = json.loads((mlt / "provenance.json").read_text())
    (mlt / "provenance.json").write_text(json.dumps(prov | {"device": "NVIDIA H200", "precision": "bf16 autocast"}))
    n14c = write_run(tmp_path, "controlled", "arithmetic", "n14", [E(0), E(250, 910, 910, 40)])
    (n14c / "best.pt").write_bytes(b"")  # finished, with its checkpoint, but not sampled yet
    (tmp_path / "experiments").mkdir()
    pd.DataFrame([{"regime": "main", "model": "n14", "seed": 1337, "operator": op, "wall_seconds": 1.0}
                  for op in ("addition", "subtraction")]).to_csv(tmp_path / "experiments" / "ood.csv", index=False)
    ood = {e["name"]: e for e in A.report_view(config, tmp_path)}["ood"]
    assert ood["note"].startswith(A.NOTES["ood"])
    assert ood["note"].endswith(" The paper's arithmetic runs without a row here: MLT main: trained on a GPU (NVIDIA H200), "
                                "best.pt not here; n14 controlled: not evaluated yet; MLT controlled: not run.")
    assert "every arithmetic model" not in A.TITLES["ood"]
    assert "133/2,800 = 4.75%" in A.NOTES["ood"] and "142.5" in A.NOTES["ood"]


def test_report_view_counts_each_sweep_width_time_once(tmp_path):
    config = small_config()
    config["experiments"] = {"sweep": {"enabled": True}}
    run_list = [{"regime": "main", "task": t, "model": "n8", "seed": s} for t, s in
                (("arithmetic", 1337), ("arithmetic", 1338), ("capitals", 1337))]
    for r in run_list:
        path = write_run(tmp_path, r["regime"], r["task"], r["model"], [E(0), E(250, 910, 910, 40)], seed=r["seed"])
        prov = json.loads((path / "provenance.json").read_text())
        (path / "provenance.json").write_text(json.dumps(prov | {"wall_seconds": 3600.0}))
    df = A.write_sweep(run_list, tmp_path, config, tmp_path / "experiments" / "sweep.csv", tmp_path / "experiments" / "sweep.png")
    assert len(df) == 3  # two arithmetic metric rows (2 h each) and one capitals row (1 h)
    sweep = {e["name"]: e for e in A.report_view(config, tmp_path)}["sweep"]
    assert sweep["time"].startswith("Training: 3.00 h of single-thread wall-clock time over 3 finished runs; ")


# ---- workflow --------------------------------------------------------------------------------------------
def snakemake_jobs(tmp_path, overrides: dict, configfiles=("config.yaml",), targets=()) -> dict[str, int]:
    """Job counts of a dry run with config files of the repository plus `overrides`, for `targets` (default: all)."""
    (tmp_path / "o.yaml").write_text(yaml.safe_dump(overrides))
    res = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--nolock", "--cores", "2", "--configfiles",
                          *(str(REPO / f) for f in configfiles), str(tmp_path / "o.yaml"), "--", *targets], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    stats = res.stdout.split("Job stats:", 1)[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M) if m.group(1) != "total"}


def dry_run(tmp_path, experiments: dict, targets: list[str] = ()) -> dict[str, int]:
    overrides = {"results_dir": f"{tmp_path}/results", "blog": {"enabled": False}, "run_mlt": "never",
                 "experiments": experiments}
    return snakemake_jobs(tmp_path, overrides, targets=targets)


OFF = {name: {"enabled": False} for name in X.EXPERIMENTS}
EXPERIMENT_RULES = {"train_experiment", "train_sweep", "sample_ood_answers", "make_ood_table", "make_extended_table",
                    "make_long_training_table", "make_seeds_table", "make_sweep_table", "evaluate_sensitivity", "make_sensitivity_table"}


def test_switched_off_experiments_add_no_job(tmp_path):
    jobs = dry_run(tmp_path, OFF)
    assert not EXPERIMENT_RULES & set(jobs)
    assert jobs["train_model"] == 18 and jobs["evaluate_ood"] == 1  # the paper's n-model runs, section 5.1 n14


def test_default_and_all_on_schedules(tmp_path):
    jobs = dry_run(tmp_path, {})  # defaults: the two evaluation-only experiments (sensitivity: n14, n28 x 3 tasks)
    assert {k: jobs.get(k, 0) for k in EXPERIMENT_RULES} == {
        "sample_ood_answers": 6, "make_ood_table": 1, "evaluate_sensitivity": 6, "make_sensitivity_table": 1, "train_experiment": 0,
        "train_sweep": 0, "make_extended_table": 0, "make_long_training_table": 0, "make_seeds_table": 0, "make_sweep_table": 0}
    assert jobs["train_model"] == 18 and jobs["evaluate_ood"] == 6
    on = {name: {"enabled": True} for name in X.EXPERIMENTS} | {"extended": {"enabled": True, "device": "cpu"}}
    jobs = dry_run(tmp_path, on)
    # 18 paper n-model runs + 4 more seeds of each; 9 sweep widths x 2 tasks x 3 seeds; extended + 4 long + 4 variants
    assert (jobs["train_model"], jobs["train_sweep"], jobs["train_experiment"]) == (18 + 72, 54, 9)
    assert all(jobs[r] == 1 for r in ("make_extended_table", "make_long_training_table", "make_seeds_table", "make_sweep_table"))
    # out of domain: the 6 paper arithmetic n-model runs and the seeds experiment's 24 more (3 models x 2 regimes x 4)
    assert jobs["sample_ood_answers"] == jobs["evaluate_ood"] == 6 + 24


def test_claims_are_judged_on_the_seeds_experiment_runs(tmp_path):
    on = {"seeds": {"enabled": True, "tasks": ["arithmetic"], "models": ["n14"]}}
    jobs = dry_run(tmp_path, on, [f"{tmp_path}/results/claims.csv"])
    # the 18 paper runs and seeds 1338-1341 of arithmetic n14 in both regimes; section 5.1 on main n14 at 5 seeds
    assert (jobs["train_model"], jobs["evaluate_ood"]) == (18 + 8, 5)


def test_claims_and_figure7_wait_for_the_sweep_and_longer_training_runs(tmp_path):
    on = {"sweep": {"enabled": True}, "long_training": {"enabled": True}}
    # claims: 18 paper runs, the paper seed's arithmetic sweep widths below and above the paper's (9), 4 long runs
    jobs = dry_run(tmp_path, on, [f"{tmp_path}/results/claims.csv"])
    assert (jobs["train_model"], jobs["train_sweep"], jobs["train_experiment"]) == (18, 9, 4)
    jobs = dry_run(tmp_path, on, [f"{tmp_path}/results/figures/figure7.png"])
    assert jobs == {"make_dataset": 1, "train_experiment": 4, "make_figure": 1}
    assert dry_run(tmp_path, OFF, [f"{tmp_path}/results/figures/figure7.png"]) == {"make_figure": 1}


def test_the_cpu_profile_plans_the_experiments_the_readme_lists(tmp_path):
    jobs = snakemake_jobs(tmp_path, {"results_dir": f"{tmp_path}/results", "blog": {"enabled": False}},
                          ("config.yaml", "profiles/cpu/overrides.yaml", "profiles/cpu/experiments.yaml"))
    # 18 paper runs + seeds 1338-1341 of arithmetic, capitals and joint x n14/n28/n56 x both regimes (the sweep's
    # main seeds 1338-1339 of these widths among them); 9 new widths x 2 tasks x 3 seeds; 4 training-sensitivity
    # runs + n28 and n56 trained 10x longer without and with weight decay: 134 beyond the paper's
    assert (jobs["train_model"], jobs["train_sweep"], jobs["train_experiment"]) == (18 + 3 * 3 * 8, 54, 4 + 4)


def test_sweep_and_long_training_stacks_are_stackable(config):
    from toobig.multirun import check_stackable

    exp = X.experiments_section(config)
    sweep = [X.resolve_experiment_run(config, "arithmetic", "n8", "main", s) for s in exp["sweep"]["seeds"]]
    long = [X.resolve_experiment_run(config, "arithmetic", "n56", v, s) for v in exp["long_training"]["variants"]
            for s in exp["long_training"]["seeds"]]
    check_stackable(sweep)
    check_stackable(long)


def test_with_stack_runs_the_sweep_trains_one_process_per_width(tmp_path):
    overrides = {"results_dir": f"{tmp_path}/results", "blog": {"enabled": False}, "run_mlt": "never", "stack_runs": True,
                 "experiments": {"sweep": {"enabled": True}, "long_training": {"enabled": True}}}
    jobs = snakemake_jobs(tmp_path, overrides, targets=[f"{tmp_path}/results/experiments/sweep.csv",
                                                        f"{tmp_path}/results/experiments/long_training.csv"])
    # 9 widths x 2 tasks (3 seeds each); n28 and n56 (2 variants); 14/28/56 x 2 tasks x 3 seeds as paper stacks
    assert (jobs["train_sweep_stack"], jobs["train_long_stack"], jobs["train_stack"]) == (18, 2, 18)
    assert "train_sweep" not in jobs and "train_experiment" not in jobs


def test_a_stacked_run_counts_its_share_of_the_stack_time():
    assert A.run_wall_seconds({"wall_seconds": 9.0, "stacked_with": ["a", "b"]}) == 3.0
    assert A.run_wall_seconds({"wall_seconds": 9.0}) == 9.0 and math.isnan(A.run_wall_seconds({}))


def test_seeds_display_reads_mean_and_interval_per_cell():
    cells = pd.DataFrame([
        {"regime": "main", "task": "arithmetic", "model": "n14", "metric": "heldout_correct", "seeds_complete": 5,
         "seeds_planned": 5, "mean": 26.4, "ci95_low": 3.1, "ci95_high": 49.7, "seed1337": 40.0, "values": "40 40 0 40 12"},
        {"regime": "main", "task": "arithmetic", "model": "n28", "metric": "addition", "seeds_complete": 1,
         "seeds_planned": 5, "mean": 97.8, "ci95_low": math.nan, "ci95_high": math.nan, "seed1337": 97.8, "values": "97.8"},
        {"regime": "main", "task": "arithmetic", "model": "n56", "metric": "subtraction", "seeds_complete": 0,
         "seeds_planned": 5, "mean": math.nan, "ci95_low": math.nan, "ci95_high": math.nan, "seed1337": math.nan, "values": ""}])
    shown = A.seeds_display(cells)
    assert list(shown["mean [95% t-interval]"]) == ["26.4 [3.1, 49.7]", "97.8 (one seed: no interval)", "no seed finished"]
    assert list(shown["seeds finished"]) == ["5/5", "1/5", "0/5"]
    assert list(shown["metric"]) == ["held-out (5,7) correct of 40", "addition %", "subtraction %"]


def test_the_report_shows_runs_tables_without_their_bookkeeping_columns():
    df = pd.DataFrame([{"regime": "long", "model": "n28", "run_dir": "results/runs/x", "paper_run": False,
                        "stack_size": 1, "heldout_max_over_training": 30}])
    shown = A.display(Path("long_training.csv"), df)
    assert list(shown.columns) == ["regime", "model", "heldout_max_over_training"]
