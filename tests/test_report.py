"""The report rendered from fixture results: every table, figure and verdict is on the page, and it is
self-contained (no network)."""
import json
import re

import pytest

from analysis_fixtures import PAPER_DIR, REPO, E, paper_world, small_config, write_run
from toobig.analysis import claims, figures, paper, report, tables


def render(tmp, world, config, paper_dir=PAPER_DIR) -> str:
    tmp.mkdir(parents=True, exist_ok=True)
    table_paths = {n: tmp / f"table{n}.csv" for n in range(1, 8)}
    for n, path in table_paths.items():
        tables.write_table(n, config, world, PAPER_DIR, path)
    # a figure is any PNG to the report; two real ones keep the test fast, the rest reuse them
    figure_paths = {n: tmp / f"figure{n}.png" for n in range(1, 8)}
    figures.write_figure(1, config, world, PAPER_DIR, figure_paths[1])
    figures.write_figure(7, config, world, PAPER_DIR, figure_paths[7])
    for n in range(2, 7):
        figure_paths[n].write_bytes(figure_paths[1].read_bytes())
    claims.write_claims(config, world, PAPER_DIR, tmp / "claims.csv")
    out = tmp / "report.html"
    report.render_report(config, world, paper_dir, table_paths, figure_paths, tmp / "claims.csv",
                         REPO / "workflow" / "report", out)
    return out.read_text()


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    return render(tmp, paper_world(tmp / "results"), small_config())


def test_every_table_and_figure_with_its_caption(html):
    caps = paper.captions(PAPER_DIR)
    for n in range(1, 8):
        assert f'id="table{n}"' in html and caps["tables"][n]["caption"].replace("&", "&amp;") in html
        assert f'id="figure{n}"' in html and f'alt="Figure {n}"' in html
    assert html.count('src="data:image/png;base64,') == 7


def test_each_caption_shows_the_verdicts_of_the_claims_that_read_it(html):
    """A caption describes; the paper's reading of the figure is a claim, and its verdict stands beside it."""
    verdicts = dict(re.findall(r'<tr id="claim-([\w-]+)">.*?<span class="badge v-[\w-]+">([\w ]+)</span>', html, re.S))
    assert len(verdicts) == len(paper.claims(PAPER_DIR))
    figure2 = re.search(r'<figure id="figure2">(.*?)</figure>', html, re.S).group(1)
    assert re.search(r'href="#claim-capitals-n14-never-converges"><code>capitals-n14-never-converges</code></a> '
                     rf'\(<span class="badge v-[\w-]+">{verdicts["capitals-n14-never-converges"]}</span>\)', figure2)
    named = [c for kind in ("tables", "figures") for cap in paper.captions(PAPER_DIR)[kind].values()
             for c in cap.get("claims", [])]
    assert set(named) <= set(verdicts) and "controlled-joint" in named


def test_a_caption_naming_an_unknown_claim_is_an_error(tmp_path):
    import shutil

    paper_copy = tmp_path / "paper"
    shutil.copytree(PAPER_DIR, paper_copy)
    text = (paper_copy / "captions.yaml").read_text().replace("claims: [capitals-n14-never-converges]",
                                                                "claims: [capitals-n14-never-converge]")
    (paper_copy / "captions.yaml").write_text(text)
    with pytest.raises(ValueError, match="capitals-n14-never-converge$"):
        render(tmp_path / "r", paper_world(tmp_path / "results"), small_config(), paper_dir=paper_copy)


def test_every_claim_with_its_verdict(html):
    for c in paper.claims(PAPER_DIR):
        assert f"<code>{c['id']}</code>" in html
    summary = re.search(r'<p class="summary">(.*?)</p>', html, re.S).group(1)
    assert re.findall(r">(\d+) (reproduced|not reproduced|not run)<", summary) == [
        ("11", "reproduced"), ("0", "not reproduced"), ("11", "not run")]  # counted by hand from paper_world
    # the CPU stand-in asks a paper claim's question of our own runs: named beside the count, never in it
    assert "of the paper's 22 claims" in summary and "<code>extended-no-grokking-cpu</code> (not run)" in summary
    assert len(paper.claims(PAPER_DIR)) == 23


def test_values_not_run_provenance_and_protocol(html):
    assert "<b>40/40</b>" in html and "<b>97.8%</b>" in html and "(−0.2 pt)" in html
    assert "not run here (needs a GPU)" in html and "main/arithmetic/n56/seed1337" in html
    assert "abc123def456" in html and "cpu (x86_64)" in html  # provenance of the fixture runs
    assert "<code>training.max_iters</code>" in html and "<code>evaluation.grid</code>" in html


def test_self_contained(html):
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from the network


