#!/usr/bin/env bash
# Identification on the shared real photos (rank-1 accuracy, strangers rejected at the
# weight set's threshold) through the facenet CLI: see identify.py and Docs/search.md.
# Usage: Benchmarks/identify.sh [--shared DIR] [--threshold X] [--json FILE]
# Needs the real weights (Weights/facenet512_casia.h5, or $FACENET_WEIGHTS_DIR).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export FACENET_WEIGHTS_DIR="${FACENET_WEIGHTS_DIR:-$ROOT/Weights}"
swift build -c release --product facenet --package-path "$ROOT" >/dev/null
bin="$(swift build -c release --show-bin-path --package-path "$ROOT")/facenet"
exec "${PYTHON:-python3}" "$HERE/identify.py" --facenet "$bin" --shared "${SHARED:-$ROOT/../shared}" "$@"
