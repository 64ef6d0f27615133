#!/usr/bin/env bash
# Fuzzes `facenet serve` from its own OpenAPI description with schemathesis (PyPI), bounded
# in time: every operation of /openapi.yaml with generated valid and invalid requests, all
# of schemathesis's checks (no 5xx, answers that match the schemas, status codes and content
# types that the document declares) but one: `positive_data_acceptance` wants every
# schema-valid request accepted, and no schema can say "base64 of a decodable image": an
# arbitrary non-empty string is schema-valid and rightly a 400 `invalid_image`/`invalid_field`
# (Docs/serving.md, "Fuzzing"). The server runs with a gallery and an API key, on a free
# port of 127.0.0.1. See Docs/serving.md ("Fuzzing") for what it found.
#
# Usage: Benchmarks/fuzz-api.sh [--max-examples N] [--seconds S]   (defaults 40, 600)
# Needs the real weights (Weights/facenet512_casia.h5, or $FACENET_WEIGHTS_DIR).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
examples=40 seconds=600
while [[ $# -gt 0 ]]; do
    case "$1" in
        --max-examples) examples="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        *) echo "usage: $0 [--max-examples N] [--seconds S]" >&2; exit 2 ;;
    esac
done
export FACENET_WEIGHTS_DIR="${FACENET_WEIGHTS_DIR:-$ROOT/Weights}"
VENV="${FUZZ_VENV:-$HERE/.venv-fuzz}"
if [[ ! -x "$VENV/bin/schemathesis" ]]; then
    "${PYTHON:-python3}" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements-fuzz.txt"
fi
# FACENET_BIN: a facenet already built (e.g. by Scripts/test.sh, whose flags differ: building
# here would compile the package again).
if [[ -n "${FACENET_BIN:-}" ]]; then
    bin="$FACENET_BIN"
else
    swift build -c release --product facenet --package-path "$ROOT" >/dev/null
    bin="$(swift build -c release --show-bin-path --package-path "$ROOT")/facenet"
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
key="fuzz-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
echo "$key" > "$work/key"
"$bin" gallery create "$work/people.sqlite" >/dev/null 2>&1
"$bin" serve --port 0 --gallery "$work/people.sqlite" --api-key-file "$work/key" --json > "$work/serve.out" 2> "$work/serve.err" &
server_pid=$!
for _ in $(seq 1 600); do
    port=$(grep -o '"port": *[0-9]*' "$work/serve.out" 2>/dev/null | grep -o '[0-9]*$' || true)
    [[ -n "$port" ]] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.err" >&2; exit 1; }
    sleep 0.2
done
[[ -n "$port" ]] || { echo "fuzz-api: the server did not say its port" >&2; exit 1; }
echo "fuzz-api: facenet serve on 127.0.0.1:$port (pid $server_pid), schemathesis $("$VENV/bin/schemathesis" --version | tail -1)"
status=0
timeout --signal=INT "$seconds" "$VENV/bin/schemathesis" run "http://127.0.0.1:$port/openapi.yaml" \
    --checks all --exclude-checks positive_data_acceptance --max-examples "$examples" --header "Authorization: Bearer $key" \
    --request-timeout 60 --seed 1 --no-color || status=$?
kill -0 "$server_pid" 2>/dev/null && echo "fuzz-api: the server is still up" || { echo "fuzz-api: the server died"; status=1; }
rss=$(grep VmRSS "/proc/$server_pid/status" 2>/dev/null | awk '{print $2}')
echo "fuzz-api: server RSS at the end ${rss:-?} kB; its stderr's last lines:"
tail -5 "$work/serve.err"
exit $status
