#!/usr/bin/env bash
# Runs the transport and envelope benchmarks in a release build and prints their figures.
#   scripts/bench.sh [--messages N] [--round-trips N] [--envelopes N] [--rounds N] [--only all|transport|envelope|log|schema|registry|changelog]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product ganglion-benchmarks >&2
exec "$(swift build -c release --show-bin-path)/ganglion-benchmarks" "$@"
