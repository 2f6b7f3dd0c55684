#!/usr/bin/env bash
# One command to run a Ganglion cluster with docker compose (docker/compose.yaml): three
# controller voters and one worker, the demo agents and sample traffic on, controller-1's HTTP
# port (/health, /metrics, asks, ingest) on 127.0.0.1:7402. Security is on (keys made at first start,
# docker/compose.yaml): once healthy, admin is made a principal of the metadata so that it can hold
# HTTP tokens, and the script prints how to make one (it makes none: a token's secret is shown once).
#   scripts/cluster-up.sh [up] [--workers N]   install what is missing, build, start, wait until healthy
#   scripts/cluster-up.sh down [--volumes]     stop and remove the containers (--volumes: the data too),
#                                              and the engine if this script started it
# Installs docker.io, docker-compose (compose v1, Debian's) and debootstrap when missing (apt-get,
# root or sudo); starts a docker engine when none answers (and remembers that it did); builds the
# base image once (debootstrap, cached in /var/cache/ganglion), the release `ganglion` binary
# (static Swift standard library, in .build-static) and the node image; then `docker-compose up`.
# GANGLION_HTTP_PORT changes the published port; COMPOSE_PROJECT_NAME the project (default ganglion);
# GANGLION_SECURITY=off runs the cluster in plain text (then set it for every docker-compose command);
# GANGLION_BUILD_LOCK names a file to flock around the Swift build.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d /opt/swift/usr/bin ]] && export PATH="/opt/swift/usr/bin:$PATH"
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-ganglion}"
state="${GANGLION_CACHE:-/var/cache/ganglion}"
started=$(date +%s)
say() { echo "== cluster-up: $* ($(($(date +%s) - started)) s)" >&2; }
sudo=""
[[ "$(id -u)" != 0 ]] && sudo="sudo"
compose() { docker-compose -f docker/compose.yaml "$@"; }

command="up"
if [[ "${1:-}" == "up" || "${1:-}" == "down" ]]; then command="$1"; shift; fi
workers=1
remove_volumes=""
while (($#)); do
    case "$1" in
        --workers) workers="$2"; shift 2 ;;
        --volumes) remove_volumes="--volumes"; shift ;;
        *) echo "cluster-up: unknown argument $1 (see the head of $0)" >&2; exit 2 ;;
    esac
done

install_tools() {
    local missing=()
    command -v docker >/dev/null || missing+=(docker.io)
    command -v docker-compose >/dev/null || missing+=(docker-compose)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# An engine that answers, else the system's service, else dockerd started here (its PID kept in
# $state/dockerd.pid so that `down` stops it, and only it).
start_engine() {
    docker info >/dev/null 2>&1 && return
    if [[ -n "${DOCKER_HOST:-}" ]]; then
        echo "cluster-up: no docker engine answers at DOCKER_HOST=$DOCKER_HOST" >&2; exit 1
    fi
    if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
        say "starting the docker service"
        $sudo systemctl start docker
    else
        say "starting dockerd (log: $state/dockerd.log)"
        $sudo mkdir -p "$state"
        $sudo bash -c "nohup dockerd >'$state/dockerd.log' 2>&1 & echo \$! >'$state/dockerd.pid'"
    fi
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return; sleep 1; done
    echo "cluster-up: the docker engine did not answer within 60 s (log: $state/dockerd.log)" >&2; exit 1
}

stop_engine() {
    local pid
    [[ -s "$state/dockerd.pid" ]] || return 0
    pid="$(cat "$state/dockerd.pid")"
    if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "dockerd" ]]; then
        say "stopping the dockerd this script started (pid $pid)"
        $sudo kill "$pid"
        for _ in $(seq 1 30); do [[ -d "/proc/$pid" ]] || break; sleep 1; done
    fi
    $sudo rm -f "$state/dockerd.pid"
}

if [[ "$command" == "down" ]]; then
    if docker info >/dev/null 2>&1; then
        say "docker-compose down $remove_volumes"
        compose down --remove-orphans $remove_volumes
    fi
    stop_engine
    say "down"
    exit 0
fi

install_tools
start_engine
if docker image inspect ganglion-base:bookworm >/dev/null 2>&1; then
    say "base image ganglion-base:bookworm is there"
