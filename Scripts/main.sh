#!/usr/bin/env bash
# The main job, on a fresh machine: install what is missing, fetch and import the real
# FaceNet-512 weights if Weights/ lacks them, build `facenet` in release mode, and verify
# the sample photos (two of one person, one of another; faces found by MTCNN), printing
# the verdicts and the detections. With ../shared present it also runs the golden checks
# against Keras's reference outputs and calibrates on the shared photos.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
bash Scripts/fetch-weights.sh
swift build -c release --product facenet
bin=$(swift build -c release --show-bin-path)/facenet
# Presets look in $FACENET_WEIGHTS_DIR, then ~/.facenet/weights (never the build tree):
# point the variable at this clone's Weights/, where fetch-weights.sh wrote the file.
export FACENET_WEIGHTS_DIR="${FACENET_WEIGHTS_DIR:-$PWD/Weights}"
status=0
run() { echo "\$ facenet $*"; "$bin" "$@" || status=1; echo; }

run verify Docs/samples/img5.jpg Docs/samples/img6.jpg --model facenet512-casia
run verify Docs/samples/img5.jpg Docs/samples/img16.jpg --model facenet512-casia
run detect Docs/samples

run golden Tests/Fixtures/tiny/manifest.json --weights Tests/Fixtures/tiny/model_full.h5
shared=../shared
if [ -f "$shared/models/synthetic128/model.h5" ]; then
    run golden "$shared/models/synthetic128/manifest.json" --weights "$shared/models/synthetic128/model.h5"
fi
if [ -f "$shared/faces/facenet512_casia_manifest.json" ]; then
    run golden "$shared/faces/facenet512_casia_manifest.json" --weights Weights/facenet512_casia.h5 --topology Weights/facenet512.json
    run calibrate "$shared/faces/pairs.csv" "$shared/faces/crops" --model facenet512-casia --detector skip
    run calibrate "$shared/faces/pairs.csv" "$shared/faces/photos" --model facenet512-casia
fi
exit $status
