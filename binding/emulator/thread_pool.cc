#include "thread_pool.h"

#include <atomic>
#include <chrono>
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

struct Job {
  const std::function<void(int64_t)>* fn;
  const std::function<bool()>* stop;
  int64_t count;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> finished{0};
  std::mutex m;
  std::condition_variable doneCv;
  std::exception_ptr error;

  // Runs tasks until none are left; returns when this thread can take no more.
  void work() {
    for (;;) {
      const int64_t i = next.fetch_add(1);
      if (i >= count) return;
      bool skip = false;
      {
        std::lock_guard<std::mutex> g(m);
        skip = error != nullptr;
      }
      if (!skip && stop && *stop && (*stop)()) skip = true;
      if (!skip) {
        try {
          (*fn)(i);
        } catch (...) {
          std::lock_guard<std::mutex> g(m);
          if (!error) error = std::current_exception();
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
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { loop(); });
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
    job->work();
    if (spinUntil([&] { return job->finished.load() >= job->count; })) return;
    std::unique_lock<std::mutex> lk(job->m);
    job->doneCv.wait(lk, [&] { return job->finished.load() >= job->count; });
  }

 private:
  void loop() {
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
        if (job->next.load() >= job->count) {
          queue_.pop_front();
          queued_.fetch_sub(1);
          continue;
        }
      }
      job->work();
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
  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->stop = stop ? &stop : nullptr;
  job->count = count;
  pool().run(job);
  if (job->error) std::rethrow_exception(job->error);
}

}  // namespace qmm
