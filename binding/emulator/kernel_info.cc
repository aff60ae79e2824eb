#include "kernel_info.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "kernels/dispatch.h"
#include "thread_pool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace qmm::emu {

std::string kernelName() { return kern::active().name; }
std::string kernelNote() { return kern::activeNote(); }
bool kernelSelect(const std::string& name) { return kern::select(name.c_str()); }

std::string kernelsAvailable() { return kern::availableKernels(); }

namespace {

// Runs fn(i) for i < threads on the pool, all started together.
template <typename F>
void onAllThreads(int threads, F&& fn) {
  std::atomic<int> started{0};
  parallelFor(threads, [&](int64_t i) {
    started.fetch_add(1);
    const auto t0 = std::chrono::steady_clock::now();
    while (started.load() < threads && std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(200))
      std::this_thread::yield();
    fn(static_cast<int>(i));
  });
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) uint64_t sumAvx2(const uint8_t* p, size_t bytes) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 128 <= bytes; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  uint64_t out[4];
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), s);
  return out[0] + out[1] + out[2] + out[3];
}
#endif

uint64_t sumBytes(const uint8_t* p, size_t bytes) {
#if defined(__x86_64__)
  if (kern::cpuHasAvx2()) return sumAvx2(p, bytes);
#endif
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  size_t i = 0;
  for (; i + 32 <= bytes; i += 32) {
    uint64_t w[4];
    std::memcpy(w, p + i, 32);
    a0 += w[0];
    a1 += w[1];
    a2 += w[2];
    a3 += w[3];
  }
  return a0 + a1 + a2 + a3;
}

}  // namespace

double probeKernelPeakGops(double seconds) {
  const kern::Kernel& k = kern::active();
  if (k.probe == nullptr) return 0;
  const int threads = computeThreads();
  std::vector<double> r(threads, 0.0);
  onAllThreads(threads, [&](int i) { r[i] = k.probe(seconds); });
  double s = 0;
  for (double v : r) s += v;
  return s;
}

double probeDramReadGBps(size_t bytes, int repeats) {
  const int threads = computeThreads();
  bytes = bytes / (128 * static_cast<size_t>(threads)) * 128 * threads;
  if (bytes == 0) return 0;
  std::unique_ptr<uint8_t[]> buf(new uint8_t[bytes]);
  const size_t slice = bytes / threads;
  parallelFor(threads, [&](int64_t i) { std::memset(buf.get() + i * slice, static_cast<int>(i + 1), slice); });
  double best = 0;
  std::atomic<uint64_t> sink{0};
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    onAllThreads(threads, [&](int i) { sink.fetch_add(sumBytes(buf.get() + i * slice, slice)); });
    const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double gbps = static_cast<double>(bytes) / el / 1e9;
    if (gbps > best) best = gbps;
  }
  return best;
}

}  // namespace qmm::emu
