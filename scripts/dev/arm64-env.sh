#!/usr/bin/env bash
# Sets up what the linux-arm64 checks need on an x86_64 Debian host:
# the cross compiler and qemu (Debian packages), and an arm64 Node.js (Debian's
# nodejs:arm64 and its libraries, unpacked into build/arm64-root) that runs
# under qemu-aarch64. Idempotent; prints the root on success.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD/build/arm64-root"

pkgs=()
command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || pkgs+=(crossbuild-essential-arm64)
command -v qemu-aarch64 >/dev/null 2>&1 || pkgs+=(qemu-user)
if [ ${#pkgs[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

if [ ! -x "$root/usr/bin/node" ]; then
  dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64; apt-get update -qq; }
  debs="$(mktemp -d)"
  chmod 777 "$debs"
  (cd "$debs" && apt-get download -qq nodejs:arm64 libnode108:arm64 libbrotli1:arm64 libc-ares2:arm64 \
    libicu72:arm64 libnghttp2-14:arm64 libssl3:arm64 libuv1:arm64 zlib1g:arm64 libc6:arm64 \
    libstdc++6:arm64 libgcc-s1:arm64 node-cjs-module-lexer node-acorn node-undici node-busboy 2>/dev/null)
  mkdir -p "$root"
  for f in "$debs"/*.deb; do dpkg -x "$f" "$root"; done
  rm -rf "$debs"
fi
qemu-aarch64 -L "$root" "$root/usr/bin/node" -e "process.arch === 'arm64' || process.exit(1)"
echo "$root"
