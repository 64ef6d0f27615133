#!/usr/bin/env bash
# Times this engine against ONNX Runtime, OpenVINO and TensorFlow on FaceNet-512 (real
# CASIA weights), each in its own process; prints ms/image at batch 1 and 8, the
# engine/peer ratios and the machine. See Benchmarks/README.md.
#
# Usage (from anywhere): Benchmarks/peers.sh [--venv DIR] [peers.py options...]
#   e.g. Benchmarks/peers.sh --json /tmp/peers.json
#        Benchmarks/peers.sh --help
# Environment: PYTHON (python3.10-3.13 with venv and pip; default python3),
#              PEERS_VENV (default Benchmarks/.venv; --venv DIR overrides it).
# The venv is made once and reused; the pinned requirements are installed again only
# when Benchmarks/requirements-peers.txt changes.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${PEERS_VENV:-$HERE/.venv}"
REQUIREMENTS="$HERE/requirements-peers.txt"

args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --venv) [[ $# -ge 2 ]] || { echo "error: --venv needs a directory" >&2; exit 2; }
                VENV="$2"; shift 2 ;;
        --venv=*) VENV="${1#--venv=}"; shift ;;
        *) args+=("$1"); shift ;;
    esac
done

stamp="$VENV/.peers-requirements.sha256"
want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"

if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -c 'import sys; v = sys.version_info[:2]
sys.exit(0 if (3, 10) <= v <= (3, 13) else "error: %s is Python %d.%d; TensorFlow 2.21 wheels need 3.10-3.13 (set PYTHON)" % (sys.executable, *v))'
    echo "peers.sh: creating the virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi

if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "peers.sh: installing $REQUIREMENTS into $VENV (about 2.4 GB; a few minutes the first time)"
    start=$(date +%s)
    "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet -r "$REQUIREMENTS"
    echo "$want" > "$stamp"
    echo "peers.sh: installed in $(( $(date +%s) - start )) s"
fi

exec "$VENV/bin/python" "$HERE/peers.py" ${args[@]+"${args[@]}"}
