#!/bin/bash
# The image's HEALTHCHECK: a node is healthy when it is ready to serve as part of its cluster:
# its HTTP port answers GET /health with 200, which a node of a cluster does once it knows the
# controller leader and its own copy of the metadata lists this process registered and alive
# (it has caught up at least to its own registration); until then /health answers 503 with the
# reason (docker/README.md, "Health").
set -uo pipefail

http_port="${GANGLION_HTTP:-127.0.0.1:7402}"; http_port="${http_port##*:}"

fail() { echo "unhealthy: $*"; exit 1; }

exec 3<>"/dev/tcp/127.0.0.1/$http_port" || fail "nothing listens on the HTTP port $http_port"
printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
response="$(timeout 5 cat <&3)" || fail "GET /health did not finish within 5 s"
exec 3<&-
read -r _ code _ <<<"$response"
[[ "$code" == "200" ]] || fail "GET /health answered ${code:-nothing}: $(tail -n 1 <<<"$response")"
echo "healthy: $(tail -n 1 <<<"$response")"