else
    say "building the base image ganglion-base:bookworm (debootstrap, once)"
    if [[ -z "$sudo" ]]; then GANGLION_CACHE="$state" docker/build-base.sh
    else $sudo env "GANGLION_CACHE=$state" ${DOCKER_HOST:+"DOCKER_HOST=$DOCKER_HOST"} docker/build-base.sh; fi
fi
say "building the release ganglion binary (static Swift standard library, .build-static)"
scripts/install-deps.sh --for run
build=(swift build -c release --static-swift-stdlib --product ganglion --scratch-path .build-static)
lock=()
[[ -n "${GANGLION_BUILD_LOCK:-}" ]] && lock=(flock "$GANGLION_BUILD_LOCK")   # builds sharing a machine take turns
"${lock[@]}" "${build[@]}" >&2
binary="$("${build[@]}" --show-bin-path)/ganglion"
say "building the image ganglion:latest"
docker/build-image.sh "$binary" ganglion:latest
say "docker-compose up -d --scale worker=$workers"
compose up -d --scale "worker=$workers"

say "waiting until every node is healthy"
deadline=$(($(date +%s) + 180))
while :; do
    ids="$(compose ps -q controller-1 controller-2 controller-3 worker)"
    states="$(docker inspect --format '{{.Name}} {{.State.Health.Status}}' $ids)"
    if ! grep -qv ' healthy$' <<<"$states" && (($(wc -l <<<"$states") == 3 + workers)); then break; fi
    if (($(date +%s) > deadline)); then
        echo "$states" >&2
        echo "cluster-up: not every node became healthy within 180 s; see: docker-compose -f docker/compose.yaml logs" >&2
        exit 1
    fi
    sleep 1
done
say "a healthy cluster of 3 controllers and $workers worker(s)"
security=on
[[ "${GANGLION_SECURITY:-on}" == off ]] && security=off
if [[ "$security" == on ]] && ! compose exec -T controller-1 ganglion security principal list | grep -q '^admin '; then
    compose exec -T controller-1 ganglion security principal add admin --public-key-file /security/admin.pub >&2 \
        || echo "cluster-up: admin is not a principal yet: HTTP tokens need it (docker/README.md, Security)" >&2
fi

cat <<EOF

Ganglion runs in docker compose (project $COMPOSE_PROJECT_NAME): controller-1..3 (the controller voters), $workers worker(s),
the demo agents on the workers and a sample-traffic service feeding them.

  docker-compose -f docker/compose.yaml ps                     the containers and their health
  docker-compose -f docker/compose.yaml exec controller-1 ganglion cluster status
                                                               controller, nodes, partitions, which node hosts which shard
  docker-compose -f docker/compose.yaml exec controller-1 ganglion tail fraud-detection.decisions
                                                               the fraud agent's decisions, live (Ctrl-C stops)
  docker-compose -f docker/compose.yaml logs -f traffic        the sample traffic
EOF
port="${GANGLION_HTTP_PORT:-7402}"
if [[ "$security" == on ]]; then
    cat <<EOF

Security is on (CurveZMQ, ACLs; the keys in the volume ${COMPOSE_PROJECT_NAME}_keys; the CLI in a container acts as admin).
Every HTTP path but /health needs a token; make one for admin (its secret is printed this once) and use it:
  token="\$(docker-compose -f docker/compose.yaml exec -T controller-1 ganglion security token create --principal admin | grep -o 'gt_[^ ]*')"
  curl -H "Authorization: Bearer \$token" http://127.0.0.1:$port/metrics           Prometheus metrics of controller-1
EOF
else
    cat <<EOF

Security is off (GANGLION_SECURITY=off: set it for every docker-compose command too).
  curl http://127.0.0.1:$port/metrics                      Prometheus metrics of controller-1 (also /health)
EOF
fi
cat <<EOF

Scale the workers (new ones join and take agent shards within seconds):
  docker-compose -f docker/compose.yaml up -d --scale worker=3
Rolling restart (one node at a time, each healthy before the next): docker/README.md.
Stop: scripts/cluster-up.sh down   (the data stays in volumes; add --volumes to remove it)
EOF
