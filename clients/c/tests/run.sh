#!/usr/bin/env bash
# Every test of the C producer, against a real node:
#   GANGLION_BIN=/path/to/ganglion clients/c/tests/run.sh
# 1. builds the library, example, bench and tests twice, -Wall -Wextra -Werror: plain (build/) and
#    with AddressSanitizer + UBSan (build-asan/);
# 2. runs the unit tests of both builds;
# 3. starts a node (GANGLION_BIN, a temporary data dir, OS-chosen ports), and for each build:
#    - readback: publishes events over several keys from C, publishes one event per key with the
#      Swift CLI, reads the topic back with `ganglion tail` and checks every id, key, attribute and
#      payload byte, the reported partition and offset, per-key order, and nothing lost or doubled;
#    - lost answers: a proxy loses the node's answer to some produce requests, so the producer
#      resends batches the node already stored; checks the same, so the node stored each once;
#    - restart: publishes a paced stream, kill -9s the node mid-stream, restarts it on the same data
#      dir and ports, and checks the same, so retried batches are stored exactly once;
# 4. runs the example once.
# Exits non-zero if anything failed; the last line is "c tests: N passed, N failed".
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"

bin="${GANGLION_BIN:-}"
if [[ -z "$bin" || ! -x "$bin" ]]; then
    echo "c tests: set GANGLION_BIN to a built ganglion binary, e.g. GANGLION_BIN=\"\$(swift build --show-bin-path)/ganglion\"" >&2
    exit 2
fi
command -v python3 >/dev/null || { echo "c tests: python3 is needed to check the readback" >&2; exit 2; }

passed=0
failed=0
declare -a failures=()
step() { echo "== c tests: $* ==" >&2; }
record() { # name, then the command
    local name="$1"
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "c tests: ok   $name" >&2
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "c tests: FAIL $name" >&2
    fi
}