def test_blog_section_is_embedded_with_its_images(tmp_path):
    fragment = tmp_path / "blog" / "report.html"
    fragment.parent.mkdir()
    (fragment.parent / "dyn.png").write_bytes(b"\x89PNG fake")
    fragment.write_text('<section id="blog-experiment"><h2>Blog</h2><img src="dyn.png" alt="d"></section>')
    html = report.blog_section(fragment)
    assert 'src="data:image/png;base64,iVBORyBmYWtl"' in html and 'src="dyn.png"' not in html
    assert report.blog_section(None) is None and report.blog_section(tmp_path / "absent.html") is None


def test_switched_off_blog_is_said_so(html):
    assert "not run (switched off in config.yaml: <code>blog.enabled</code>)" in html


def test_claims_show_their_count_over_seeds(tmp_path):
    world = paper_world(tmp_path / "results")
    write_run(world, "main", "arithmetic", "n14", [E(0), E(500, 910, 910, 10), E(1000, 900, 900)], seed=1338)
    config = small_config()
    config["experiments"]["seeds"].update(enabled=True, seeds=[1337, 1338])
    claims.write_claims(config, world, PAPER_DIR, tmp_path / "claims.csv")
    html = report.render_report(config, world, PAPER_DIR, {}, {}, tmp_path / "claims.csv", REPO / "workflow" / "report",
                                tmp_path / "report.html")
    row = re.search(r"<code>arith-n14-extrapolates</code>.*?</tr>", html, re.S).group(0)
    assert "1/2<br><span class=\"small\">reproduced in 1337; not reproduced in 1338</span>" in row
    row = re.search(r"<code>capitals-threshold</code>.*?</tr>", html, re.S).group(0)
    assert row.endswith('<td><span class="small">one seed</span></td>\n</tr>')
    assert "<th>Over seeds</th>" in html and "The verdict is the paper seed's (1337)" in html


def test_quoted_ood_values_put_the_paper_seed_first_and_label_the_others(tmp_path):
    paths = []
    for seed, (add, sub) in {1338: (0, 240), 1337: (0, 120), 1339: (30, 90)}.items():
        path = tmp_path / "ood" / f"seed{seed}" / "ood.csv"
        path.parent.mkdir(parents=True)
        path.write_text("ood_add_correct,ood_add_total,ood_sub_correct,ood_sub_total,best_iter\n"
                        f"{add},3000,{sub},3000,100\n")
        paths.append(path)
    rows = report.ood_view(paths + [tmp_path / "ood" / "seed1340" / "ood.csv"], paper_seed=1337)  # 1340: not run
    assert [(r["seed"], r["add"], r["sub"], r["sub_counts"]) for r in rows] == [
        (1337, "0.00%", "4.00%", "120/3000"), (1338, "0.00%", "8.00%", "240/3000"), (1339, "1.00%", "3.00%", "90/3000")]
    html = report.render_report(small_config(), paper_world(tmp_path / "results"), PAPER_DIR, {}, {},
                                _claims_csv(tmp_path), REPO / "workflow" / "report", tmp_path / "report.html",
                                ood_csvs=paths)
    row = re.search(r"<td>Out of domain: subtraction</td>.*?</tr>", html, re.S).group(0)
    assert "4.00% <span class=\"small\">(seed 1337: 120/3000)</span>" in row
    assert "other seeds: 1338 8.00%, 1339 3.00%" in row


def _claims_csv(tmp_path):
    path = tmp_path / "claims.csv"
    claims.write_claims(small_config(), paper_world(tmp_path / "claims_world"), PAPER_DIR, path)
    return path


def test_unfinished_experiment_runs_are_listed_as_not_run(tmp_path):
    world = paper_world(tmp_path / "results")
    write_run(world, "main", "arithmetic", "n14", [E(0), E(500, 910, 910, 10)], seed=1339, finished=False)
    config = small_config()
    config["experiments"]["seeds"].update(enabled=True, seeds=[1337, 1338, 1339], tasks=["arithmetic"], models=["n14"],
                                          regimes=["main"])
    _, absent = report.provenance_rows(config, world)
    listed = {a["run"]: a["reason"] for a in absent}
    assert listed["main/arithmetic/n14/seed1338"] == "not trained yet; planned by experiments.seeds"
    assert listed["main/arithmetic/n14/seed1339"].startswith("training, or stopped before the end")
    assert "main/arithmetic/n14/seed1337" not in listed  # the paper's run, present


