// Reading op arguments from JS objects into TensorArg, with strict type
// checks (TypeError for wrong JS types) and the bounds checks of tensor.h.
#pragma once

#include <napi.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend.h"
#include "errors.h"

namespace qmm {

// Keeps the JS objects that own an op's memory alive until the op is done.
struct KeepAlive {
  std::vector<Napi::ObjectReference> refs;
  void hold(const Napi::Object& o) { refs.push_back(Napi::Persistent(o)); }
};

// Reads {data, dtype, format, shape, strides, offset, storageShape}.
TensorArg readTensor(const Napi::Object& args, const char* key, KeepAlive& keep);
std::optional<TensorArg> readOptionalTensor(const Napi::Object& args, const char* key, KeepAlive& keep);

// A JS Error carrying code/status/call/deviceMessage from a QmmException.
Napi::Error toJsError(Napi::Env env, const QmmException& e);

}  // namespace qmm
