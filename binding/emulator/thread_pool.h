// One compute pool for the process (docs/architecture.md, decision 6): sized by
// QMM_NUM_THREADS or the core count, shared by every op and every caller
// thread, so many in-flight Promises never oversubscribe the cores.
#pragma once

#include <cstdint>
#include <functional>

namespace qmm {

int computeThreads();

// Runs fn(i) for i in [0, count) on the pool; the calling thread helps.
// Each thread first runs its own contiguous share of the tasks (the same
// share on every call of the same size, so a repeated call finds its data
// in that core's cache), then takes what others have not started.
// Exceptions thrown by fn are rethrown here (the first one wins). When
// `stop` becomes true, tasks not yet started are skipped.
void parallelFor(int64_t count, const std::function<void(int64_t)>& fn,
                 const std::function<bool()>& stop = {});

// While one is alive, parallelFor on this thread runs every task on the
// calling thread: for work so small that waking the pool costs more than it saves.
class InlineScope {
 public:
  explicit InlineScope(bool enable);
  ~InlineScope();
  InlineScope(const InlineScope&) = delete;
  InlineScope& operator=(const InlineScope&) = delete;

 private:
  bool previous_;
};

}  // namespace qmm
