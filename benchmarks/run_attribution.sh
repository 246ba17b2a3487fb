#!/usr/bin/env sh
# Build the peers venv (once) and run the attribution benchmark against the peers.
# Usage: benchmarks/run_attribution.sh [extra args for attribution_peers.py, e.g. --sizes 10000,100000]
set -eu
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
PEERS=benchmarks/.venv-peers
STAMP="$PEERS/.installed"
if [ ! -f "$STAMP" ] || [ benchmarks/requirements-peers.txt -nt "$STAMP" ]; then
    test -x "$PEERS/bin/python" || "$PYTHON" -m venv "$PEERS"
    "$PEERS/bin/python" -m pip install --quiet --disable-pip-version-check -r benchmarks/requirements-peers.txt
    touch "$STAMP"
fi
test -x .venv/bin/python || { echo "Orbit's .venv is missing: run 'make setup' first" >&2; exit 2; }
exec .venv/bin/python benchmarks/attribution_peers.py --peer-python "$PEERS/bin/python" "$@"
