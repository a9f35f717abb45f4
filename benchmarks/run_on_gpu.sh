#!/usr/bin/env bash
# One command on a machine with one CUDA GPU: install, run the GPU-relevant tests, the benchmark, then the MLT
# runs through the pipeline. Everything it writes goes under $OUT (default: gpu-run/ in the repository).
#   bash benchmarks/run_on_gpu.sh            # or: OUT=/some/folder bash benchmarks/run_on_gpu.sh
# Budget: install ~1 min, tests ~1 min, benchmark a few minutes (compilation dominates), MLT runs the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-run}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/run_on_gpu.log") 2>&1
echo "== $(date -u +%FT%TZ) commit $(git rev-parse HEAD 2>/dev/null || echo unknown)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.csv" || true

pip install -q -e . 2>&1 | tail -2
python -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA GPU'; print(torch.__version__, torch.cuda.get_device_name())"

# 1) GPU-relevant tests (their CPU logic; the stack, the evaluator's batched decode, determinism and resume)
python -m pytest -q tests/test_multirun.py tests/test_evaluate.py tests/test_model.py tests/test_train.py \
    2>&1 | tail -5 | tee "$OUT/tests.txt"

# 2) stacked vs single on CUDA (bf16): a short n14 main+controlled stack against the same runs one by one
python - <<'PY' 2>&1 | tee "$OUT/stack_vs_single_cuda.txt"
import csv, dataclasses, os, tempfile, torch
from pathlib import Path
from toobig.config import load_config, resolve_run
from toobig.data import write_dataset
from toobig.multirun import StackedTrainer
from toobig.train import Trainer
config = load_config("config.yaml"); tmp = Path(tempfile.mkdtemp())
write_dataset("arithmetic", config["data"], tmp / "data")
cfgs = [dataclasses.replace(resolve_run(config, "arithmetic", "n14", r, 1337), max_iters=1000, compile=False)
        for r in ("main", "controlled")]
q = lambda m: None
for i, c in enumerate(cfgs):
    Trainer(c, tmp / "data", tmp / f"single{i}", device="cuda", log=q).run()
StackedTrainer(cfgs, tmp / "data", [tmp / f"stack{i}" for i in range(2)], device="cuda", log=q).run()
for i in range(2):
    a = list(csv.DictReader(open(tmp / f"single{i}/metrics.csv"))); b = list(csv.DictReader(open(tmp / f"stack{i}/metrics.csv")))
    worst = max(abs(float(x["batch_loss"]) / float(y["batch_loss"]) - 1) for x, y in zip(a, b))
    print(f"{cfgs[i].regime}: max relative batch-loss difference over {len(a)} evaluations {worst:.2e}; "
          f"scores single {[x['score'][:5] for x in a]} stack {[y['score'][:5] for y in b]}")
PY

# 3) the benchmark (one device, one table); --cuda-graphs adds the reduce-overhead variant
python benchmarks/gpu.py --device cuda --cuda-graphs 2>&1 | tee "$OUT/benchmark.txt"

# 4) the six MLT runs (3 tasks x main, controlled) via the pipeline, results under $OUT/results/runs
MLT_RUNS=()
for regime in main controlled; do for task in arithmetic capitals joint; do
    MLT_RUNS+=("$OUT/results/runs/$regime/$task/mlt/seed1337/metrics.csv")
done; done
snakemake --workflow-profile profiles/gpu --config results_dir="$OUT/results" -- "${MLT_RUNS[@]}" \
    || echo "snakemake stopped (see above); partial results are under $OUT/results"
echo "== done $(date -u +%FT%TZ)"
