#!/usr/bin/env bash
# The main job: install what is missing, build the `facenet` tool in release mode, and run
# the golden checks: the project's own fixture always, the full-size shared references
# (synthetic FaceNet-128, real CASIA FaceNet-512 weights) when ../shared is present.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
swift build -c release --product facenet
bin=$(swift build -c release --show-bin-path)/facenet
status=0
run() { echo "\$ facenet $*"; "$bin" "$@" || status=1; echo; }

run golden Tests/FaceNetKitTests/Fixtures/tiny/manifest.json --weights Tests/FaceNetKitTests/Fixtures/tiny/model_full.h5
shared=../shared
if [ -f "$shared/models/synthetic128/model.h5" ]; then
    run golden "$shared/models/synthetic128/manifest.json" --weights "$shared/models/synthetic128/model.h5"
    run golden "$shared/models/synthetic128/manifest.json" --weights "$shared/models/synthetic128/model.h5" --topology Weights/facenet128.json
fi
if [ -f "$shared/models/facenet512_casia.h5" ]; then
    run golden "$shared/faces/facenet512_casia_manifest.json" --weights "$shared/models/facenet512_casia.h5" --topology Weights/facenet512.json
fi
exit $status
