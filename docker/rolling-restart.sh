#!/bin/bash
# Restarts every node of the compose cluster, one at a time, each healthy again before the next:
# the controllers recreated from the current image (`ganglion:latest`, or GANGLION_IMAGE: how an
# upgrade is rolled out), then each worker container restarted in place. A node leaves gracefully
# on SIGTERM (its leaderships and shards handed over first), so the cluster keeps serving.
#   docker/rolling-restart.sh           (from the repository's root; COMPOSE_PROJECT_NAME as for docker-compose)
# docker/compose_scenario.py runs it under load and checks that no produce fails.
set -euo pipefail
cd "$(dirname "$0")/.."
compose() { docker-compose -f docker/compose.yaml "$@"; }
bound="${ROLLING_HEALTHY_BOUND:-120}"

wait_healthy() {  # container, label
    local started=$SECONDS status
    while :; do
        status="$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1" 2>/dev/null || echo gone)"
        [[ "$status" == "running healthy" ]] && break
        if ((SECONDS - started > bound)); then
            echo "rolling-restart: $2 not healthy within $bound s ($status); stopping here" >&2
            exit 1
        fi
        sleep 1
    done
    echo "rolling-restart: $2 healthy again after $((SECONDS - started)) s"
}

for service in controller-1 controller-2 controller-3; do
    compose up -d --no-deps --force-recreate "$service" 2>/dev/null
    wait_healthy "$(compose ps -q "$service")" "$service"
done
for container in $(compose ps -q worker); do
    name="$(docker inspect -f '{{.Name}}' "$container")"
    docker restart --time 30 "$container" >/dev/null
    wait_healthy "$container" "${name#/}"
done
