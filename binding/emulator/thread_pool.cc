#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace qmm {
namespace {

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

// Workers and callers spin this long for new work / completion before they
// block: back-to-back small ops (decode) then skip the futex wake-up latency.
constexpr auto kSpin = std::chrono::microseconds(50);

template <typename F>
bool spinUntil(F&& ready) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0;; ++i) {
    if (ready()) return true;
    cpuRelax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() - t0 > kSpin) return ready();
  }
}

// The tasks of one parallelFor. Participant s (0: the calling thread; s >= 1:
// pool worker s - 1, always the same thread) owns the contiguous task range
// [s * count / P, (s + 1) * count / P): it takes its own tasks from the
// front, and only when they are gone takes other participants' from the back.
// So repeated calls of the same shape give each thread the same tasks, and
// the weight panels a task reads stay in that core's L2 between calls (a
// batched decode like 15 x (1, 512) @ (512, 128) reads its 1 MB weight from
// two L2s instead of L3), while an unbalanced call is still evened out.
struct Job {
  // [lo, hi) of a participant's range in one word: the owner advances lo, thieves lower hi
  struct alignas(64) Range {
    std::atomic<uint64_t> bounds{0};
  };
  static uint64_t pack(int64_t lo, int64_t hi) { return static_cast<uint64_t>(hi) << 32 | static_cast<uint32_t>(lo); }

  const std::function<void(int64_t)>* fn;
  const std::function<bool()>* stop;
  int64_t count;
  int participants;
  std::unique_ptr<Range[]> ranges;
  std::atomic<int64_t> unclaimed;
  std::atomic<int64_t> finished{0};
  std::atomic<bool> failed{false};
  std::mutex m;
  std::condition_variable doneCv;
  std::exception_ptr error;

  Job(const std::function<void(int64_t)>& f, const std::function<bool()>* s, int64_t n, int p)
      : fn(&f), stop(s), count(n), participants(p), ranges(new Range[static_cast<size_t>(p)]), unclaimed(n) {
    for (int i = 0; i < p; ++i) ranges[i].bounds.store(pack(n * i / p, n * (i + 1) / p), std::memory_order_relaxed);
  }

  // The next task of range r: its first when `front` (the owner), else its last; -1 when empty.
  int64_t claim(int r, bool front) {
    std::atomic<uint64_t>& b = ranges[r].bounds;
    uint64_t v = b.load();
    for (;;) {
      const int64_t lo = static_cast<uint32_t>(v), hi = static_cast<int64_t>(v >> 32);
      if (lo >= hi) return -1;
      const uint64_t next = front ? pack(lo + 1, hi) : pack(lo, hi - 1);
      if (b.compare_exchange_weak(v, next)) {
        unclaimed.fetch_sub(1);
        return front ? lo : hi - 1;
      }
    }
  }

  int64_t next(int self) {
    if (self < participants) {
      const int64_t i = claim(self, true);
      if (i >= 0) return i;
    }
    for (int d = 1; d <= participants; ++d) {
      const int64_t i = claim((self + d) % participants, false);
      if (i >= 0) return i;
    }
    return -1;
  }

  // Runs tasks as participant `self` until none are left to claim.
  void work(int self) {
    for (int64_t i; (i = next(self)) >= 0;) {
      const bool skip = failed.load(std::memory_order_relaxed) || (stop && *stop && (*stop)());
      if (!skip) {
        try {
          (*fn)(i);
        } catch (...) {
          std::lock_guard<std::mutex> g(m);
          if (!error) error = std::current_exception();
          failed.store(true);
        }
      }
      if (finished.fetch_add(1) + 1 == count) {
        std::lock_guard<std::mutex> g(m);
        doneCv.notify_all();
      }
    }
  }
};

class Pool {
 public:
  explicit Pool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { loop(i + 1); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> g(m_);
      quit_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  void run(const std::shared_ptr<Job>& job) {
    if (!threads_.empty() && job->count > 1) {
      {
        std::lock_guard<std::mutex> g(m_);
        queue_.push_back(job);
        queued_.fetch_add(1);
      }
      if (sleeping_.load() > 0) cv_.notify_all();
    }
    job->work(0);
    if (spinUntil([&] { return job->finished.load() >= job->count; })) return;
    std::unique_lock<std::mutex> lk(job->m);
    job->doneCv.wait(lk, [&] { return job->finished.load() >= job->count; });
  }

 private:
  void loop(int self) {
    for (;;) {
      spinUntil([&] { return queued_.load() > 0; });
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lk(m_);
        if (queue_.empty() && !quit_) {
          sleeping_.fetch_add(1);
          cv_.wait(lk, [&] { return quit_ || !queue_.empty(); });
          sleeping_.fetch_sub(1);
        }
        if (quit_) return;
        job = queue_.front();
        if (job->unclaimed.load() <= 0) {
          queue_.pop_front();
          queued_.fetch_sub(1);
          continue;
        }
      }
      job->work(self);
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::atomic<int> queued_{0};    // jobs in queue_ (read without the lock while spinning)
  std::atomic<int> sleeping_{0};  // workers blocked in cv_.wait
  std::deque<std::shared_ptr<Job>> queue_;
  std::vector<std::thread> threads_;
  bool quit_ = false;
};

int readThreadCount() {
  if (const char* s = std::getenv("QMM_NUM_THREADS")) {
    const long v = std::strtol(s, nullptr, 10);
    if (v >= 1 && v <= 1024) return static_cast<int>(v);
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

Pool& pool() {
  // Leaked on purpose: worker threads must outlive every Node environment
  // (worker_threads) and static destruction order at process exit.
  static Pool* p = new Pool(readThreadCount() - 1);
  return *p;
}

thread_local bool runInline = false;

}  // namespace

InlineScope::InlineScope(bool enable) : previous_(runInline) { runInline = previous_ || enable; }
InlineScope::~InlineScope() { runInline = previous_; }

int computeThreads() {
  static const int n = readThreadCount();
  return n;
}

void parallelFor(int64_t count, const std::function<void(int64_t)>& fn, const std::function<bool()>& stop) {
  if (count <= 0) return;
  if (runInline) {
    for (int64_t i = 0; i < count; ++i) {
      if (stop && stop()) return;
      fn(i);
    }
    return;
  }
  constexpr int64_t kMaxJob = INT32_MAX;  // task indices of a job fit Job::Range's 32-bit halves
  if (count > kMaxJob) {
    for (int64_t first = 0; first < count; first += kMaxJob) {
      const std::function<void(int64_t)> shifted = [&](int64_t i) { fn(first + i); };
      parallelFor(std::min(kMaxJob, count - first), shifted, stop);
      if (stop && stop()) return;
    }
    return;
  }
  const int participants = static_cast<int>(std::min<int64_t>(count, computeThreads()));
  auto job = std::make_shared<Job>(fn, stop ? &stop : nullptr, count, participants);
  pool().run(job);
  if (job->error) std::rethrow_exception(job->error);
}

}  // namespace qmm
