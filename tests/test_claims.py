"""Claims: predicates on hand-made runs, verdicts, and the out-of-domain evaluation."""
import pandas as pd
import pytest
import torch

from analysis_fixtures import PAPER_DIR, REPO, E, paper_world, small_config, write_run
from toobig.analysis import claims, ood, paper


@pytest.fixture()
def world(tmp_path):
    return paper_world(tmp_path / "results")


def by_id(df):
    return df.set_index("id")


def evaluate(world, **kwargs):
    return by_id(claims.evaluate_claims(paper.claims(PAPER_DIR), claims.Measured(small_config(), world, **kwargs)))


def test_claims_yaml_has_the_issue_claims_and_valid_predicates():
    ids = {c["id"] for c in paper.claims(PAPER_DIR)}
    for needed in ("arith-n14-extrapolates", "arith-larger-memorize", "capitals-threshold", "joint-no-extrapolation",
                   "joint-n14-regresses", "controlled-arithmetic", "controlled-capitals", "controlled-joint",
                   "ood-n14-fails", "extended-no-grokking"):
        assert needed in ids
    for c in paper.claims(PAPER_DIR):
        assert c["quote"] and c["checks"]
        assert all(spec["predicate"] in claims.PREDICATES for spec in c["checks"])


def test_verdicts_on_the_fixture_world(world):
    df = evaluate(world)
    assert df.loc["arith-n14-extrapolates", "verdict"] == "reproduced"
    assert "n14: held-out 40/40 (best evaluation, iter 500" in df.loc["arith-n14-extrapolates", "evidence"]
    larger = df.loc["arith-larger-memorize"]
    assert larger["verdict"] == "reproduced" and "n28: addition 97.80%" in larger["evidence"]
    assert larger["not_run"] == "MLT (not run here (needs a GPU)); n56 (not run yet (no metrics.csv))"
    assert df.loc["arith-n14-perfect-repeatedly", "evidence"].startswith("n14: 2 of 5 evaluations add_and_sub_perfect, first at iter 500")
    # n28's early 5/40 is seen; the window after 5000 holds no evaluation in a 1000-iteration world
    early = df.loc["arith-n28-early-heldout"]
    assert (early["verdict"], early["checks_passed"], early["checks_not_run"]) == ("reproduced", 1, 1)
    assert df.loc["capitals-threshold", "verdict"] == "reproduced"
    assert "n14: facts 8.20%" in df.loc["capitals-threshold", "evidence"]
    regress = df.loc["joint-n14-regresses"]
    assert regress["verdict"] == "reproduced" and "2.00% < 8.20%?" in regress["evidence"]
    # joint n28 is unfinished: claims about it wait, they are not judged on a partial run
    assert df.loc["joint-n28-saturates", "verdict"] == "not run"
    assert "incomplete: trained to iteration 500 of 1000" in df.loc["joint-n28-saturates", "not_run"]
    for cid in ("controlled-arithmetic", "controlled-capitals", "controlled-joint", "ood-n14-fails",
                "extended-no-grokking", "extended-no-grokking-cpu", "n14-smallest-viable"):
        assert df.loc[cid, "verdict"] == "not run"


def test_a_failing_check_is_reported_plainly(world):
    write_run(world, "main", "arithmetic", "n28", [E(0), E(500, 900, 900, 12), E(1000, 890, 890)])
    row = evaluate(world).loc["arith-larger-memorize"]
    assert row["verdict"] == "not reproduced" and row["checks_failed"] == 1
    assert "n28: held-out 12/40 (best evaluation, iter 500; needs == 0/40) ✗" in row["evidence"]


