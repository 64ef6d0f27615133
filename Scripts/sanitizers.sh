#!/usr/bin/env bash
# The test suite under AddressSanitizer and ThreadSanitizer (release builds with testing
# enabled, each in its own build directory). The concurrency stress test runs
# FACENET_STRESS_ROUNDS rounds per thread (default 20 here; 200 in the plain suite) to
# keep the sanitized run short. Extra arguments go to `swift test` (e.g. --filter X).
#   Scripts/sanitizers.sh [address|thread|both] [swift test args...]
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
[ $# -gt 0 ] && shift
export FACENET_STRESS_ROUNDS=${FACENET_STRESS_ROUNDS:-20}
# The engine only: FaceNetGallery's dependencies (GRDB, postgres-nio, SwiftNIO, BoringSSL)
# built twice more under sanitizers would put CI over its time. Package.swift reads this.
export FACENET_ENGINE_ONLY=1
bash Scripts/install-deps.sh
# Digests of known weights that the tests compute go to a throwaway cache, not ~/.cache/facenet.
if [[ -z "${FACENET_CACHE_DIR:-}" ]]; then
    FACENET_CACHE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/facenet-test-cache.XXXXXX")
    export FACENET_CACHE_DIR
    trap 'rm -rf "$FACENET_CACHE_DIR"' EXIT
fi
status=0
for sanitizer in address thread; do
    [ "$which" = both ] || [ "$which" = "$sanitizer" ] || continue
    echo "== $sanitizer sanitizer"
    # halt_on_error: the first report fails the run instead of scrolling past.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1} TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1} \
        swift test -c release -Xswiftc -enable-testing --disable-swift-testing --sanitize="$sanitizer" \
        --scratch-path ".build-$sanitizer" "$@" || status=1
done
exit $status