def test_gpu_runs_brought_home_without_their_checkpoint_are_named(tmp_path):
    world = paper_world(tmp_path / "results")
    run = write_run(world, "main", "capitals", "mlt", [E(0, facts=500), E(500, facts=500), E(1000, facts=500)])
    prov = json.loads((run / "provenance.json").read_text())
    (run / "provenance.json").write_text(json.dumps({**prov, "device": "NVIDIA H200", "precision": "bf16 autocast"}))
    present, _ = report.provenance_rows(small_config(), world)
    row = next(p for p in present if p["run"] == "main/capitals/mlt/seed1337")
    assert row["gpu"] and not row["best_kept"]
    assert not any(p["gpu"] for p in present if p["run"] != row["run"])
    text = re.sub(r"\s+", " ", render(tmp_path, world, small_config()))
    assert ("main/capitals/mlt/seed1337 was trained on a GPU (NVIDIA H200, bf16 autocast); the <code>best.pt</code> "
            "of main/capitals/mlt/seed1337 (42 MB a run) did not come along") in text
    # Table 3's MLT row says how it was made, unlike its CPU-trained neighbours
    table3 = text.split('id="table3"', 1)[1].split('id="table4"', 1)[0]
    assert table3.count("trained on NVIDIA H200, bf16 autocast") == 1 and table3.count("trained on") == 1


def test_a_gpu_sessions_partial_run_is_pointed_to_and_its_commit_label_kept_whole(tmp_path):
    """A GPU session stops runs unfinished (results/gpu/<session>/partial_runs/): the not-run list names the furthest;
    a session that ran a commit plus a fix records "<hash>+<fix>", which the provenance table must not cut."""
    world = paper_world(tmp_path / "results")
    for session, last in (("h200-a", 11000), ("h200-b", 23250)):
        write_run(world, "controlled", "arithmetic", "mlt", [E(0), E(last, 890, 890)], finished=False)
        partial = world / "gpu" / session / "partial_runs" / "controlled" / "arithmetic" / "mlt" / "seed1337"
        partial.parent.mkdir(parents=True)
        (world / "runs" / "controlled" / "arithmetic" / "mlt" / "seed1337").rename(partial)
    run = write_run(world, "main", "arithmetic", "mlt", [E(0), E(1000, 890, 890)])
    prov = json.loads((run / "provenance.json").read_text())
    (run / "provenance.json").write_text(json.dumps({**prov, "git_commit": "1ef5c10+config-fix"}))
    present, absent = report.provenance_rows(small_config(), world)
    reason = {a["run"]: a["reason"] for a in absent}["controlled/arithmetic/mlt/seed1337"]
    assert reason == ("not run here (needs a GPU); a GPU session stopped it at iteration 23,250, kept in "
                      f"{world}/gpu/h200-b/partial_runs/controlled/arithmetic/mlt/seed1337 (not tabulated)")
    commits = {p["run"]: p["commit"] for p in present}
    assert commits["main/arithmetic/mlt/seed1337"] == "1ef5c10+config-fix"
    assert commits["main/arithmetic/n14/seed1337"] == "0" * 12  # a full hash is shortened as before


def test_results_cells_show_the_mean_over_seeds_when_the_seeds_experiment_ran(tmp_path):
    """With experiments.seeds on and its seeds.csv written, each Table 2 cell of a configuration it covers carries
    "over seeds: mean [interval], k seeds"; switched off, the same file is not read."""
    world = paper_world(tmp_path / "results")
    seeds_csv = world / "experiments" / "seeds.csv"
    seeds_csv.parent.mkdir(parents=True)
    seeds_csv.write_text(
        "regime,task,model,metric,seeds_complete,seeds_planned,mean,ci95_low,ci95_high,min,max,seed1337,values,"
        "wall_seconds,extra_wall_seconds\n"
        "main,arithmetic,n14,addition,5,5,99.5,98.25,100.0,98.9,100.0,100.0,100 100 98.9 98.9 100,10,5\n"
        "main,arithmetic,n14,heldout_correct,5,5,34.0,22.9,40.0,20,40,40,40 40 30 20 40,10,5\n"
        "main,arithmetic,n28,heldout_correct,1,5,10.0,,,10,10,10,10,10,0\n")
    config = small_config()
    config["experiments"]["seeds"]["enabled"] = True
    html = render(tmp_path / "on", world, config)
    table2 = re.search(r'<h3 id="table2">(.*?)</table>', html, re.S).group(1)
    assert "over seeds: 99.5% [98.2%, 100.0%], 5 seeds" in table2
    assert "over seeds: 34.0 [22.9, 40.0]/40, 5 seeds" in table2
    assert "over seeds: 10.0/40, 1 seed<" in table2  # one seed: no interval
    config["experiments"]["seeds"]["enabled"] = False
    assert "over seeds:" not in render(tmp_path / "off", world, config)
