#!/usr/bin/env bash
# Installs the system packages Ganglion builds and tests against, on Debian 12 (or Ubuntu).
#   scripts/install-deps.sh [--for run|test]
# Needs a Swift 6.1+ toolchain on PATH (or in /opt/swift); on Debian 12 it also installs what the
# toolchain needs to run (a tarball from swift.org unpacked on a fresh machine). Packages already
# present are skipped.
set -euo pipefail

purpose="run"
[[ "${1:-}" == "--for" ]] && purpose="${2:-run}"

packages=(libzmq3-dev libprotobuf-c-dev pkg-config libjemalloc-dev)   # libprotobuf-c-dev: the C producer in clients/c; libjemalloc-dev: the malloc linked into `ganglion`
packages+=(curl)   # the quick start's HTTP calls (ask, metrics)
# What the Swift toolchain itself needs to run and link on Debian 12, as swift.org's Debian 12
# image installs it: a toolchain unpacked on a fresh machine stops at once without them (the
# driver needs libncurses6, the package manager git, the linker gold (in binutils: Debian 12 has no
# binutils-gold package, only a name binutils provides) and libstdc++'s headers).
if grep -qs '^ID=debian' /etc/os-release && grep -qs '^VERSION_ID="12"' /etc/os-release; then
    packages+=(binutils gcc git libc6-dev libcurl4-openssl-dev libedit-dev libicu-dev libncurses-dev libpython3-dev
               libsqlite3-dev libstdc++-12-dev libxml2-dev tzdata uuid-dev zlib1g-dev ca-certificates)
fi
if [[ "$purpose" == "test" ]]; then
    packages+=(protobuf-compiler libprotobuf-dev openssl)   # protoc: generated-code check and differential tests; libprotobuf-dev: their corpus; openssl (and curl): HTTP and signed-webhook tests
    packages+=(protobuf-c-compiler gcc libc6-dev make python3)   # the C producer's generated-code check, build and tests (clients/c)
    packages+=(iproute2)   # ip netns, veth, bridges: the multi-node scenarios (cluster/)
fi

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}" >&2
    sudo=""
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null || { echo "install-deps: need root or sudo to apt-get install ${missing[*]}" >&2; exit 2; }
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The registry tests drive the node with Confluent's own Python client, from a venv in .build.
if [[ "$purpose" == "test" ]]; then
    venv="$(cd "$(dirname "$0")/.." && pwd)/.build/test-venv"
    if ! "$venv/bin/python" -c 'import confluent_kafka.schema_registry.protobuf' >/dev/null 2>&1; then
        echo "install-deps: installing confluent-kafka (Python) into $venv" >&2
        if ! python3 -m venv "$venv" >/dev/null 2>&1; then
            sudo=""; [[ "$(id -u)" != 0 ]] && sudo="sudo"
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
            python3 -m venv "$venv"
        fi
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            confluent-kafka==2.16.1 certifi attrs cachetools httpx authlib protobuf googleapis-common-protos
    fi
fi

if ! command -v swift >/dev/null; then
    if [[ -x /opt/swift/usr/bin/swift ]]; then
        echo "install-deps: add /opt/swift/usr/bin to PATH" >&2
    fi
    echo "install-deps: no Swift toolchain on PATH; install Swift 6.1 or newer from swift.org" >&2
    exit 2
fi
