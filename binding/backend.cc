#include "backend.h"

#include "errors.h"

namespace qmm {

void Backend::quantize(const QuantizeArgs&) {
  throw QmmException(ErrorCode::Unsupported, "npuQuantize is not implemented by the " + info().name + " backend");
}

void Backend::dynamicQuant(const DynamicQuantArgs&) {
  throw QmmException(ErrorCode::Unsupported, "npuDynamicQuant is not implemented by the " + info().name + " backend");
}

void Backend::noDeviceMemory(const char* call) const {
  throw QmmException(ErrorCode::Unsupported,
                     std::string(call) + ": the " + info().name + " backend has no device memory of its own");
}

void* Backend::deviceAlloc(int, size_t) { noDeviceMemory("deviceAlloc"); }
void Backend::deviceFree(int, void*) { noDeviceMemory("deviceFree"); }
void Backend::copyToDevice(int, void*, const void*, size_t) { noDeviceMemory("copyToDevice"); }
void Backend::copyToHost(int, void*, const void*, size_t) { noDeviceMemory("copyToHost"); }
void Backend::copyDeviceToDevice(int, void*, const void*, size_t) { noDeviceMemory("copyDeviceToDevice"); }

}  // namespace qmm