def test_ood_and_extended_predicates(world):
    path = claims.ood_path(world, "main", "n14", 1337)
    path.parent.mkdir(parents=True)
    pd.DataFrame([{"ood_add_correct": 0, "ood_add_total": 3000, "ood_sub_correct": 150, "ood_sub_total": 3000}]).to_csv(path, index=False)
    write_run(world, "extended", "arithmetic", "mlt", [E(0), E(250, 890, 890, 0), E(500, 890, 890, 1)])
    df = evaluate(world, extended_dir=world / "runs/extended/arithmetic/mlt/seed1337")
    assert df.loc["ood-n14-fails", "verdict"] == "reproduced" and "ood subtraction 5.00%" in df.loc["ood-n14-fails", "evidence"]
    better = df.loc["ood-subtraction-better"]
    assert better["verdict"] == "reproduced" and "ood subtraction 5.00% (needs > ood addition 0.00%)" in better["evidence"]
    assert df.loc["extended-no-grokking", "verdict"] == "not reproduced"  # 1/40 at iteration 500
    assert "held-out max 1/40" in df.loc["extended-no-grokking", "evidence"]


def test_smallest_viable_reads_the_capacity_sweep(world):
    config = small_config()
    config["experiments"]["sweep"].update(enabled=True, widths=[8, 12, 14, 28])
    write_run(world, "main", "arithmetic", "n8", [E(0), E(500, 500, 400), E(1000, 600, 300)])

    def row():
        return by_id(claims.evaluate_claims(paper.claims(PAPER_DIR), claims.Measured(config, world))).loc["n14-smallest-viable"]
    first = row()  # n8 never learns, n14 does (910/910), n12 not trained yet: listed, not guessed
    assert first["verdict"] == "reproduced" and first["not_run"] == "n12 (not run yet (no metrics.csv))"
    assert "n8: addition 54.95%, subtraction 43.96% (not learned; should not reach 90% on both)" in first["evidence"]
    assert "n14: addition 100.00%, subtraction 100.00% (learned; should reach 90% on both)" in first["evidence"]
    write_run(world, "main", "arithmetic", "n12", [E(0), E(1000, 910, 820, 3)])  # 100% and 90.1%: a smaller width learns
    second = row()
    assert second["verdict"] == "not reproduced" and "n12: addition 100.00%, subtraction 90.11% (learned;" in second["evidence"]
    config["experiments"]["sweep"]["enabled"] = False
    assert row()["verdict"] == "not run"


def test_longer_training_stand_in_counts_only_evaluations_after_the_papers_iterations(world):
    # trained to the experiment's 300,000 iterations (a run that stopped short would be incomplete)
    write_run(world, "long", "arithmetic", "n28", [E(0), E(30000, 890, 890, 12), E(35000, 890, 890, 0), E(300000)])
    write_run(world, "long_wd", "arithmetic", "n28", [E(0), E(30000, 890, 890), E(40000, 890, 890, 3), E(300000)])
    row = evaluate(world).loc["extended-no-grokking-cpu"]
    assert (row["verdict"], row["checks_passed"], row["checks_failed"]) == ("not reproduced", 1, 1)
    assert "n28 long: max held-out 0/40 over iterations [30001, end)" in row["evidence"]  # 12/40 at 30000 is outside the window
    assert "n28 long_wd: max held-out 3/40 over iterations [30001, end) (needs == 0/40) ✗" in row["evidence"]
    # an absent run says whether the config asks for it: long_training is off in config.yaml
    assert "n56 long (not planned: experiments.long_training is off)" in row["not_run"]
    config = small_config()
    config["experiments"]["long_training"].update(enabled=True, models=["n28"], seeds=[1337])
    def not_run():
        return by_id(claims.evaluate_claims(paper.claims(PAPER_DIR), claims.Measured(config, world))).loc[
            "extended-no-grokking-cpu", "not_run"]
    assert "n56 long (not planned: experiments.long_training does not ask for it)" in not_run()
    config["experiments"]["long_training"]["models"] = ["n28", "n56"]
    assert "n56 long (not run yet (no metrics.csv))" in not_run()
    # one still training is measured against its own length (the experiment's max_iters), not the paper's
    config["experiments"]["long_training"]["settings"] = {"max_iters": 50000, "lr_decay_iters": 50000}
    write_run(world, "long", "arithmetic", "n56", [E(0), E(6750, 890, 890)], finished=False)
    assert "n56 long (incomplete: trained to iteration 6750 of 50000)" in not_run()


