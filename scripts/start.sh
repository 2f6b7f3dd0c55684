#!/usr/bin/env bash
# Quick start, command 1: installs what Ganglion needs, builds it and runs it.
#   scripts/start.sh [ganglion arguments...]
# With no arguments it checks that libzmq has CURVE, then runs `ganglion demo`: a single-node
# cluster (data in ./data, ports 7400-7402) with the demo agents, sample traffic and a live view
# of the agents' decisions; Ctrl-C stops it. Arguments are passed to `ganglion` instead.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d /opt/swift/usr/bin ]] && export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh --for run
swift build -c release --product ganglion >&2
ganglion="$(swift build -c release --show-bin-path)/ganglion"
if (($#)); then exec "$ganglion" "$@"; fi
"$ganglion" version --require-curve
exec "$ganglion" demo
