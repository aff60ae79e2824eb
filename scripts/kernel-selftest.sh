#!/usr/bin/env bash
# Builds and runs the kernel self-test on this machine: every kernel the CPU
# supports (vnni512, avx2 / neon) against the portable one, bit for bit.
#   scripts/kernel-selftest.sh [--iters N] [--exhaustive]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/build/kernel-selftest"
mkdir -p "$out"
cmake -S "$root/binding/emulator/kernels/selftest" -B "$out" -DCMAKE_BUILD_TYPE=Release >"$out/configure.log" 2>&1 \
  || { cat "$out/configure.log" >&2; exit 1; }
cmake --build "$out" -j 2 >"$out/build.log" 2>&1 || { cat "$out/build.log" >&2; exit 1; }
exec "$out/kernel_selftest" "$@"
