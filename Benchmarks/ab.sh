#!/usr/bin/env bash
# A/B timing of the engine under environment switches, interleaved, 3 rounds, each run
# started only when the CPU has been idle (≥ 95%) for a second — on a 2-core machine any
# other work doubles the figures. Prints ms/image per run; compare within one invocation.
#   Benchmarks/ab.sh BATCH ITERATIONS "FACENET_WINOGRAD=0" "FACENET_WINOGRAD=1" ...
# An empty setting is written "X=" (env needs an assignment).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
batch=$1; iterations=$2; shift 2
weights=Weights/facenet512_casia.h5
[ -f "$weights" ] || weights=../shared/models/facenet512_casia.h5
scratch=${SCRATCH:-.build}   # SCRATCH=.build-x: another build directory
swift build --scratch-path "$scratch" -c release --product facenet >/dev/null
bin=$(swift build --scratch-path "$scratch" -c release --show-bin-path)/facenet
source "$here/wait-idle.sh"
for round in 1 2 3; do
    for setting in "$@"; do
        wait_for_idle_cpu 120
        result=$(env $setting "$bin" bench --weights "$weights" --topology Weights/facenet512.json \
            --iterations "$iterations" --batch "$batch" 2>&1 | grep -o "[0-9.]* ms/image" | head -1)
        echo "round $round [$setting] batch $batch: $result"
    done
done
