"""benchmarks/gpu.py runs on the CPU with tiny counts and prints every figure of its table."""
from __future__ import annotations

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


def test_cpu_benchmark_names_an_unknown_inductor_option():
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "train_speed.py"), "--inductor", "no_such=1"],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode != 0 and "torch._inductor.config has no option 'no_such'" in out.stderr
