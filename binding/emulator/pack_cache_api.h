// Plain C++ knobs of the emulator's weight-packing cache and of the kernel
// choice, for the N-API layer to expose to JavaScript (binding/addon.cc).
// Nothing here depends on N-API. See pack_cache.h for the cache contract.
//
// Suggested binding (what scripts/bench and test code look for):
//   addon.emulator = {
//     kernelName(): string, kernelNote(): string, kernelsAvailable(): string,
//     selectKernel(name): boolean,
//     packCache: { clear(), release(view: ArrayBufferView): number  // packCacheRelease(data, byteLength)
//                  bytes(), entries(), hits(), misses(),
//                  setMode('off'|'nz'|'all'): boolean, mode(): string,
//                  setLimit(bytes), limit() },
//     probeKernelPeakGops(seconds): number,        // blocks the calling thread
//     probeDramReadGBps(bytes, repeats): number,    // allocates `bytes`
//   }
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace qmm::emu {

// Drops every cached packing (memory is returned once no running op uses it).
void packCacheClear();
// Drops the entries whose source buffer overlaps [ptr, ptr + bytes) (bytes 0:
// the entries whose buffer starts at ptr). Returns how many were dropped.
size_t packCacheRelease(const void* ptr, size_t bytes);
// Bytes held by cached packings, and how many entries.
size_t packCacheBytes();
size_t packCacheEntries();
// Hits / misses (packings made) since start.
uint64_t packCacheHits();
uint64_t packCacheMisses();
// "off" | "nz" (default: FRACTAL_NZ weights only) | "all" (ND weights too).
// Returns false for an unknown mode. Initial value from QMM_PACK_CACHE.
bool packCacheSetMode(const std::string& mode);
std::string packCacheMode();
// Upper bound of the cache in bytes (initially QMM_PACK_CACHE_MAX_MB, default 4096 MiB).
void packCacheSetLimit(size_t bytes);
size_t packCacheLimit();

// Kernel in use ("amx_int8", "vnni512", "avx2", "i8mm", "neon", "scalar"), the note explaining a
// QMM_KERNEL fallback ("" if none), and a switch (false when unavailable;
// clears nothing: cache entries are per kernel).
std::string kernelName();
std::string kernelNote();
bool kernelSelect(const std::string& name);
// Comma-separated kernels this CPU and build can run, best first.
std::string kernelsAvailable();

// Machine probes for the benchmark: sustained int8 dot-product throughput of
// the active kernel on all compute threads (GOPS, multiply and add counted
// separately; 0 when the kernel has no probe), and DRAM read bandwidth with
// all compute threads streaming a buffer of `bytes` (GB/s).
double probeKernelPeakGops(double seconds);
double probeDramReadGBps(size_t bytes, int repeats);

}  // namespace qmm::emu
