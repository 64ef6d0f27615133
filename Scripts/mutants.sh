#!/usr/bin/env bash
# Mutation testing on demand (not in CI): plants each listed one-line bug in a copy of the
# tree, rebuilds, runs the tests, and prints which bugs the suite caught. See
# Scripts/mutants.py for the list and options, Docs/testing.md for the last score.
#   bash Scripts/mutants.sh [--list] [--full] [ID ...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
exec python3 Scripts/mutants.py "$@"