def test_an_absent_controlled_run_is_named_with_its_regime(world):
    """subtraction-harder checks main and controlled alike: "MLT (not run ...)" alone would not say which is missing."""
    for regime in ("main", "controlled"):
        for model in ("n14", "n28", "n56"):
            write_run(world, regime, "arithmetic", model, [E(0), E(1000, 910, 900)])
    write_run(world, "main", "arithmetic", "mlt", [E(0), E(1000, 910, 900)])
    row = evaluate(world).loc["subtraction-harder"]
    assert row["not_run"] == "controlled MLT (not run here (needs a GPU))"
    assert "MLT: mean subtraction" in row["evidence"]  # a measured run keeps its short label


def test_unknown_predicate_or_op_is_a_clear_error(world):
    measured = claims.Measured(small_config(), world)
    with pytest.raises(ValueError, match="unknown predicate 'bestest'"):
        claims.check(measured, {"predicate": "bestest"})
    with pytest.raises(ValueError, match="unknown op '=<'"):
        claims.check(measured, {"predicate": "best", "regime": "main", "task": "arithmetic", "models": ["n14"],
                                "metric": "addition", "op": "=<", "value": 1})


def test_write_claims_csv(world, tmp_path):
    df = claims.write_claims(small_config(), world, PAPER_DIR, tmp_path / "claims.csv")
    back = pd.read_csv(tmp_path / "claims.csv", keep_default_na=False)
    assert list(back["id"]) == [c["id"] for c in paper.claims(PAPER_DIR)]
    assert set(back["verdict"]) <= {"reproduced", "not reproduced", "not run"} and len(df) == len(back)


def test_ood_evaluation_counts_and_is_deterministic(tmp_path, config):
    """The paper's own n14 run (committed): totals, the seeded sampler, and counts that are not all zero."""
    from toobig.checkpoint import load_checkpoint

    best_pt = REPO / "results/runs/main/arithmetic/n14/seed1337/best.pt"
    out = tmp_path / "ood.csv"
    first = ood.write_ood(best_pt, config["data"], out)
    assert (first["ood_add_total"], first["ood_sub_total"]) == (3000, 3000)  # 300 pairs x 10 samples per operator
    assert first["ood_sub_correct"] > 0  # the paper: 4.75% of its subtractions right
    assert ood.evaluate_ood(best_pt) == first
    assert list(pd.read_csv(out).columns) == list(ood.COLUMNS)
    # at temperature 1 the draws matter: the run's seed fixes them, another seed changes them
    ckpt = load_checkpoint(best_pt)
    counts = {}
    for seed in (1337, 1337, 1338):
        ckpt["run_config"].update(temperature=1.0, seed=seed)
        torch.save(ckpt, tmp_path / "hot.pt")
        row = ood.evaluate_ood(tmp_path / "hot.pt")
        counts.setdefault(seed, []).append(tuple(v for k, v in row.items() if k.endswith(("_correct", "_terminated"))))
    assert counts[1337][0] == counts[1337][1] != counts[1338][0]


