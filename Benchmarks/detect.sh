#!/usr/bin/env bash
# Detection speed: MTCNN by stage and photo → embedding end to end (decode, detect, crop,
# preprocess, FaceNet-512 with the CASIA weights), on the 1-megapixel photo the issue's
# target is about and on the sample photos. Each photo: INVOCATIONS runs of
# `facenet bench-detect PHOTO --iterations 5` (median of 5 after a warm-up), so the
# spread across processes shows. Needs the CASIA weights (bash Scripts/fetch-weights.sh).
#   Benchmarks/detect.sh [INVOCATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
invocations=${1:-3}
[ -f Weights/facenet512_casia.h5 ] || { echo "no CASIA weights: run bash Scripts/fetch-weights.sh" >&2; exit 1; }
swift build -c release --product facenet >/dev/null
bin=$(swift build -c release --show-bin-path)/facenet
for photo in Benchmarks/photos/img18_1mp.jpg Docs/samples/img6.jpg Docs/samples/img5.jpg; do
    for _ in $(seq "$invocations"); do
        "$bin" bench-detect "$photo" --iterations 5 2>/dev/null | tail -1
    done
done
