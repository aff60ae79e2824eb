// Per-environment instance data (worker_threads safe: each Node environment
// gets its own constructors; backends are process-wide).
#pragma once

#include <napi.h>

namespace qmm {

struct InstanceData {
  Napi::FunctionReference deviceBufferCtor;
  Napi::FunctionReference backendCtor;
  Napi::FunctionReference cancelTokenCtor;
};

InstanceData& instanceData(Napi::Env env);

}  // namespace qmm
