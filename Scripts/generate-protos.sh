#!/usr/bin/env bash
# Regenerates the committed Swift code for Protos/*.proto (swift-protobuf's generator, run
# by hand; the build plugin would cost CI minutes per build). Run it after editing a .proto
# and commit both files; builds and CI never run it.
#
#   Protos/tensorflow_graph.proto -> Sources/FaceNetTools/Import/tensorflow_graph.pb.swift
#
# Needs protoc (Debian: apt-get install protobuf-compiler; generated with libprotoc 3.21.12)
# and protoc-gen-swift of the swift-protobuf version Package.swift depends on (1.39.0):
#   git clone https://github.com/apple/swift-protobuf && cd swift-protobuf
#   git checkout 1.39.0 && swift build -c release --product protoc-gen-swift
# Environment: PROTOC (default: protoc on PATH), PROTOC_GEN_SWIFT (default: on PATH).
# The generated types are internal (Visibility=Internal): not FaceNetKit's public API.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROTOC="${PROTOC:-protoc}"
PROTOC_GEN_SWIFT="${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}"
OUT="$ROOT/Sources/FaceNetTools/Import"

command -v "$PROTOC" > /dev/null || { echo "error: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }
[[ -x "$PROTOC_GEN_SWIFT" ]] || { echo "error: protoc-gen-swift not found: set PROTOC_GEN_SWIFT" >&2; exit 1; }
echo "protoc: $("$PROTOC" --version); protoc-gen-swift: $("$PROTOC_GEN_SWIFT" --version)"

"$PROTOC" --plugin=protoc-gen-swift="$PROTOC_GEN_SWIFT" \
    --proto_path="$ROOT/Protos" \
    --swift_opt=Visibility=Internal \
    --swift_out="$OUT" \
    "$ROOT/Protos/tensorflow_graph.proto"
echo "wrote $OUT/tensorflow_graph.pb.swift"
