#!/usr/bin/env bash
# Times this package's gallery search against faiss, hnswlib and usearch on the same
# synthetic FaceNet-512-shaped vectors, in one run; prints a table with ratios and the CPU.
# See Docs/search.md ("Measured").
#
# Usage (from anywhere): Benchmarks/search.sh [--venv DIR] [search.py options...]
#   e.g. Benchmarks/search.sh --identities 10000 --json /tmp/search.json
#        Benchmarks/search.sh --help
# Environment: PYTHON (default python3), SEARCH_VENV (default Benchmarks/.venv-search).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${SEARCH_VENV:-$HERE/.venv-search}"
REQUIREMENTS="$HERE/requirements-search.txt"

args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --venv) [[ $# -ge 2 ]] || { echo "error: --venv needs a directory" >&2; exit 2; }
                VENV="$2"; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done

stamp="$VENV/.search-requirements.sha256"
want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "search.sh: creating the virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$want" > "$stamp"
fi

swift build -c release --product facenet --package-path "$ROOT" >/dev/null
bin="$(swift build -c release --show-bin-path --package-path "$ROOT")/facenet"
exec "$VENV/bin/python" "$HERE/search.py" --facenet "$bin" "${args[@]}"
