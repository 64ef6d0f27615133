#!/usr/bin/env bash
# Load on `facenet serve` over loopback (1, 8 and 16 clients; bounded in time): see
# serve_load.py and Docs/serving.md ("Measured"). Python's standard library only.
# Usage: Benchmarks/serve-load.sh [--image FACE.png] [--burst S] [--soak S] [--json FILE]
# Needs the real weights (Weights/facenet512_casia.h5, or $FACENET_WEIGHTS_DIR).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export FACENET_WEIGHTS_DIR="${FACENET_WEIGHTS_DIR:-$ROOT/Weights}"
# FACENET_BIN: a facenet already built (e.g. by Scripts/test.sh, whose flags differ: building
# here would compile the package again).
if [[ -n "${FACENET_BIN:-}" ]]; then
    bin="$FACENET_BIN"
else
    swift build -c release --product facenet --package-path "$ROOT" >/dev/null
    bin="$(swift build -c release --show-bin-path --package-path "$ROOT")/facenet"
fi
exec "${PYTHON:-python3}" "$HERE/serve_load.py" --facenet "$bin" "$@"
