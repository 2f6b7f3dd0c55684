#!/bin/bash
# The compose file's `traffic` service: sample events for the demo agents of a cluster, one
# `ganglion publish` each, through the nodes of GANGLION_NODE (the controllers; clients learn the
# rest from the metadata), like `ganglion demo` feeds its single node:
#   transactions  a payment, about TRAFFIC_RATE a second (one in 20 a large one: an alert)
#   ci.pushes     a push every 2 s (the check agents and the aggregator give its status)
#   docs.events   a document every 3 s (the saga: extract → validate → route → notify)
#   tasks         a task every 2 s (the worker and its verifier)
# Every id carries this run's prefix (keys and transactions never repeat across restarts, so each
# one's outcome can be counted: docker/compose_scenario.py does).
#
# A publish that fails before its event could be stored (a node restarting, a leader moving: a
# rolling restart) is tried again with backoff for up to TRAFFIC_RETRY_SECONDS (`ganglion publish
# --retry-for`, the same event each time); one whose outcome is unknown is not repeated (it may be
# stored: a second copy would be a second input). Every minute, and at each failure, a line
# counts them: "traffic: N published, R retried, F failed".
set -uo pipefail

rate="${TRAFFIC_RATE:-2}"
retry_seconds="${TRAFFIC_RETRY_SECONDS:-30}"
run="${TRAFFIC_PREFIX:-sample-$(date +%s)-$RANDOM}"
pause="$(awk -v rate="$rate" 'BEGIN { printf "%.3f", 1 / rate }')"
messages=("Fix flaky retry test" "WIP: new scoring model" "Bump dependencies" "Add audit trail" "break: refactor ledger"
          "Rotate secret in config" "Improve docs" "Retry on a slow runner")
names=(invoice contract corrupt-scan receipt unroutable-memo statement)
kinds=(plain hangs plain flaky sloppy plain hopeless)

published=0; retried=0; failed=0
counts() { echo "traffic: $published published, $retried retried, $failed failed"; }

publish() {  # topic key type data
    local out status tries
    out="$(ganglion publish "$1" --key "$2" --type "$3" --source /demo/compose --data "$4" --retry-for "$retry_seconds" 2>&1)"
    status=$?
    tries="$(grep -c '^publish: try [0-9]* failed' <<<"$out")"
    retried=$((retried + tries))
    if ((status != 0)); then
        failed=$((failed + 1))
        echo "traffic: publish to $1 (key $2) failed after $((tries + 1)) tries: $(tail -n 1 <<<"$out")" >&2
        counts >&2
        return 1
    fi
    published=$((published + 1))
}

echo "traffic: waiting for the demo agents' topics (run $run)"
until ganglion topic list 2>/dev/null | grep -q '^tasks\b' && ganglion topic list 2>/dev/null | grep -q '^docs.events\b'; do sleep 1; done
echo "traffic: $rate transaction(s)/s, a push and a task every 2 s, a document every 3 s"

count=0; pushes=0; documents=0; tasks=0
last_push=0; last_document=0; last_task=0; last_counts=$SECONDS
while :; do
    now=$SECONDS
    if ((now - last_counts >= 60)); then last_counts=$now; counts; fi
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
