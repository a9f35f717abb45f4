"""benchmarks/gpu.py runs on the CPU with tiny counts and prints every figure of its table."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import REPO

NUMBER = r"[0-9][0-9.,e+-]*"


def test_gpu_benchmark_prints_every_figure_on_cpu():
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gpu.py"), "--device", "cpu", "--model", "n14", "--tasks",
         "arithmetic", "--models", "n14", "--iters", "2", "--evals", "1", "--no-compile", "--samples", "1",
         "--loss-batches", "2"], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert re.search(r"FLOPs/iteration = \(6\*N \+ 12\*L\*C\*T\) \* B\*T .*: " + NUMBER, text)
    assert "peak bf16 dense: n/a" in text  # a CPU has no entry in the peak table
    for variant in ("reference (plain eager loop)", "ours (eager)"):
        line = next(l for l in text.splitlines() if l.startswith(variant))
        cells = line[len(variant):].split()
        # ms/iter, tokens/s, MFU, s/eval, s/loss-est, start-up s, run min, speed-up
        assert len(cells) == 8 and cells[2] == "n/a", line
        assert all(re.fullmatch(NUMBER + "x?", c) for i, c in enumerate(cells) if i != 2), line
        assert float(cells[0]) > 0 and float(cells[3]) > 0
    shape = next(l for l in text.splitlines() if l.startswith("arithmetic/n14"))
    assert shape.split()[1:3] == ["2", "stacked"]
    assert re.search(r"projected wall time, 2 of the 24 paper runs .*: " + NUMBER + " min", text)
    assert re.search(r"1\.5M-iteration run .* ours \(ours \(eager\)\) " + NUMBER + " h, reference " + NUMBER + " h",
                     text)


def test_gpu_benchmark_profiles_the_step_and_can_skip_the_projection():
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gpu.py"), "--device", "cpu", "--model", "n14", "--iters", "2",
         "--evals", "1", "--no-compile", "--samples", "1", "--loss-batches", "2", "--no-projection", "--profile"],
        capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert "ours (eager)" in out.stdout and "1.5M-iteration run" in out.stdout
    assert "projection with" not in out.stdout and "paper runs" not in out.stdout
    assert re.search(r"step profile of ours \(eager\), 2 steps under torch.profiler: " + NUMBER + " ms/step wall$",
                     out.stdout, re.M)
    ops = dict(re.findall(r"^  (aten::\w+)\s+(" + NUMBER + r")\s+" + NUMBER + "$", out.stdout, re.M))
    assert "aten::mm" in ops and len(ops) >= 5  # the step's own ops, by time: the matmuls among them


def test_cpu_benchmark_prints_the_reference_ours_and_a_stack_per_run():
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "train_speed.py"), "--iters", "2", "--evals", "1",
         "--no-compile", "--stacks", "2", "--profile"], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr
    rows = {}
    for line in out.stdout.splitlines():
        for variant in ("reference (plain loop)", "ours (eager)", "ours, stack of 2 (per run)"):
            if line.startswith(variant):
                rows[variant] = line[len(variant):].split()
    assert set(rows) == {"reference (plain loop)", "ours (eager)", "ours, stack of 2 (per run)"}, out.stdout
    for cells in rows.values():  # ms/iter, s/eval, s/loss-est, start-up s, full run min, speed-up
        assert len(cells) == 6 and all(re.fullmatch(NUMBER + "x?", c) for c in cells), cells
        assert float(cells[0]) > 0 and float(cells[4]) > 0
    assert rows["reference (plain loop)"][5] == "1.0x"  # the speed-ups are ratios to the reference row
    parts = dict(re.findall(r"^  (\S.*?)\s+(" + NUMBER + r")(?:\s+" + NUMBER + "%)?$", out.stdout, re.M))
    assert set(parts) == {"compiled kernels (inductor C++)", "matmuls (mm, addmm, bmm)", "optimizer and clipping",
                          "everything else (eager ops, dispatch)", "total"}, out.stdout
    assert float(parts["compiled kernels (inductor C++)"]) == 0.0  # --no-compile: no compiled graph ran
    assert float(parts["matmuls (mm, addmm, bmm)"]) > 0 and float(parts["optimizer and clipping"]) > 0
    total = sum(float(v) for k, v in parts.items() if k != "total")
    assert abs(total - float(parts["total"])) <= 0.02  # the parts add up (each printed to 0.01 ms)
    floor = re.search(r"^floor: the (\d+) matmuls of one eager step, replayed bare: (" + NUMBER + r") ms/step; a full "
                      r"run within 2 min leaves (" + NUMBER + r") ms/step after ours \(eager\)'s", out.stdout, re.M)
    assert floor, out.stdout
    # n14 arithmetic, one layer: 5 linear layers forward (q/k/v, attention out, MLP in, MLP out, tied head) and
    # 2 attention bmm; backward 2 mm per linear layer and 2 bmm per forward bmm
    assert int(floor[1]) == 5 + 2 + 2 * 5 + 2 * 2 and float(floor[2]) > 0
    _, eval_s, loss_s, warm = (float(c) for c in rows["ours (eager)"][:4])
    budget_ms = (120 - 121 * eval_s - 61 * loss_s - warm) / 30_001 * 1e3
    assert abs(float(floor[3]) - budget_ms) <= 0.01  # printed cells are rounded: 0.005 ms at most


def test_cpu_benchmark_names_an_unknown_inductor_option():
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "train_speed.py"), "--inductor", "no_such=1"],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode != 0 and "torch._inductor.config has no option 'no_such'" in out.stderr


def test_gpu_session_script_trains_what_is_not_committed_and_packs_it_without_checkpoints(tmp_path):
    """benchmarks/run_on_gpu.sh on the CPU with a tiny MLT: the committed MLT runs are skipped, the others
    trained in one lane, and the tarball holds their metrics, timing, provenance and logs but no checkpoint."""
    import tarfile

    import yaml

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["training"].update(max_iters=20, eval_interval=10, loss_interval=10, loss_batches=2, checkpoint_interval=10,
                              compile=False)
    config["evaluation"]["samples_per_prompt"] = 1
    config["model_settings"]["mlt"].update(n_layer=1, n_head=2, n_embd=12)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "OUT": str(tmp_path / "out"), "WORK": str(tmp_path / "work"), "DEVICE": "cpu",
           "CONFIG": str(tmp_path / "tiny.yaml"), "SKIP_BENCH": "1", "PYTHON": sys.executable,
           "TOOBIG_GIT_COMMIT": "c" * 40}
    out = subprocess.run(["bash", str(REPO / "benchmarks" / "run_on_gpu.sh")], capture_output=True, text=True,
                         timeout=600, cwd=REPO, env=env)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "every lane has ended" in out.stdout
    with tarfile.open(tmp_path / "out" / "mlt_runs.tar.gz") as tar:
        names = set(tar.getnames())
    every = {f"{r}/{t}" for r in ("main", "controlled") for t in ("arithmetic", "capitals", "joint")}
    committed = {run for run in every if (REPO / f"results/runs/{run}/mlt/seed1337/provenance.json").exists()}
    trained = every - committed
    assert committed and trained  # the GPU sessions so far committed some MLT runs, not all
    assert {n.split("/")[2] + "/" + n.split("/")[3] for n in names if n.endswith("/provenance.json")} == trained
    for run in trained:
        for f in ("metrics.csv", "timing.csv", "provenance.json"):
            assert f"results/runs/{run}/mlt/seed1337/{f}" in names
        assert f"results/logs/train_model/{run}/mlt/seed1337.log" in names
    assert not any(n.endswith((".pt", ".tmp")) for n in names)
    provenance = tarfile.open(tmp_path / "out" / "mlt_runs.tar.gz").extractfile(
        f"results/runs/{sorted(trained)[0]}/mlt/seed1337/provenance.json").read().decode()
    assert '"git_commit": "' + "c" * 40 in provenance  # the commit the caller names, not a stale .git's
