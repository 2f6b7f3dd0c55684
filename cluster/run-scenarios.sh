#!/usr/bin/env bash
# Runs the multi-node scenario tests (cluster/scenarios/) against real node processes in network
# namespaces. Needs root (ip netns) and a ganglion binary with cluster mode ($GANGLION_BIN,
# .build/*/ganglion or PATH). CI runs it with --quick. Options: see run_scenarios.py --help.
set -euo pipefail
exec python3 "$(dirname "$0")/run_scenarios.py" "$@"
