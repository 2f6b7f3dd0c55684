#!/bin/sh
# The image's `ganglion` (the binary is /usr/local/libexec/ganglion/ganglion). GANGLION_SECURITY=off
# turns security off for every use of it in a container, nodes and CLI alike (`docker-compose exec
# controller-1 ganglion …` too, which skips the entry point): GANGLION_SECURITY_DIR is emptied, which
# the binary reads as no security. docker/compose.yaml passes the host's GANGLION_SECURITY (default on).
if [ "${GANGLION_SECURITY:-on}" = off ]; then
    export GANGLION_SECURITY_DIR=
fi
exec /usr/local/libexec/ganglion/ganglion "$@"
