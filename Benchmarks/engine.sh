#!/usr/bin/env bash
# The engine alone on FaceNet-512 with the real CASIA weights: ms/image at batch 1, 8 and
# 32, load time, peak RSS, heap allocations per forward pass, and at batch 8 the per-layer
# table (time and GFLOP/s of every distinct step shape). Prints the OpenBLAS kernel set.
#   Benchmarks/engine.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-10}
weights=Weights/facenet512_casia.h5
[ -f "$weights" ] || weights=../shared/models/facenet512_casia.h5
[ -f "$weights" ] || { echo "no CASIA weights: run bash Scripts/fetch-weights.sh" >&2; exit 1; }
swift build -c release --product facenet >/dev/null
bin=$(swift build -c release --show-bin-path)/facenet
for batch in 1 8 32; do
    echo "== batch $batch"
    extra=()
    [ "$batch" = 8 ] && extra=(--layers)
    "$bin" bench --weights "$weights" --topology Weights/facenet512.json --batch "$batch" --iterations "$iterations" "${extra[@]}" --json
done
