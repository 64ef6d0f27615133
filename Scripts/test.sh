#!/usr/bin/env bash
# Runs the whole test suite: installs the Debian packages if missing, then `swift test` in
# release mode (with testing enabled) so the full-size golden tests stay fast. The suite is
# XCTest only, so Swift Testing's empty run is switched off. Tests that need ../shared
# skip with a reason when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
# Digests of known weights that the tests compute go to a throwaway cache, not ~/.cache/facenet.
if [[ -z "${FACENET_CACHE_DIR:-}" ]]; then
    FACENET_CACHE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/facenet-test-cache.XXXXXX")
    export FACENET_CACHE_DIR
    trap 'rm -rf "$FACENET_CACHE_DIR"' EXIT
fi
swift test -c release -Xswiftc -enable-testing --disable-swift-testing "$@"
