#!/usr/bin/env bash
# Quick start, command 2: installs what the tests need and runs the whole test suite.
#   scripts/test.sh            (what .ci/run calls)
# Steps: system packages; generated protobuf code (Swift and C) is current; build; every test; the
# C producer's tests against the built node; the multi-node scenarios (cluster/), then three of them with
# security on; the compose scenario (docker/); a short smoke run of the benchmarks so they keep
# working (the real figures come from scripts/bench.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d /opt/swift/usr/bin ]] && export PATH="/opt/swift/usr/bin:$PATH"
started=$(date +%s)
step() { echo "== test.sh: $* ($(($(date +%s) - started)) s)" >&2; }

step "system packages"
scripts/install-deps.sh --for test

step "generated protobuf code is current"
scripts/generate-protos.sh --check

step "build"
swift build --build-tests

step "tests"
export GANGLION_TEST_PYTHON="$PWD/.build/test-venv/bin/python"
# Two at a time, each test in a process of its own: the suite waits on timers and sockets as much
# as it computes (serial ~560 s, parallel ~280 s here, three runs each, all passing).
swift test --skip-build --parallel --num-workers 2

step "C producer tests (clients/c, against the ganglion just built)"
GANGLION_BIN="$(swift build --show-bin-path)/ganglion" clients/c/tests/run.sh

step "multi-node scenarios (cluster/, real node processes in network namespaces, short fixed versions)"
GANGLION_BIN="$(swift build --show-bin-path)/ganglion" cluster/run-scenarios.sh --quick

step "multi-node scenarios with security on (CurveZMQ, ACLs, HTTP tokens: a replication, an agent and the rogue-node scenario)"
# The whole quick set passes secured too (run-scenarios.sh --quick --secure, ~5 min); CI runs three (~1.5 min).
GANGLION_BIN="$(swift build --show-bin-path)/ganglion" cluster/run-scenarios.sh --quick --secure --only r1 --only a4 --only x1

step "compose scenario (docker/: compose.yaml on a docker engine of its own, with faults; the image bundles this debug build's Swift runtime)"
python3 docker/compose_scenario.py --binary "$(swift build --show-bin-path)/ganglion"

step "benchmark smoke run"
"$(swift build --show-bin-path)/ganglion-benchmarks" --messages 2000 --round-trips 200 --envelopes 2000 --rounds 1 --log-seconds 0.1 --changelog-events 2000 >/dev/null
# The replication benchmark's three node processes, RF 1 and RF 3 topics, one short run.
"$(swift build --show-bin-path)/ganglion" bench --replication --quick --sizes 256 >/dev/null
# Agents on 1, 2 and 3 node processes, one short run each.
"$(swift build --show-bin-path)/ganglion" bench --agent-scaling --quick >/dev/null
# Shards moving between two agent hosts (a join and a leave), and a kill -9 of a shard host.
"$(swift build --show-bin-path)/ganglion" bench --handoff --quick >/dev/null
"$(swift build --show-bin-path)/ganglion" bench --shard-failover --quick >/dev/null
# A plain node and a node with security on, side by side.
"$(swift build --show-bin-path)/ganglion" bench --security --quick --sizes 256 >/dev/null 2>&1

step "all passed"
