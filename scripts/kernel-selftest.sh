#!/usr/bin/env bash
# Builds and runs the kernel self-test on this machine: every kernel the CPU
# supports (amx_int8, vnni512, avx2 / i8mm, neon) against the portable one, bit
# for bit, and the AMX kernel's logic on the software tile model on any CPU
# (the log says "amx: skipped (...)" when the real one could not run).
#   scripts/kernel-selftest.sh [--iters N] [--exhaustive]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/build/kernel-selftest"
mkdir -p "$out"
cmake -S "$root/binding/emulator/kernels/selftest" -B "$out" -DCMAKE_BUILD_TYPE=Release >"$out/configure.log" 2>&1 \
  || { cat "$out/configure.log" >&2; exit 1; }
cmake --build "$out" -j 2 >"$out/build.log" 2>&1 || { cat "$out/build.log" >&2; exit 1; }
exec "$out/kernel_selftest" "$@"
