#!/bin/bash
# The image's HEALTHCHECK: a node is healthy when it is ready to serve as part of its cluster:
# 1. its HTTP port answers GET /health with 200 (the node is up and serving), and
# 2. asked itself (`ganglion cluster status` on its own request port), it knows the controller
#    leader and lists itself as `alive`: it has registered with the controller and its copy of the
#    metadata has caught up at least to its own registration.
# (2) stands in for what /health does not say yet: /health answers 200 as soon as the HTTP port
# is up, joined or not (docker/README.md, "Health").
set -uo pipefail

http_port="${GANGLION_HTTP:-127.0.0.1:7402}"; http_port="${http_port##*:}"
api_port="${GANGLION_API:-tcp://127.0.0.1:7400}"; api_port="${api_port##*:}"

fail() { echo "unhealthy: $*"; exit 1; }

exec 3<>"/dev/tcp/127.0.0.1/$http_port" || fail "nothing listens on the HTTP port $http_port"
printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
response="$(timeout 5 cat <&3)" || fail "GET /health did not finish within 5 s"
exec 3<&-
read -r _ code _ <<<"$response"
[[ "$code" == "200" ]] || fail "GET /health answered ${code:-nothing}"
node="$(sed -n 's/.*"node":"\([^"]*\)".*/\1/p' <<<"$response")"
[[ -n "$node" ]] || fail "GET /health named no node: $response"

status="$(timeout 8 ganglion cluster status --json --node "tcp://127.0.0.1:$api_port" 2>&1)" \
    || fail "cluster status through this node failed: $(tail -n 1 <<<"$status")"
# Keys are sorted: controller.leader is the first "leader" of the document; in nodes[] each
# object's "id" comes before its "state".
leader="$(grep -m 1 '"leader"' <<<"$status" | sed 's/.*: *//; s/[",]//g')"
[[ -n "$leader" && "$leader" != "null" ]] || fail "$node knows no controller leader"
state="$(awk -v id="\"$node\"" '
    $1 == "\"id\"" { mine = ($3 == id || $3 == id ",") }
    mine && $1 == "\"state\"" { gsub(/[",]/, "", $3); print $3; exit }' <<<"$status")"
[[ "$state" == "alive" ]] || fail "$node is ${state:-not listed} in its own view of the cluster (leader $leader)"
echo "healthy: $node alive, controller leader $leader"
