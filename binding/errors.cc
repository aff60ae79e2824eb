#include "errors.h"

#include <new>

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
    case ErrorCode::Memory: return "ERR_QMM_MEMORY";
    case ErrorCode::Internal: return "ERR_QMM_INTERNAL";
  }
  return "ERR_QMM_INTERNAL";
}

QmmException caughtAsQmm() {
  try {
    throw;
  } catch (const QmmException& e) {
    return e;
  } catch (const std::bad_alloc&) {
    return QmmException(ErrorCode::Memory, "out of host memory for this operation");
  } catch (const std::exception& e) {
    return QmmException(ErrorCode::Internal, e.what());
  } catch (...) {
    return QmmException(ErrorCode::Internal, "an unknown native exception");
  }
}

}  // namespace qmm
