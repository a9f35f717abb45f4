"""Tables 1-7 from hand-made runs with known answers (see analysis_fixtures.paper_world)."""
import pandas as pd
import pytest

from analysis_fixtures import PAPER_DIR, E, metrics_frame, paper_world, small_config
from toobig.analysis import runs, tables


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return paper_world(tmp_path_factory.mktemp("results"))


def test_best_row_is_first_highest_score():
    df = metrics_frame("arithmetic", [E(0), E(250, 900, 900), E(500, 910, 900), E(750, 900, 910), E(1000, 10, 10)])
    assert int(runs.best_row(df)["iter"]) == 500  # 500 and 750 tie on score: the earlier wins


def test_table2_rows_values_and_differences(world):
    df = tables.results_table(2, small_config(), world, PAPER_DIR).set_index("model")
    assert list(df.index) == ["n14", "n28", "n56", "mlt"]
    n14, n28, n56, mlt = (df.loc[m] for m in ("n14", "n28", "n56", "mlt"))
    assert (n14["best_iter"], n14["addition"], n14["heldout"], n14["heldout_diff"]) == (500, 100.0, "40/40", 0)
    assert (n14["parameters"], n14["parameters_source"]) == (1456, "provenance.json")
    assert n14["grid"] == 91 and n14["status"] == "complete"
    assert (n28["best_iter"], n28["addition"], n28["addition_correct"]) == (500, 97.802, 890)
    assert n28["addition_diff"] == -0.198 and n28["addition_matches_printed"]  # 97.8 prints as the paper's "98%"
    assert n28["heldout"] == "0/40" and n28["paper_heldout_printed"] == "0/40"
    assert n28["parameters"] == 5264 and n28["parameters_source"] == "computed from config"
    assert n56["status"] == "absent" and n56["note"] == "not run yet (no metrics.csv)" and pd.isna(n56["addition"])
    assert mlt["note"] == runs.NEEDS_GPU and mlt["paper_addition_printed"] == "98%" and mlt["parameters"] == 10628352


def test_table3_and_table4_columns(world):
    t3 = tables.results_table(3, small_config(), world, PAPER_DIR).set_index("model")
    assert t3.loc["n14", "facts"] == 8.2 and t3.loc["n14", "facts_matches_printed"]
    assert t3.loc["n28", "facts"] == 100.0 and t3.loc["n28", "best_iter"] == 1000
    assert "addition" not in t3.columns and pd.isna(t3.loc["n14", "grid"])
    t4 = tables.results_table(4, small_config(), world, PAPER_DIR).set_index("model")
    n14 = t4.loc["n14"]
    assert (n14["addition"], n14["subtraction"], n14["facts"]) == (31.209, 39.451, 2.0)
    assert n14["combined"] == round(100 * (284 + 359 + 10) / 2320, 3) and n14["paper_combined_printed"] == "28.6%"
    assert n14["subtraction_diff"] == 0.051
    n28 = t4.loc["n28"]
    assert n28["status"] == "incomplete" and n28["note"] == "incomplete: trained to iteration 500 of 1000"
    assert n28["facts"] == 80.0  # the best row so far, shown and flagged


def test_table1_from_config():
    config = small_config()
    df = tables.hyperparameter_table(config, PAPER_DIR).set_index("config_key")
    assert [df.loc["n_embd", m] for m in ("n14", "n28", "n56", "mlt")] == [14, 28, 56, 384]
    assert df.loc["learning_rate", "mlt"] == 1e-5 and df.loc["learning_rate", "matches"] is True
    assert df["regime"].tolist().count("controlled") == 2
    config["model_settings"]["n28"]["n_layer"] = 2  # (a width is its label's: n28 with n_embd 30 is refused)
    changed = tables.hyperparameter_table(config, PAPER_DIR).set_index("parameter")
    assert not changed.loc["Layers", "matches"] and changed.loc["Embedding size (n)", "matches"]
    assert changed.loc["Layers", "n28"] == 2


def test_write_table_csv_is_tidy_and_stable(world, tmp_path):
    out1, out2 = tmp_path / "a.csv", tmp_path / "b.csv"
    tables.write_table(2, small_config(), world, PAPER_DIR, out1)
    tables.write_table(2, small_config(), world, PAPER_DIR, out2)
    assert out1.read_bytes() == out2.read_bytes()
    df = pd.read_csv(out1)
    assert df["heldout_correct"].dtype.kind in "if" and len(df) == 4
    assert "\n1456," not in out1.read_text() and ",1456," in out1.read_text()  # integers written without ".0"


def test_unknown_table_is_a_clear_error(world):
    with pytest.raises(ValueError, match="not a results table"):
        tables.results_table(8, small_config(), world, PAPER_DIR)


def test_paper_tables_hold_the_printed_values():
    from toobig.analysis import paper

    t4 = paper.paper_table(PAPER_DIR, 4).set_index("model")
    assert t4.loc["n28", "subtraction_printed"] == "97%" and t4.loc["n14", "facts"] == 2.0
    assert paper.paper_table(PAPER_DIR, 6).set_index("model").loc["n14", "facts_printed"] == "12.4%"
    assert paper.text_values(PAPER_DIR)["ood_subtraction"]["value"] == 4.75


def test_snapshot_counts_an_unfinished_run_as_not_run(world):
    """finished_runs_only: a run without provenance.json is 'not run yet', whatever rows it has written."""
    config = {**small_config(), "finished_runs_only": True}
    t4 = tables.results_table(4, config, world, PAPER_DIR).set_index("model")
    assert t4.loc["n28", "status"] == "absent" and t4.loc["n28", "note"] == "not run yet (no metrics.csv)"
    assert pd.isna(t4.loc["n28", "facts"])
    assert t4.loc["n14", "status"] == "complete"  # finished runs are unaffected
