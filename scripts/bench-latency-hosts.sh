#!/usr/bin/env bash
# End-to-end latency against libzmq's C relay floor on both kinds of host, in one command.
#   scripts/bench-latency-hosts.sh [--poll-ns NS] [any `ganglion bench` option, e.g. --runs 5]
#   GANGLION_BIN=path/to/release/ganglion scripts/bench-latency-hosts.sh   (skips the build)
# How far Ganglion sits above the floor depends on what waking a thread costs. In a KVM or
# Firecracker guest with the cpuidle "haltpoll" driver, guest halt-polling decides it: off, an
# idle vCPU halts at once and each wake-up costs tens of microseconds (the floor itself is then
# ~80-150 µs); on, an idle vCPU polls before halting and wake-ups are cheap (a floor of ~45 µs
# here), which exposes our own cost. This runs `ganglion bench --only latency` with the guest's
# setting as it is, then with halt-polling on (--poll-ns, default 200000 ns) when the driver's
# parameter exists and is writable (root), and restores the setting on exit, also after failures
# or Ctrl-C. Elsewhere it runs the first pass only and says why.
set -euo pipefail
cd "$(dirname "$0")/.."

poll_ns=200000
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --poll-ns) poll_ns="$2"; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
case "$poll_ns" in
    ''|*[!0-9]*) echo "--poll-ns must be a whole number of nanoseconds, got '$poll_ns'" >&2; exit 2 ;;
esac

# GANGLION_BIN: a release `ganglion` already built (default: build it).
ganglion=${GANGLION_BIN:-}
if [ -z "$ganglion" ]; then
    scripts/install-deps.sh --for run >&2   # what the build links (libzmq, jemalloc)
    swift build -c release --product ganglion >&2
    ganglion="$(swift build -c release --show-bin-path)/ganglion"
fi
setting=/sys/module/haltpoll/parameters/guest_halt_poll_ns
driver=$(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo none)

log=$(mktemp)
run() {
    echo "== $1 =="
    if ! "$ganglion" bench --only latency "${args[@]}" > "$log" 2>&1; then
        tail -n 20 "$log" >&2
        echo "ganglion bench failed (its last lines above)" >&2
        return 1
    fi
    grep -E '^\[ganglion\] latency|^  (e2e|libzmq|durable|stage|produce ack)' "$log"
}

if [ ! -w "$setting" ] || [ "$driver" != haltpoll ]; then
    trap 'rm -f "$log"' EXIT
    run "this host as it is (cpuidle driver: $driver)"
    echo "(guest halt-polling cannot be switched here: needs the haltpoll cpuidle driver and root; the cheap-wake-up pass is skipped)"
    exit 0
fi
original=$(cat "$setting")
trap 'echo "$original" > "$setting"; rm -f "$log"' EXIT
run "guest halt-polling as set ($original ns)"
echo "$poll_ns" > "$setting"
run "guest halt-polling on ($poll_ns ns): cheap wake-ups"
