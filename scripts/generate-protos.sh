#!/usr/bin/env bash
# Regenerates the code for every .proto under proto/: Swift into Sources/GanglionWire/Generated,
# C (protobuf-c) into clients/c/generated.
#
#   scripts/generate-protos.sh                  regenerate both in place
#   scripts/generate-protos.sh --check          regenerate into a scratch folder and fail if the
#                                               committed code differs (CI runs this)
#   scripts/generate-protos.sh [--check] --only swift|c
#                                               one language only (`--only c` needs no Swift build)
#
# Needs `protoc` (Debian: protobuf-compiler) with the well-known protos (libprotobuf-dev); builds
# protoc-gen-swift from the pinned swift-protobuf dependency, so the generator always matches the
# runtime library; and `protoc-c` (protobuf-c-compiler), whose version matches libprotobuf-c-dev.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
swift_out="Sources/GanglionWire/Generated"
c_out="clients/c/generated"

mode="generate"
languages="swift c"
while (($#)); do
    case "$1" in
        --check) mode="--check"; shift ;;
        --only)
            [[ "${2:-}" == swift || "${2:-}" == c ]] || { echo "generate-protos: --only takes swift or c" >&2; exit 2; }
            languages="$2"; shift 2 ;;
        *) echo "usage: scripts/generate-protos.sh [--check] [--only swift|c]" >&2; exit 2 ;;
    esac
done
wants() { [[ " $languages " == *" $1 "* ]]; }

command -v protoc >/dev/null || { echo "generate-protos: protoc not found (apt-get install protobuf-compiler)" >&2; exit 2; }
if wants c; then
    command -v protoc-c >/dev/null || { echo "generate-protos: protoc-c not found (apt-get install protobuf-c-compiler)" >&2; exit 2; }
fi

mapfile -t protos < <(cd proto && find . -name '*.proto' | sed 's|^\./||' | sort)
# The well-known protos ours import: the C code needs them generated too (libprotobuf-c ships none).
mapfile -t well_known < <(grep -rhoE '^import "google/protobuf/[a-z_]+\.proto"' proto | sed -E 's/^import "(.*)"/\1/' | sort -u)

scratch=""
if [[ "$mode" == "--check" ]]; then
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' EXIT
fi

# Where a language's code goes: the committed folder, or with --check a scratch one.
target_for() {
    local language="$1" out="$2"
    if [[ "$mode" == "--check" ]]; then
        echo "$scratch/$language"
    else
        echo "$out"
    fi
}

stale=0
compare() {
    local out="$1" target="$2"
    if ! diff -r "$out" "$target" >&2; then
        echo "generate-protos: $out is stale; run scripts/generate-protos.sh and commit the result" >&2
        stale=1
    fi
}

if wants swift; then
    swift build --product protoc-gen-swift >/dev/null
    plugin="$(swift build --show-bin-path)/protoc-gen-swift"
    target="$(target_for swift "$swift_out")"
    if [[ "$mode" != "--check" ]]; then find "$swift_out" -name '*.pb.swift' -delete 2>/dev/null || true; fi
    mkdir -p "$target"
    protoc --plugin=protoc-gen-swift="$plugin" -I proto \
        --swift_out="$target" --swift_opt=Visibility=Public --swift_opt=FileNaming=PathToUnderscores \
        "${protos[@]}"
    # A message kept in a storage class (EventEnvelope) has its fields checked for exclusive
    # access at run time on every get, set, copy and visit: without the checks the envelope's
    # share of an agent's CPU fell from 9.4% to 3.8%. Only the generated code touches that
    # fileprivate class, one access at a time, so its fields go unchecked (the module keeps the
    # checks everywhere else).
    find "$target" -name '*.pb.swift' -exec sed -i \
        '/^  fileprivate class _StorageClass {$/,/^  }$/ s/^    var _/    @exclusivity(unchecked) var _/' {} +
    if [[ "$mode" == "--check" ]]; then compare "$swift_out" "$target"; fi
fi

if wants c; then
    target="$(target_for c "$c_out")"
    if [[ "$mode" != "--check" ]]; then find "$c_out" -name '*.pb-c.[ch]' -delete 2>/dev/null || true; fi
    mkdir -p "$target"
    protoc -I proto --c_out="$target" "${protos[@]}" "${well_known[@]}"
    if [[ "$mode" == "--check" ]]; then compare "$c_out" "$target"; fi
fi

if [[ "$mode" == "--check" ]]; then
    if ((stale)); then exit 1; fi
    echo "generate-protos: generated code is current (${#protos[@]} proto files; $languages)"
else
    echo "generate-protos: generated ${#protos[@]} proto files ($languages)"
fi