def test_each_claim_is_judged_on_each_seed_that_covers_the_same_runs(world):
    # seed 1338: n14 extrapolates, n28 memorises; seed 1339: n14 misses 5-7 (20/40); seed 1340: only n14 exists
    for seed, n14_held in ((1338, 40), (1339, 20), (1340, 40)):
        write_run(world, "main", "arithmetic", "n14", [E(0), E(500, 910, 910, n14_held), E(1000, 900, 900)], seed=seed)
    for seed in (1338, 1339):
        write_run(world, "main", "arithmetic", "n28", [E(0), E(500, 890, 890), E(1000, 890, 890)], seed=seed)
    # the MLT exists at the paper seed only (a GPU run): the seeds are compared on the n-models, or none would count
    write_run(world, "main", "arithmetic", "mlt", [E(0), E(500, 890, 890), E(1000, 890, 890)])
    assert "MLT: held-out 0/40" in evaluate(world).loc["arith-larger-memorize", "evidence"]
    config = small_config()
    df = by_id(claims.over_seeds(paper.claims(PAPER_DIR), config, world, [1337, 1338, 1339, 1340, 1341]))
    # arith-n14-extrapolates reads n14 only: every seed with an n14 run counts
    assert df.loc["arith-n14-extrapolates", "seeds_reproduced"] == "3/4"
    assert df.loc["arith-n14-extrapolates", "seeds_detail"] == "reproduced in 1337 1338 1340; not reproduced in 1339"
    # arith-larger-memorize reads n28 too: seed 1340 has no n28 run, so it is not counted (nor 1341, with nothing)
    assert df.loc["arith-larger-memorize", "seeds_reproduced"] == "3/3"
    assert df.loc["arith-larger-memorize", "seeds_detail"] == "reproduced in 1337 1338 1339"
    # claims whose runs exist for one seed only get no count
    assert df.loc["capitals-threshold", "seeds_reproduced"] == "" and df.loc["controlled-arithmetic", "seeds_detail"] == ""


def test_claims_csv_carries_the_seed_counts_when_the_seeds_experiment_is_on(world, tmp_path):
    write_run(world, "main", "arithmetic", "n14", [E(0), E(500, 910, 910, 10), E(1000, 900, 900)], seed=1338)
    config = small_config()
    config["experiments"]["seeds"].update(enabled=True, seeds=[1337, 1338])
    assert claims.claim_seeds(config) == [1337, 1338]
    df = by_id(claims.write_claims(config, world, PAPER_DIR, tmp_path / "claims.csv"))
    assert df.loc["arith-n14-extrapolates", "verdict"] == "reproduced"  # the verdict stays the paper seed's
    assert df.loc["arith-n14-extrapolates", "seeds_reproduced"] == "1/2"
    assert pd.read_csv(tmp_path / "claims.csv", keep_default_na=False).columns[-2:].tolist() == ["seeds_reproduced",
                                                                                                 "seeds_detail"]
    config["experiments"]["seeds"]["enabled"] = False
    assert claims.claim_seeds(config) == [1337]
    assert claims.write_claims(config, world, PAPER_DIR, tmp_path / "claims.csv")["seeds_reproduced"].eq("").all()


def test_the_plateau_is_judged_on_the_last_tenth_of_training_only(world):
    """arith-larger-plateau: held-out 0/40 at every evaluation from iteration 27,000 and a mean per operator that
    prints as 98% (>= 97.5); a held-out hit before the window does not count, a slipping subtraction does."""
    write_run(world, "main", "arithmetic", "n28", [E(0), E(20000, 910, 910, 5), E(27000, 890, 890), E(30000, 890, 880)])
    row = evaluate(world).loc["arith-larger-plateau"]
    assert row["verdict"] == "not reproduced" and row["kind"] == "paper"
    assert "n28: max held-out 0/40 over iterations [27000, end) (needs == 0/40)" in row["evidence"]
    assert "n28: mean subtraction 97.25% over iterations [27000, end) (needs >= 97.50%) ✗" in row["evidence"]
    write_run(world, "main", "arithmetic", "n28", [E(0), E(20000, 910, 910, 5), E(27000, 890, 890), E(30000, 890, 890)])
    assert evaluate(world).loc["arith-larger-plateau", "verdict"] == "reproduced"
    write_run(world, "main", "arithmetic", "n28", [E(0), E(27000, 890, 890), E(30000, 890, 890, 1)])
    assert evaluate(world).loc["arith-larger-plateau", "verdict"] == "not reproduced"
    assert evaluate(world).loc["extended-no-grokking-cpu", "kind"] == "stand-in"
