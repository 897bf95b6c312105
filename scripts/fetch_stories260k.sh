#!/bin/sh
# fetch_stories260k.sh [DIR] - download the public stories260K GGUF (a 260K-parameter
# LLaMA-architecture model trained on TinyStories, MIT license, about 1.2 MB) into
# DIR/stories260K/ (default: models/), for users who have a network. ptune itself
# never downloads anything; point PTUNE_MODELS at DIR afterwards.
set -eu
dir=${1:-models}
url=https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf
sha=270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d
command -v curl > /dev/null || {
    echo "fetch_stories260k: curl is needed: apt-get install -y curl ca-certificates" >&2
    exit 1
}
mkdir -p "$dir/stories260K"
out="$dir/stories260K/stories260K.gguf"
curl -fL --retry 3 -o "$out.part" "$url"
got=$(sha256sum "$out.part" | cut -d' ' -f1)
if [ "$got" != "$sha" ]; then
    echo "fetch_stories260k: checksum mismatch ($got), expected $sha" >&2
    rm -f "$out.part"
    exit 1
fi
mv "$out.part" "$out"
echo "saved $out; now: export PTUNE_MODELS=$dir"
