// The one exception type the backends throw; the binding turns it into a JS
// Error whose `code` the TypeScript facade maps onto QmmError.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace qmm {

enum class ErrorCode {
  Shape,        // ERR_QMM_SHAPE
  DType,        // ERR_QMM_DTYPE
  Format,       // ERR_QMM_FORMAT
  Broadcast,    // ERR_QMM_BROADCAST
  Unsupported,  // ERR_QMM_UNSUPPORTED
  Device,       // ERR_QMM_DEVICE (carries the aclnn/acl status)
  Backend,      // ERR_QMM_BACKEND
  Aborted,      // ERR_QMM_ABORTED
  File,         // ERR_QMM_FILE
  Memory,       // ERR_QMM_MEMORY: host memory exhausted (std::bad_alloc)
  Internal,     // ERR_QMM_INTERNAL: a broken invariant inside the addon
};

const char* errorCodeName(ErrorCode c);

class QmmException : public std::runtime_error {
 public:
  QmmException(ErrorCode code, const std::string& message, long long status = 0,
               std::string call = {}, std::string deviceMessage = {})
      : std::runtime_error(message),
        code_(code),
        status_(status),
        call_(std::move(call)),
        deviceMessage_(std::move(deviceMessage)) {}
  ErrorCode code() const { return code_; }
  long long status() const { return status_; }
  const std::string& call() const { return call_; }
  const std::string& deviceMessage() const { return deviceMessage_; }
  // ERR_QMM_BACKEND: what was tried (library paths and why each failed).
  const std::vector<std::string>& tried() const { return tried_; }
  QmmException& withTried(std::vector<std::string> tried) {
    tried_ = std::move(tried);
    return *this;
  }

 private:
  ErrorCode code_;
  long long status_;
  std::string call_;
  std::string deviceMessage_;
  std::vector<std::string> tried_;
};

// Inside a catch block: the exception in flight as a QmmException
// (std::bad_alloc -> ERR_QMM_MEMORY, any other -> ERR_QMM_INTERNAL).
QmmException caughtAsQmm();

[[noreturn]] inline void fail(ErrorCode code, const std::string& message) {
  throw QmmException(code, message);
}

}  // namespace qmm
