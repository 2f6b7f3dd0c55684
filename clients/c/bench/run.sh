#!/usr/bin/env bash
# The C producer's throughput beside the Swift side's, against one node in the same run:
#   GANGLION_BIN=/path/to/ganglion clients/c/bench/run.sh [--seconds 5] [--runs 3] [--size 256]
# Starts a node (default fsync policy: batch) in a temporary directory on OS-chosen ports, creates a
# 4-partition topic, runs build/bench (the C producer: envelopes, batching, CRC32C, idempotent
# PRODUCE with acks=leader) with batches of up to 1000 and of up to 64 events, then `ganglion bench --node … --only produce` (the Swift figure: 2
# producers sending pre-built 64-record batches, 4 in flight each) against the same node, and
# stops the node.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
bin="${GANGLION_BIN:?set GANGLION_BIN to a built ganglion binary}"
seconds=5 runs=3 size=256
while (($#)); do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --size) size="$2"; shift 2 ;;
        *) echo "usage: bench/run.sh [--seconds S] [--runs N] [--size BYTES]" >&2; exit 2 ;;
    esac
done
make -s build/bench
work="$(mktemp -d)"
"$bin" node --data-dir "$work/data" --api tcp://127.0.0.1:0 --pub tcp://127.0.0.1:0 --http 127.0.0.1:0 --no-demo >"$work/node.log" 2>&1 &
node=$!
trap 'kill "$node" 2>/dev/null; wait "$node" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do [[ -s "$work/data/endpoints.json" ]] && break; sleep 0.1; done
api="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api"])' "$work/data/endpoints.json")"
"$bin" topic create --node "$api" c-bench --partitions 4 >/dev/null
echo "node $api ($bin), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
build/bench --bootstrap "$api" --topic c-bench --size "$size" --seconds "$seconds" --runs "$runs"
build/bench --bootstrap "$api" --topic c-bench --size "$size" --seconds "$seconds" --runs "$runs" --batch 64
echo "c-bench holds $("$bin" topic describe --node "$api" c-bench | awk -F'\t' 'NR > 2 { total += $4 } END { print total + 0 }') records"
"$bin" bench --node "$api" --sizes "$size" --only produce --runs "$runs" --produce-seconds "$seconds" 2>&1 |
    grep -E "produce|ev/s" | sed 's/^/swift: /'
