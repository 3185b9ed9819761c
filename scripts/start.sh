#!/usr/bin/env bash
# Builds Seatphone (release) and starts it with the default config
# (seatphone.toml): pages connect to ws://127.0.0.1:7682 and :7684, the demo
# page is at http://127.0.0.1:7684/.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dpkg-query -W -f='${Status}' libasound2-dev 2>/dev/null | grep -q "install ok installed"; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q --no-install-recommends \
        pkg-config cmake clang libclang-dev libasound2-dev libwebrtc-audio-processing-dev
fi
cargo build --release --workspace
exec target/release/seatphone --config seatphone.toml "$@"
