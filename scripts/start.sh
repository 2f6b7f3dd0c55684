#!/usr/bin/env bash
# Quick start, command 1: installs what Ganglion needs, builds it and runs it.
#   scripts/start.sh [ganglion arguments...]
# With no arguments it shows the version and that libzmq with CURVE is available (later: a
# single-node cluster with demo agents).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d /opt/swift/usr/bin ]] && export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh --for run
swift build -c release --product ganglion >&2
ganglion="$(swift build -c release --show-bin-path)/ganglion"
if (($#)); then exec "$ganglion" "$@"; else exec "$ganglion" version --require-curve; fi
