#!/usr/bin/env bash
# A/B of two `facenet` binaries (e.g. a release build of the last tag against one of HEAD):
# FaceNet-512 CASIA at batch 1 (40 passes) and batch 8 (8 passes), interleaved A, B per
# round, each run started only when the CPU has been >= 95% idle for a second. Prints
# ms/image per run; compare medians within one invocation (shared machines are noisy).
#   Benchmarks/ab-binaries.sh OLD/facenet NEW/facenet [ROUNDS=5]
# Build the old one from a worktree: git worktree add ../old v0.1.0 &&
#   (cd ../old && swift build -c release --product facenet)
set -euo pipefail
A=$1; B=$2; rounds=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
weights=Weights/facenet512_casia.h5
[ -f "$weights" ] || weights=../shared/models/facenet512_casia.h5
source "$here/wait-idle.sh"
for round in $(seq "$rounds"); do
    for batch in 1 8; do
        passes=$([ "$batch" = 1 ] && echo 40 || echo 8)
        for side in A B; do
            exe=${!side}
            wait_for_idle_cpu 60
            result=$("$exe" bench --weights "$weights" --topology Weights/facenet512.json \
                --iterations "$passes" --batch "$batch" 2>&1 | grep -o '[0-9.]* ms/image' | head -1)
            echo "round $round batch $batch $side: $result"
        done
    done
done
