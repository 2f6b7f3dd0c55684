#!/usr/bin/env bash
# Regenerates the Swift code for every .proto under proto/ into Sources/GanglionWire/Generated.
#
#   scripts/generate-protos.sh          regenerate in place
#   scripts/generate-protos.sh --check  regenerate into a scratch folder and fail if the committed
#                                       code differs (CI runs this)
#
# Needs `protoc` (Debian: protobuf-compiler) and builds protoc-gen-swift from the pinned
# swift-protobuf dependency, so the generator always matches the runtime library.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out="Sources/GanglionWire/Generated"
mode="${1:-generate}"

command -v protoc >/dev/null || { echo "generate-protos: protoc not found (apt-get install protobuf-compiler)" >&2; exit 2; }

swift build --product protoc-gen-swift >/dev/null
plugin="$(swift build --show-bin-path)/protoc-gen-swift"

mapfile -t protos < <(cd proto && find . -name '*.proto' | sed 's|^\./||' | sort)
target="$out"
if [[ "$mode" == "--check" ]]; then
    target="$(mktemp -d)"
    trap 'rm -rf "$target"' EXIT
fi
if [[ "$mode" != "--check" ]]; then
    find "$out" -name '*.pb.swift' -delete 2>/dev/null || true
fi
mkdir -p "$target"
protoc --plugin=protoc-gen-swift="$plugin" -I proto \
    --swift_out="$target" --swift_opt=Visibility=Public --swift_opt=FileNaming=PathToUnderscores \
    "${protos[@]}"

if [[ "$mode" == "--check" ]]; then
    if ! diff -r "$out" "$target" >&2; then
        echo "generate-protos: $out is stale; run scripts/generate-protos.sh and commit the result" >&2
        exit 1
    fi
    echo "generate-protos: generated code is current (${#protos[@]} proto files)"
else
    echo "generate-protos: generated ${#protos[@]} proto files into $out"
fi
