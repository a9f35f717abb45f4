#!/usr/bin/env bash
# The GPU session in one script: the benchmark (alone on the GPU), then the paper's MLT runs not yet committed
# in results/runs, one after another (each a `python -m toobig train` process), packed for the trip home. One
# lane by default: on the H200, four runs side by side went no faster than one after another (README "GPU"), and
# in turn each finished run is one less to redo. Uses the python3 that holds torch on the GPU machine; installs
# nothing (the machines this project rents reach no package index), so the library is imported from src/.
#
#   bash benchmarks/run_on_gpu.sh             # benchmark, the runs, wait for them, pack (a workstation)
#   DEADLINE_S=540 bash benchmarks/run_on_gpu.sh start     # stop waiting after 540 s; the runs go on, detached
#   DEADLINE_S=200 bash benchmarks/run_on_gpu.sh collect   # a later call on the same machine: wait, then pack
#   LANES="main/arithmetic;controlled/arithmetic"  ...      # lanes (;) of runs (space) side by side
#   CUDA_GRAPHS=1 ...                                       # train with --cuda-graphs; BENCH_ARGS: the benchmark's flags
#
# Outputs under $OUT (default gpu-run/): run_on_gpu.log, benchmark.txt, gpu.csv, gpu_util.csv and
# mlt_runs.tar.gz (results/runs/{regime}/{task}/mlt/seed1337/ with metrics.csv, timing.csv, provenance.json and
# results/logs/train_model/... logs; best.pt, 42 MB a run, and resume.pt stay on the GPU machine).
# Unpack at the repository root: tar -xzf gpu-run/mlt_runs.tar.gz
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PHASE="${1:-all}"
OUT="${OUT:-$REPO/gpu-run}"
WORK="${WORK:-/tmp/toobig-gpu}"        # outlives one call of a rented machine: runs write here
DEADLINE_S="${DEADLINE_S:-0}"          # 0: wait until every run has finished
PY="${PYTHON:-python3}"
CONFIG="${CONFIG:-config.yaml}"        # a smaller config and DEVICE=cpu SKIP_BENCH=1 try the script on a CPU
DEVICE="${DEVICE:-cuda}"
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TORCHINDUCTOR_COMPILE_THREADS=4
mkdir -p "$OUT" "$WORK"
exec > >(tee -a "$OUT/run_on_gpu.log") 2>&1
T0=$SECONDS
stamp() { echo "== $(date -u +%FT%TZ) +$((SECONDS - T0))s $*"; }

# a lane's runs train one after another, the lanes side by side; the paper's Table 2 first
IFS=';' read -r -a RUNS <<< "${LANES:-main/arithmetic controlled/arithmetic main/joint controlled/joint main/capitals controlled/capitals}"
GRAPHS=$([ -n "${CUDA_GRAPHS:-}" ] && echo --cuda-graphs)

run_dir() { echo "$WORK/results/runs/${1%%/*}/${1##*/}/mlt/seed1337"; }
log_file() { echo "$WORK/results/logs/train_model/${1%%/*}/${1##*/}/mlt/seed1337.log"; }

lane() {  # train each run of a lane in turn (skipped when finished here or committed in results/runs)
  for run in $1; do
    local dir log
    dir=$(run_dir "$run"); log=$(log_file "$run")
    mkdir -p "$(dirname "$log")"
    [ -f "$dir/provenance.json" ] && continue
    [ -f "results/runs/${run%%/*}/${run##*/}/mlt/seed1337/provenance.json" ] && continue
    "$PY" -m toobig train --config "$CONFIG" --task "${run##*/}" --model mlt --regime "${run%%/*}" --seed 1337 \
      --data "results/datasets/${run##*/}" --out "$dir" --device "$DEVICE" $GRAPHS >> "$log" 2>&1 \
      || echo "FAILED: $run (see $log)" >> "$WORK/failed.txt"
  done
}

start_runs() {
  stamp "starting the MLT runs: ${#RUNS[@]} lanes on one GPU"
  setsid nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 10 > "$WORK/gpu_util.csv" \
    2>/dev/null < /dev/null &
  : > "$WORK/lanes.pid"
  for l in "${RUNS[@]}"; do
    setsid bash -c "$(declare -f lane run_dir log_file); PY='$PY' WORK='$WORK' CONFIG='$CONFIG' DEVICE='$DEVICE' GRAPHS='$GRAPHS'; lane '$l'" \
      > /dev/null 2>&1 < /dev/null &
    echo $! >> "$WORK/lanes.pid"
  done
}

lanes_alive() {  # a lane ends when its last run ends (or is killed)
  while read -r pid; do kill -0 "$pid" 2>/dev/null && return 0; done < "$WORK/lanes.pid"
  return 1
}

wait_runs() {  # a progress line per run every 30 s, until every lane has ended or the deadline
  while lanes_alive; do
    if [ "$DEADLINE_S" -gt 0 ] && [ $((SECONDS - T0)) -ge "$DEADLINE_S" ]; then stamp "deadline: packing what exists"; return; fi
    [ -s "$WORK/failed.txt" ] && { cat "$WORK/failed.txt"; }
    left=$((DEADLINE_S > 0 ? DEADLINE_S - (SECONDS - T0) : 30))
    sleep $((left < 30 ? left : 30))
    stamp "progress"
    for l in "${RUNS[@]}"; do for run in $l; do
      f=$(log_file "$run"); [ -f "$f" ] && echo "  $run: $(grep -E 'iter|error|Error' "$f" | tail -1 | cut -c1-150)"
    done; done
  done
  stamp "every lane has ended"
}

pack() {
  cp "$WORK/gpu_util.csv" "$OUT/" 2>/dev/null
  [ -s "$WORK/failed.txt" ] && cp "$WORK/failed.txt" "$OUT/"
  (cd "$WORK" && tar -czf "$OUT/mlt_runs.tar.gz" --exclude=best.pt --exclude=resume.pt --exclude='*.tmp' results)
  stamp "packed $(du -h "$OUT/mlt_runs.tar.gz" | cut -f1) into $OUT/mlt_runs.tar.gz"
}

if [ "$PHASE" != collect ]; then
  stamp "commit ${TOOBIG_GIT_COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}"
  if [ "$DEVICE" = cuda ]; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.csv"
    "$PY" -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA GPU'; print('torch', torch.__version__, torch.cuda.get_device_name())" || exit 1
  fi
  if [ -z "${SKIP_BENCH:-}" ]; then
    stamp "benchmark (alone on the GPU)"
    timeout "${BENCH_TIMEOUT_S:-240}" "$PY" benchmarks/gpu.py --device "$DEVICE" \
      ${BENCH_ARGS:---iters 20 --evals 2 --no-projection --cuda-graphs --profile} 2>&1 | tee "$OUT/benchmark.txt"
  fi
  start_runs
fi
wait_runs
pack
