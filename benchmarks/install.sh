#!/usr/bin/env bash
# Time a newcomer's first minute: cold `make run` until the simulator page answers, and `make install` (the
# install step of `make test`), each in a fresh clone of REV with empty package caches (nothing reused).
# usage: benchmarks/install.sh [REV]   (default HEAD; port 8080 must be free)
set -euo pipefail
rev=${1:-HEAD}
src=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export UV_CACHE_DIR="$work/uv-cache" PIP_NO_CACHE_DIR=1

git clone -q "$src" "$work/run" && git -C "$work/run" checkout -q "$rev"
start=$(date +%s.%N)
( cd "$work/run" && make run >"$work/run.log" 2>&1 ) &
until curl -fsS -o /dev/null http://127.0.0.1:8080/ 2>/dev/null; do sleep 0.2; done
echo "cold make run until the page answers: $(echo "$(date +%s.%N) - $start" | bc) s  ($rev)"
kill -- -$! 2>/dev/null || pkill -f "$work/run/.venv" || true

git clone -q "$src" "$work/test" && git -C "$work/test" checkout -q "$rev"
start=$(date +%s.%N)
( cd "$work/test" && make install >"$work/install.log" 2>&1 )
echo "make install (the install step of make test): $(echo "$(date +%s.%N) - $start" | bc) s  ($rev)"
