#!/usr/bin/env bash
# Cross-builds the kernel self-test (kernels + numerics, no Node) for aarch64
# with Debian's crossbuild-essential-arm64, through cmake/toolchain-aarch64.cmake,
# and runs it under qemu-aarch64: the NEON (SDOT) and i8mm (SMMLA) kernels must
# equal the portable kernel bit for bit on random shapes, packers and
# epilogues, and run-time dispatch must pick i8mm only on a CPU that has it.
#   scripts/cross-arm64.sh [--install] [self-test args, e.g. --iters 2000]
# --install: apt-get install the toolchain and qemu-user when missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [[ "${1:-}" == "--install" ]]; then
  shift
  if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq crossbuild-essential-arm64 qemu-user >/dev/null
  fi
fi
for tool in aarch64-linux-gnu-g++ qemu-aarch64 cmake; do
  command -v "$tool" >/dev/null || { echo "cross-arm64: $tool not found (apt-get install crossbuild-essential-arm64 qemu-user cmake, or pass --install)" >&2; exit 2; }
done
out="$root/build/cross-arm64-selftest"
mkdir -p "$out"
cmake -S "$root/binding/emulator/kernels/selftest" -B "$out" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchain-aarch64.cmake" >"$out/configure.log" 2>&1 \
  || { cat "$out/configure.log" >&2; exit 1; }
cmake --build "$out" -j 2 >"$out/build.log" 2>&1 || { cat "$out/build.log" >&2; exit 1; }
file "$out/kernel_selftest" | grep -q aarch64 || { echo "cross-arm64: the self-test is not an aarch64 binary" >&2; exit 1; }
# qemu's "max" CPU has SDOT and SMMLA (i8mm): both kernels run and dispatch must
# choose i8mm; a Cortex-A76 has SDOT but no i8mm: dispatch must fall back to neon.
for cpu in max:i8mm cortex-a76:neon; do
  echo "== qemu-aarch64 -cpu ${cpu%%:*} (expect dispatch: ${cpu##*:})"
  qemu-aarch64 -cpu "${cpu%%:*}" -L /usr/aarch64-linux-gnu "$out/kernel_selftest" "$@" --expect-active "${cpu##*:}"
done
