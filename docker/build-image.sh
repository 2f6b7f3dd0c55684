#!/bin/bash
# Builds the node image from docker/Dockerfile with BINARY as its `ganglion`.
#   docker/build-image.sh BINARY [TAG]        (TAG default ganglion:latest)
# The build context is laid out in a temporary directory: the binary, the image's scripts, and
# lib/ with every shared library the binary needs from outside the system's library directories,
# and jemalloc (libjemalloc.so.2 alone for the release build with --static-swift-stdlib; with the
# Swift runtime for a debug build,
# which is what the CI scenario uses to skip a second build). Builds ganglion-base:bookworm first
# when the engine lacks it (docker/build-base.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="${1:?usage: docker/build-image.sh BINARY [TAG]}"
tag="${2:-ganglion:latest}"
[[ -x "$binary" ]] || { echo "build-image: $binary is not an executable" >&2; exit 1; }

docker image inspect ganglion-base:bookworm >/dev/null 2>&1 || "$here/build-base.sh"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
mkdir "$context/lib"
cp "$binary" "$context/ganglion"
# Debug information out (function names stay, for backtraces): the release binary 197 -> 122 MB.
command -v strip >/dev/null && strip --strip-debug "$context/ganglion"
cp "$here/Dockerfile" "$here/ganglion.sh" "$here/entrypoint.sh" "$here/healthcheck.sh" "$here/sample-traffic.sh" "$context/"
# Libraries resolved outside /lib and /usr/lib (the base image has those it needs: libc, libzmq5, …),
# and jemalloc, which it lacks.
missing="$(ldd "$binary" | awk '/not found/ { print $1 }')"
[[ -z "$missing" ]] || { echo "build-image: $binary needs libraries this machine lacks: $missing" >&2; exit 1; }
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r library; do
    case "$library" in
        */libjemalloc.so*) cp -L "$library" "$context/lib/" ;;   # the binary's malloc; not in the base image
        /lib/*|/usr/lib/*|/lib64/*) ;;
        *) cp -L "$library" "$context/lib/" ;;
    esac
done
bundled="$(ls "$context/lib" | wc -l)"
if ! docker build --tag "$tag" "$context" >"$context/build.log" 2>&1; then
    cat "$context/build.log" >&2; echo "build-image: docker build failed" >&2; exit 1
fi
docker image ls "$tag" --format "build-image: {{.Repository}}:{{.Tag}} {{.Size}} ($bundled bundled librar$( ((bundled == 1)) && echo y || echo ies))" >&2
