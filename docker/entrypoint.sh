#!/bin/bash
# The image's entry point. `node …` (the default command) runs `ganglion node` with the settings of
# GANGLION_* variables; any other command runs `ganglion …` (`docker compose exec worker ganglion
# cluster status` works as well: the binary is on PATH).
#
# A node's identity is its data directory: `ganglion node` keeps its id in <data-dir>/node-id,
# generated on first start. Scaled containers (the compose file's `worker` service) share one
# volume, GANGLION_DATA_POOL, and each claims a directory of it, slot-1, slot-2, …: the first whose
# lease (an flock on slot-N/.lease, held by the node process for its whole life) is free. A worker
# recreated by `down`/`up` or replaced after a crash takes a free slot back, and with it that
# node's id and data; the container's name plays no part.
#
# GANGLION_ADVERTISE_ADDRESS=ip advertises the container's own IP address (a scaled container
# has no name of its own that other containers can resolve).
set -euo pipefail

if [[ "${1:-node}" != "node" ]]; then
    exec ganglion "$@"
fi
shift || true

if [[ -n "${GANGLION_DATA_POOL:-}" && -z "${GANGLION_DATA_DIR:-}" ]]; then
    mkdir -p "$GANGLION_DATA_POOL"
    for slot in $(seq 1 1024); do
        directory="$GANGLION_DATA_POOL/slot-$slot"
        mkdir -p "$directory"
        exec 9>>"$directory/.lease"
        if flock --nonblock 9; then
            export GANGLION_DATA_DIR="$directory"
            break
        fi
        exec 9>&-
    done
    if [[ -z "${GANGLION_DATA_DIR:-}" ]]; then
        echo "entrypoint: every one of 1024 slots of $GANGLION_DATA_POOL is leased by a running node" >&2
        exit 1
    fi
    echo "entrypoint: data in $GANGLION_DATA_DIR ($(cat "$GANGLION_DATA_DIR/node-id" 2>/dev/null || echo 'a new node'))" >&2
fi
export GANGLION_DATA_DIR="${GANGLION_DATA_DIR:-/data}"

if [[ "${GANGLION_ADVERTISE_ADDRESS:-}" == "ip" && -z "${GANGLION_ADVERTISE:-}" ]]; then
    address="$(hostname -i | awk '{print $1}')"
    [[ -n "$address" ]] || { echo "entrypoint: this container has no IP address to advertise" >&2; exit 1; }
    export GANGLION_ADVERTISE="$address"
fi

# The lease (fd 9) stays open in the node process: it is released when the node exits.
exec ganglion node "$@"
