#!/usr/bin/env bash
# Paper scale on a GPU machine, as one command (README: "Paper scale on a GPU"):
#   bash benchmarks/gpu/run.sh            install, bench, train ResNet-18, protocol (budget 560 s)
#   bash benchmarks/gpu/run.sh --tiny     the same at toy scale on the CPU (tests/test_gpu_run.py)
#   bash benchmarks/gpu/run.sh --help     every option (steps, budget, epochs, seeds, ...)
# Results go to $OUT (default ./gpu-out) after every step: status.json, results.tar.gz, the
# ResNet-18 checkpoint as parts with its sha256, and this run's console log, run.log.
set -uo pipefail
cd "$(dirname "$0")/../.."
export OUT="${OUT:-./gpu-out}" PYTHONUNBUFFERED=1
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
"$PY" benchmarks/gpu/run.py "$@" 2>&1 | tee "$OUT/run.log"
exit "${PIPESTATUS[0]}"
