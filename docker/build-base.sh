#!/bin/bash
# Makes the base image ganglion-base:bookworm for docker/Dockerfile without a registry: Debian 12
# from `debootstrap --variant=minbase` plus libzmq5 and ca-certificates, trimmed (no apt caches,
# docs or man pages), imported with `docker import`. The root file system is also kept as a tar in
# the cache directory, so an engine that lacks the image (a test's own engine) imports it in
# seconds instead of bootstrapping again.
#   docker/build-base.sh [--cache DIR]     (default $GANGLION_CACHE or /var/cache/ganglion; root)
# Needs debootstrap and a reachable Debian mirror (GANGLION_DEBIAN_MIRROR, default deb.debian.org)
# the first time; docker (DOCKER_HOST as set) to import.
set -euo pipefail

cache="${GANGLION_CACHE:-/var/cache/ganglion}"
[[ "${1:-}" == "--cache" ]] && cache="$2"
image="ganglion-base:bookworm"
tarball="$cache/ganglion-base-bookworm.tar"
mirror="${GANGLION_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$image" >/dev/null 2>&1; then
    echo "build-base: $image is there" >&2
    exit 0
fi
mkdir -p "$cache"
if [[ ! -s "$tarball" ]]; then
    root="$(mktemp -d "$cache/rootfs.XXXXXX")"
    trap 'rm -rf "$root"' EXIT
    echo "build-base: debootstrap --variant=minbase bookworm (+ libzmq5, ca-certificates) from $mirror" >&2
    debootstrap --variant=minbase --include=libzmq5,ca-certificates bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 \
        || { tail -n 20 "$cache/debootstrap.log" >&2; echo "build-base: debootstrap failed (log: $cache/debootstrap.log)" >&2; exit 1; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
        "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* "$root"/var/log/*.log \
        "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old
    tar -C "$root" --numeric-owner -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
fi
echo "build-base: importing $tarball as $image" >&2
docker import --change 'CMD ["/bin/bash"]' "$tarball" "$image" >/dev/null
docker image ls "$image" --format 'build-base: {{.Repository}}:{{.Tag}} {{.Size}}' >&2
