#!/usr/bin/env bash
# Installs everything the build and the tests need on a fresh Debian 12 machine.
# Idempotent: packages already present are skipped quickly.
#
#   scripts/install-deps.sh          everything
#   scripts/install-deps.sh build    what `cargo build` needs (scripts/test.sh
#                                    builds while the rest installs)
#   scripts/install-deps.sh test     the rest: the tests' packages, cargo-deb,
#                                    the browser tests' npm packages
set -euo pipefail
cd "$(dirname "$0")/.."
part=${1:-all}
case "$part" in
    all|build|test) ;;
    *) echo "usage: scripts/install-deps.sh [build|test]" >&2; exit 2 ;;
esac

BUILD_PACKAGES=(
    pkg-config cmake clang libclang-dev libasound2-dev libwebrtc-audio-processing-dev
    # the video plugin's codec library: libvpx (VP8), nasm (OpenH264's assembly)
    libvpx-dev nasm
)
TEST_PACKAGES=(
    # process and network tools the tests use (kill, unshare, ip)
    procps util-linux iproute2
    # SIP peers and registrar
    kamailio kamailio-tls-modules openssl baresip baresip-core sip-tester
    # baresip's video codecs and display (only Recommends of baresip)
    baresip-ffmpeg baresip-x11
    # the video window's tests: a virtual X server and its tools
    xvfb xauth x11-utils xdotool
    # the share tests' window managers: an EWMH one and a plain reparenting one
    jwm twm
    # audio checks and a real (virtual) sound device
    sox libsox-fmt-all pulseaudio pulseaudio-utils libasound2-plugins ffmpeg
    # browser tests (certutil: the wss tests' CA in Chromium's NSS database)
    chromium libnss3-tools
    # the Debian package: cargo-deb's tools (dpkg-shlibdeps, strip), lintian,
    # the desktop entries' check and database
    dpkg-dev binutils lintian desktop-file-utils
)

case "$part" in
    all) APT_PACKAGES=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}") ;;
    build) APT_PACKAGES=("${BUILD_PACKAGES[@]}") ;;
    test) APT_PACKAGES=("${TEST_PACKAGES[@]}") ;;
esac

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q "${missing[@]}"
fi
[ "$part" != build ] || exit 0

# Builds the Debian package (scripts/package.sh). An unoptimised build: 60
# instead of 147 s of CPU on a fresh machine (beside the release build), and
# packaging takes as long (compression and stripping run in C and dpkg's
# tools).
if ! cargo deb --version >/dev/null 2>&1; then
    cargo install cargo-deb --locked --debug
fi

if [ -f tests/browser/package.json ]; then
    (cd tests/browser && npm ci --no-audit --no-fund)
fi
