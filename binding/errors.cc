#include "errors.h"

namespace qmm {

const char* errorCodeName(ErrorCode c) {
  switch (c) {
    case ErrorCode::Shape: return "ERR_QMM_SHAPE";
    case ErrorCode::DType: return "ERR_QMM_DTYPE";
    case ErrorCode::Format: return "ERR_QMM_FORMAT";
    case ErrorCode::Broadcast: return "ERR_QMM_BROADCAST";
    case ErrorCode::Unsupported: return "ERR_QMM_UNSUPPORTED";
    case ErrorCode::Device: return "ERR_QMM_DEVICE";
    case ErrorCode::Backend: return "ERR_QMM_BACKEND";
    case ErrorCode::Aborted: return "ERR_QMM_ABORTED";
    case ErrorCode::File: return "ERR_QMM_FILE";
    case ErrorCode::Internal: return "ERR_QMM_INTERNAL";
  }
  return "ERR_QMM_INTERNAL";
}

}  // namespace qmm
