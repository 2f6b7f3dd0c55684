#!/usr/bin/env bash
# Side-by-side peer benchmark: Ganglion's event-streaming workload against
# Redis Streams and NATS JetStream on this machine, one table of medians.
#   scripts/bench-peers.sh [--quick] [--json FILE] [any Benchmarks/peers/bench_peers.py flag]
# Runs `ganglion bench` (release build; it starts its own node processes) first, then the same
# workload against Redis Streams and NATS JetStream, and prints one table with the ratios
# ganglion/redis and ganglion/nats. GANGLION_BENCH=skip leaves Ganglion out.
#   scripts/bench-peers.sh --replicated [--quick] [--json FILE]
# Replicated mode: `ganglion bench --replication` (RF 1 and RF 3, acks=all, on a 3-node cluster),
# then NATS JetStream with an R3 stream on a 3-server nats-server cluster (the same produce
# workload), and one table: ganglion RF3 / NATS R3 and RF3 / RF1.
# Installs redis-server/nats-server (Debian packages) and the Python clients
# (venv in .build/peer-venv, falling back to pip --user), starts the servers on
# free loopback ports with data in a temp dir, and stops exactly the server
# processes it started (by PID) on exit, also after failures or Ctrl-C.
# See Benchmarks/peers/README.md for the workloads and fairness choices.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

replicated=false
quick=()
for arg in "$@"; do
    [ "$arg" = --replicated ] && replicated=true
    [ "$arg" = --quick ] && quick=(--quick)
done

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

missing=()
$replicated || command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench-peers: installing ${missing[*]}" >&2
    $SUDO apt-get update -qq >&2
    # policy-rc.d / no systemd may refuse to start the packaged services; we start our own.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2
fi

PKGS=("redis>=5" "hiredis" "nats-py>=2.6")
VENV=$ROOT/.build/peer-venv
PY=$VENV/bin/python
if ! "$PY" -c 'import redis, nats' >/dev/null 2>&1; then
    if python3 -m venv "$VENV" >&2 2>/dev/null && [ -x "$PY" ]; then
        "$PY" -m pip install -q --disable-pip-version-check "${PKGS[@]}" >&2
    else
        echo "bench-peers: python3 -m venv unavailable, using pip install --user" >&2
        python3 -m pip install -q --user --disable-pip-version-check "${PKGS[@]}" >&2
        PY=python3
    fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/peer-bench.XXXXXX")
mkdir -p "$WORK/pids"

cleanup() {
    local f pid comm
    for f in "$WORK"/pids/*.pid; do
        [ -e "$f" ] || continue
        pid=$(cat "$f")
        comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
        # only the servers this run started; a recycled PID is left alone
        if [ "$comm" = redis-server ] || [ "$comm" = nats-server ]; then  # also each of --replicated's 3 servers
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

merge=()
ganglion_rc=0
if [ "${GANGLION_BENCH:-run}" != skip ]; then
    [[ -d /opt/swift/usr/bin ]] && export PATH="/opt/swift/usr/bin:$PATH"
    scripts/install-deps.sh --for run >&2   # what the build links (libzmq, jemalloc)
    echo "bench-peers: building ganglion (release)" >&2
    swift build -c release --product ganglion >&2
    GANGLION=$(swift build -c release --show-bin-path)/ganglion
    if $replicated; then
        # Its figures produce-rf1 / produce-rf3 are shown beside NATS R3; if it fails or writes
        # no figures, the table says n/a and the script exits non-zero after printing it.
        "$GANGLION" bench "${quick[@]}" --replication --json "$WORK/ganglion.json" >&2 || ganglion_rc=$?
        if [ "$ganglion_rc" -ne 0 ]; then
            echo "bench-peers: warning: ganglion bench --replication failed (status $ganglion_rc); its figures are n/a" >&2
        fi
    else
        "$GANGLION" bench "${quick[@]}" --only produce,consume,latency,produce-always --json "$WORK/ganglion.json" >&2
    fi
    [ -s "$WORK/ganglion.json" ] && merge=(--merge "$WORK/ganglion.json")
fi

rc=0
PEER_BENCH_PIDDIR="$WORK/pids" "$PY" Benchmarks/peers/bench_peers.py --workdir "$WORK/data" "${merge[@]}" "$@" || rc=$?
[ "$rc" -ne 0 ] || rc=$ganglion_rc
exit "$rc"
