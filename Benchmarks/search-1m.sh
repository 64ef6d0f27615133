#!/usr/bin/env bash
# Gallery search at 1,000,000 faces (search_1m.py): ours against faiss exact and hnswlib,
# one run. Needs the venv of search.sh (run it once first). See Docs/search.md ("Measured").
# Usage: Benchmarks/search-1m.sh [--make-data] [--exact-only] [--efs 32,64,128] [--json FILE]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
VENV="${SEARCH_VENV:-$HERE/.venv-search}"
[[ -x "$VENV/bin/python" ]] || { echo "search-1m.sh: run Benchmarks/search.sh once first (it makes $VENV)" >&2; exit 2; }
swift build -c release --product facenet --package-path "$ROOT" >/dev/null
bin="$(swift build -c release --show-bin-path --package-path "$ROOT")/facenet"
cd "$HERE"
exec "$VENV/bin/python" "$HERE/search_1m.py" --facenet "$bin" "$@"
