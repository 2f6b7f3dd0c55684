#!/bin/bash
# The compose file's `traffic` service: sample events for the demo agents of a cluster, one
# `ganglion publish` each, through the nodes of GANGLION_NODE (the controllers; clients learn the
# rest from the metadata), like `ganglion demo` feeds its single node:
#   transactions  a payment, about TRAFFIC_RATE a second (one in 20 a large one: an alert)
#   ci.pushes     a push every 2 s (the check agents and the aggregator give its status)
#   docs.events   a document every 3 s (the saga: extract → validate → route → notify)
#   tasks         a task every 2 s (the worker and its verifier)
# Every id carries this run's prefix (keys and transactions never repeat across restarts, so each
# one's outcome can be counted: docker/compose_scenario.py does). A failed publish is printed and skipped.
set -uo pipefail

rate="${TRAFFIC_RATE:-2}"
run="${TRAFFIC_PREFIX:-sample-$(date +%s)-$RANDOM}"
pause="$(awk -v rate="$rate" 'BEGIN { printf "%.3f", 1 / rate }')"
messages=("Fix flaky retry test" "WIP: new scoring model" "Bump dependencies" "Add audit trail" "break: refactor ledger"
          "Rotate secret in config" "Improve docs" "Retry on a slow runner")
names=(invoice contract corrupt-scan receipt unroutable-memo statement)
kinds=(plain hangs plain flaky sloppy plain hopeless)

publish() {  # topic key type data
    if ! out="$(ganglion publish "$1" --key "$2" --type "$3" --source /demo/compose --data "$4" 2>&1)"; then
        echo "traffic: publish to $1 (key $2) failed: $(tail -n 1 <<<"$out")" >&2
        return 1
    fi
}

echo "traffic: waiting for the demo agents' topics (run $run)"
until ganglion topic list 2>/dev/null | grep -q '^tasks\b' && ganglion topic list 2>/dev/null | grep -q '^docs.events\b'; do sleep 1; done
echo "traffic: $rate transaction(s)/s, a push and a task every 2 s, a document every 3 s"

count=0; pushes=0; documents=0; tasks=0
last_push=0; last_document=0; last_task=0
while :; do
    now=$SECONDS
    if ((now - last_task >= 2)); then
        last_task=$now; tasks=$((tasks + 1))
        kind="${kinds[$(((tasks - 1) % ${#kinds[@]}))]}"
        publish tasks "$run-task-$tasks" task.submitted "{\"kind\":\"$kind\",\"task\":\"$run-task-$tasks\"}" \
            && echo "task $run-task-$tasks ($kind) queued"
    fi
    if ((now - last_document >= 3)); then
        last_document=$now; documents=$((documents + 1))
        name="${names[$(((documents - 1) % ${#names[@]}))]}-$documents"
        publish docs.events "$run-doc-$documents" document.received "{\"name\":\"$name\"}" \
            && echo "document $run-doc-$documents \"$name\" received"
    fi
    if ((now - last_push >= 2)); then
        last_push=$now; pushes=$((pushes + 1))
        sha="$(printf '%08x%08x' $((RANDOM * 32768 + RANDOM)) "$pushes")"
        message="${messages[$((RANDOM % ${#messages[@]}))]}"
        publish ci.pushes "$sha" push "{\"message\":\"$message\",\"sha\":\"$sha\"}" && echo "push ${sha:0:8} \"$message\""
    fi
    count=$((count + 1))
    if ((RANDOM % 20 == 0)); then amount=$((8000 + RANDOM % 32001)); else amount=$((1001 + RANDOM % 1500)); fi
    customer="$run-customer-$((RANDOM % 6 + 1))"
    # Amounts above the fraud agent's threshold (1000): each transaction gets one decision.
    publish transactions "$customer" transaction.created \
        "{\"amount\":$amount,\"customer\":\"$customer\",\"merchant\":\"shop-$((RANDOM % 9 + 1))\",\"txn\":\"$run-tx-$count\"}"
    sleep "$pause"
done
