#include "backend.h"

#include "errors.h"

namespace qmm {

void Backend::quantize(const QuantizeArgs&) {
  throw QmmException(ErrorCode::Unsupported, "npuQuantize is not implemented by the " + info().name + " backend");
}

void Backend::dynamicQuant(const DynamicQuantArgs&) {
  throw QmmException(ErrorCode::Unsupported, "npuDynamicQuant is not implemented by the " + info().name + " backend");
}

}  // namespace qmm