work="$(mktemp -d)"
node_pid=""
node_extra=()
api="" pub="" http=""
stop_node() {
    if [[ -n "$node_pid" ]] && kill -0 "$node_pid" 2>/dev/null; then
        kill "$node_pid" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$node_pid" 2>/dev/null
        wait "$node_pid" 2>/dev/null
    fi
    node_pid=""
}
cleanup() {
    stop_node
    if ((failed)) && [[ -f "$work/node.log" ]]; then
        echo "c tests: the node's log (last 30 lines):" >&2
        tail -30 "$work/node.log" >&2
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Starts the node; with arguments, on those endpoints (a restart), else on OS-chosen ports.
start_node() {
    local api_at="${1:-tcp://127.0.0.1:0}" pub_at="${2:-tcp://127.0.0.1:0}" http_at="${3:-127.0.0.1:0}"
    rm -f "$work/data/endpoints.json"
    "$bin" node --data-dir "$work/data" --api "$api_at" --pub "$pub_at" --http "$http_at" --no-demo ${node_extra[@]+"${node_extra[@]}"} >>"$work/node.log" 2>&1 &
    node_pid=$!
    for _ in $(seq 1 300); do
        [[ -s "$work/data/endpoints.json" ]] && break
        kill -0 "$node_pid" 2>/dev/null || { echo "c tests: the node exited at start" >&2; return 1; }
        sleep 0.1
    done
    [[ -s "$work/data/endpoints.json" ]] || { echo "c tests: the node wrote no endpoints.json in 30 s" >&2; return 1; }
    read -r api pub http < <(python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); print(e["api"], e["pub"], e["http"].replace("http://", ""))' "$work/data/endpoints.json")
}

# The sum of the topic's high watermarks: every record stored, whoever reads it.
stored_records() {
    # The column is found by its name in the header (the second line).
    "$bin" topic describe --node "$api" "$1" |
        awk -F'\t' 'NR == 2 { for (i = 1; i <= NF; i++) if ($i == "high-watermark") column = i } NR > 2 { total += $column } END { print total + 0 }'
}

# Reads `count` events of `topic` back with the Swift side and checks them against `expect`.
read_back() { # topic expect count swift_keys
    local topic="$1" expect="$2" count="$3" swift_keys="$4"
    local tail_file="$work/$topic.tail.jsonl"
    timeout 120 "$bin" tail --node "$api" "$topic" --from-beginning --max-events "$((count + swift_keys))" >"$tail_file" || {
        echo "c tests: ganglion tail read $(wc -l <"$tail_file") of $((count + swift_keys)) events of $topic" >&2
    }
    local total
    total="$(stored_records "$topic")"
    python3 tests/check_readback.py "$expect" "$tail_file" "$total" --swift-keys "$swift_keys"
}

# Publishes from C with the build in $1, one Swift event per key, then reads back.
readback_test() { # build topic events keys
    local build="$1" topic="$2" events="$3" keys="$4"
    "$bin" topic create --node "$api" "$topic" --partitions 4 >/dev/null || return 1
    "$build/integration_tests" publish --bootstrap "$api" --topic "$topic" --events "$events" --keys "$keys" \
        --run "$topic" --expect "$work/$topic.expect.jsonl" || return 1
    for k in $(seq 0 $((keys - 1))); do echo "{\"key\":\"key-$k\",\"type\":\"swift.cross-check\",\"data\":\"$k\"}"; done |
        "$bin" publish --node "$api" "$topic" >/dev/null || return 1
    read_back "$topic" "$work/$topic.expect.jsonl" "$events" "$keys"
}

# Publishes a paced stream from C, kill -9s the node once `kill_at` events are acknowledged,
# restarts it on the same data dir and ports, and checks every event is stored exactly once.
restart_test() { # build topic events keys rate kill_at
    local build="$1" topic="$2" events="$3" keys="$4" rate="$5" kill_at="$6"
    "$bin" topic create --node "$api" "$topic" --partitions 4 >/dev/null || return 1
    local progress="$work/$topic.progress" out="$work/$topic.out"
    rm -f "$progress"
    "$build/integration_tests" publish --bootstrap "$api" --topic "$topic" --events "$events" --keys "$keys" \
        --run "$topic" --expect "$work/$topic.expect.jsonl" --rate "$rate" --progress "$progress" \
        --request-timeout-ms 1000 --max-attempts 60 >"$out" 2>&1 &
    local producer=$!
    for _ in $(seq 1 600); do
        [[ -s "$progress" ]] && (($(cat "$progress") >= kill_at)) && break
        kill -0 "$producer" 2>/dev/null || break
        sleep 0.02
    done
    local acknowledged
    acknowledged="$(cat "$progress" 2>/dev/null || echo 0)"
    kill -9 "$node_pid"
    wait "$node_pid" 2>/dev/null
    node_pid=""
    echo "c tests: killed the node (-9) with $acknowledged of $events events acknowledged" >&2
    sleep 1
    local old_api="$api"
    start_node "$api" "$pub" "$http" || { kill "$producer"; return 1; }
    [[ "$api" == "$old_api" ]] || { echo "c tests: the node came back on $api, not $old_api" >&2; kill "$producer"; return 1; }
    local status=0
    wait "$producer" || status=$?
    cat "$out" >&2
    ((status == 0)) || return 1
    ((acknowledged < events)) || { echo "c tests: the stream ended before the kill; nothing was retried" >&2; return 1; }
    grep -qE ' [1-9][0-9]* resent' "$out" || { echo "c tests: no batch was resent: the retry path went untested" >&2; return 1; }
    read_back "$topic" "$work/$topic.expect.jsonl" "$events" 0
}

# Publishes through a proxy that loses `drop` of the node's answers: the producer resends batches
# the node already has, and the node must store each once.
lost_answers_test() { # build topic events keys drop
    local build="$1" topic="$2" events="$3" keys="$4" drop="$5"
    "$bin" topic create --node "$api" "$topic" --partitions 4 >/dev/null || return 1
    local out="$work/$topic.out"
    "$build/integration_tests" publish --bootstrap "$api" --topic "$topic" --events "$events" --keys "$keys" \
        --run "$topic" --expect "$work/$topic.expect.jsonl" --request-timeout-ms 300 --max-attempts 60 --drop-replies "$drop" >"$out" 2>&1
    local status=$?
    cat "$out" >&2
    ((status == 0)) || return 1
    grep -qE ' [1-9][0-9]* resent' "$out" || { echo "c tests: no batch was resent" >&2; return 1; }
    read_back "$topic" "$work/$topic.expect.jsonl" "$events" 0
}

example_test() {
    "$bin" topic create --node "$api" readings --partitions 2 >/dev/null || return 1
    local out
    out="$(build/sensor --bootstrap "$api" --topic readings --generate 8 --devices 3 2>&1)" || { echo "$out" >&2; return 1; }
    echo "$out" | head -3 >&2
    [[ "$(echo "$out" | grep -c '^ack ')" == 8 ]] || return 1
    # A topic the node does not have is refused at once, naming the fix.
    if out="$(build/sensor --bootstrap "$api" --topic no-such-topic --generate 1 2>&1)"; then
        echo "c tests: publishing to a missing topic succeeded" >&2
        return 1
    fi
    echo "$out" >&2
    [[ "$out" == *"GANGLION_ERR_NODE: topic no-such-topic does not exist; create it with \`ganglion topic create no-such-topic\`"* ]]
}

# A node with security on: the sensor with its key (a principal allowed to write `readings`)
# publishes; without keys, or with a key the cluster does not know, it gets nothing through.
secured_test() { # build
    local build="$1" keys="$work/keys"
    "$bin" security init "$keys" >/dev/null && "$bin" security keygen sensor-1 --dir "$keys" >/dev/null || return 1
    export GANGLION_SECURITY_DIR="$keys"
    "$bin" security principal add sensor-1 --public-key-file "$keys/sensor-1.pub" --node "$api" >/dev/null &&
        "$bin" topic create --node "$api" secured-readings --partitions 2 >/dev/null &&
        "$bin" acl add --node "$api" --principal sensor-1 --operation write --topic secured-readings >/dev/null || { unset GANGLION_SECURITY_DIR; return 1; }
    local out
    out="$("$build/sensor" --bootstrap "$api" --topic secured-readings --generate 6 --security-dir "$keys" --as sensor-1 2>&1)" || {
        echo "$out" >&2; unset GANGLION_SECURITY_DIR; return 1; }
    [[ "$(echo "$out" | grep -c '^ack ')" == 6 ]] || { echo "$out" >&2; unset GANGLION_SECURITY_DIR; return 1; }
    local stored
    stored="$(stored_records secured-readings)"
    unset GANGLION_SECURITY_DIR
    [[ "$stored" == 6 ]] || { echo "c tests: the secured node stored $stored of 6" >&2; return 1; }
    # No keys, and a key the cluster does not know: nothing acknowledged, nothing stored.
    "$bin" security keygen stranger --dir "$work/other-keys" >/dev/null && cp "$keys/cluster.pub" "$work/other-keys/" || return 1
    for attempt in "" "--security-dir $work/other-keys --as stranger"; do
        # shellcheck disable=SC2086
        if out="$(timeout 60 "$build/sensor" --bootstrap "$api" --topic secured-readings --generate 1 $attempt 2>&1)"; then
            echo "c tests: a sensor without a known key published: $out" >&2
            return 1
        fi
        [[ "$out" != *"secured-readings"*"does not exist"* ]] || { echo "c tests: a stranger learned about topics: $out" >&2; return 1; }
    done
    stored="$(GANGLION_SECURITY_DIR="$keys" stored_records secured-readings)"
    [[ "$stored" == 6 ]] || { echo "c tests: strangers stored something ($stored records)" >&2; return 1; }
}

step "build (plain and AddressSanitizer/UBSan, -Wall -Wextra -Werror)"
record "build" make -s -j2 all
record "build with ASan/UBSan" make -s -j2 asan

step "unit tests"
record "unit tests" build/unit_tests
record "unit tests (ASan/UBSan)" build-asan/unit_tests

step "integration tests against $bin"
if start_node; then
    record "readback: C events read back exactly by the Swift side" readback_test build c-readback 3000 12
    record "readback (ASan/UBSan)" readback_test build-asan c-readback-asan 600 5
    record "lost answers: resent batches stored once by the node" lost_answers_test build c-lost-answers 3000 10 4
    record "lost answers (ASan/UBSan)" lost_answers_test build-asan c-lost-answers-asan 1500 5 2
    record "restart: kill -9 mid-stream, retried batches stored once" restart_test build c-restart 3000 10 1500 600
    record "restart (ASan/UBSan)" restart_test build-asan c-restart-asan 1200 6 600 300
    record "example: sensor publishes and prints acknowledgements" example_test
else
    record "node starts" false
fi
stop_node

step "security on: CurveZMQ from C"
rm -rf "$work/data"
node_extra=(--security-dir "$work/keys")
if "$bin" security init "$work/keys" >/dev/null && start_node; then
    record "secured: the sensor publishes with its key; strangers get nothing" secured_test build
else
    record "secured node starts" false
fi
stop_node

((failed)) && printf 'c tests: failed: %s\n' "${failures[@]}" >&2
echo "c tests: $passed passed, $failed failed"
((failed == 0))
