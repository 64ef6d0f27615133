#!/usr/bin/env bash
# A PostgreSQL gallery at scale (search_postgres.py): `facenet gallery import` of the 100k
# synthetic faces into PostgreSQL + pgvector, `facenet find --ann --ef E`, and the same SQL
# sent by psycopg, recall@10 and QPS side by side. See Docs/search.md ("Measured").
#
# Usage: Benchmarks/search-postgres.sh [--url postgres://...] [search_postgres.py options...]
# Without --url it starts the throwaway server of Scripts/postgres.sh (left running).
# The data come from Benchmarks/search.sh (run it once first).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
VENV="${SEARCH_VENV:-$HERE/.venv-search}"
[[ -x "$VENV/bin/python" ]] || { echo "search-postgres.sh: run Benchmarks/search.sh once first (it makes $VENV and the data)" >&2; exit 2; }
"$VENV/bin/python" -c "import psycopg" 2>/dev/null || "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements-search.txt"
args=("$@")
if [[ " $* " != *" --url "* ]]; then
    eval "$(bash "$ROOT/Scripts/postgres.sh" start)"
    args+=(--url "$FACENET_TEST_POSTGRES_URL")
fi
swift build -c release --product facenet --package-path "$ROOT" >/dev/null
bin="$(swift build -c release --show-bin-path --package-path "$ROOT")/facenet"
exec "$VENV/bin/python" "$HERE/search_postgres.py" --facenet "$bin" "${args[@]}"
