// Our own declarations of the CANN C ABI we call (docs/semantics.md §6.2 enums, §6.3
// signatures), written from docs/semantics.md; no CANN header is used. Every function
// is reached through a pointer resolved with dlsym (loader.h).
//
// The signatures live in X-lists so that binding/cann/abi_check (built by
// cmake/CannHeaderCheck.cmake when CANN headers exist) can expand the same lists
// against the real headers and static_assert that they agree.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qmm::acl {

typedef int aclError;
typedef int32_t aclnnStatus;
typedef void* aclrtStream;

struct aclTensor;
struct aclIntArray;
struct aclOpExecutor;

// Only the codes we pass; the values are the ABI (docs/semantics.md §6.2).
enum aclDataType { ACL_DT_UNDEFINED = -1, ACL_FLOAT = 0, ACL_FLOAT16 = 1, ACL_INT8 = 2, ACL_INT32 = 3,
                   ACL_UINT8 = 4, ACL_INT64 = 9, ACL_UINT64 = 10, ACL_BF16 = 27 };
enum aclFormat { ACL_FORMAT_UNDEFINED = -1, ACL_FORMAT_ND = 2, ACL_FORMAT_FRACTAL_NZ = 29 };
enum aclrtMemcpyKind { ACL_MEMCPY_HOST_TO_HOST = 0, ACL_MEMCPY_HOST_TO_DEVICE = 1, ACL_MEMCPY_DEVICE_TO_HOST = 2,
                       ACL_MEMCPY_DEVICE_TO_DEVICE = 3 };
enum aclrtMemMallocPolicy { ACL_MEM_MALLOC_HUGE_FIRST = 0 };

constexpr aclError ACL_SUCCESS = 0;
constexpr aclError ACL_ERROR_REPEAT_INITIALIZE = 100002;

// X(name, return type, parameter list)
#define QMM_ACL_RUNTIME_FUNCS(X)                                                                   \
  X(aclInit, aclError, (const char* configPath))                                                   \
  X(aclFinalize, aclError, ())                                                                     \
  X(aclrtSetDevice, aclError, (int32_t deviceId))                                                  \
  X(aclrtResetDevice, aclError, (int32_t deviceId))                                                \
  X(aclrtGetDeviceCount, aclError, (uint32_t * count))                                             \
  X(aclrtCreateStream, aclError, (aclrtStream * stream))                                           \
  X(aclrtDestroyStream, aclError, (aclrtStream stream))                                            \
  X(aclrtSynchronizeStream, aclError, (aclrtStream stream))                                        \
  X(aclrtMalloc, aclError, (void** devPtr, size_t size, aclrtMemMallocPolicy policy))              \
  X(aclrtFree, aclError, (void* devPtr))                                                           \
  X(aclrtMemcpy, aclError, (void* dst, size_t destMax, const void* src, size_t count, aclrtMemcpyKind kind)) \
  X(aclGetRecentErrMsg, const char*, ())

// Optional: resolved when the runtime has them; the loader does not require them.
#define QMM_ACL_RUNTIME_OPTIONAL_FUNCS(X)                                                          \
  X(aclrtDestroyStreamForce, aclError, (aclrtStream stream))                                       \
  X(aclrtGetSocName, const char*, ())

#define QMM_ACL_META_FUNCS(X)                                                                      \
  X(aclCreateTensor, aclTensor*,                                                                   \
    (const int64_t* viewDims, uint64_t viewDimsNum, aclDataType dataType, const int64_t* stride,   \
     int64_t offset, aclFormat format, const int64_t* storageDims, uint64_t storageDimsNum,        \
     void* tensorData))                                                                            \
  X(aclDestroyTensor, aclnnStatus, (const aclTensor* tensor))
#define QMM_ACL_META_OPTIONAL_FUNCS(X) X(aclDestroyAclOpExecutor, aclnnStatus, (aclOpExecutor * executor))

#define QMM_ACLNN_RUN_SIG (void* workspace, uint64_t workspaceSize, aclOpExecutor* executor, aclrtStream stream)
#define QMM_ACLNN_QMM_V5_SIG                                                                       \
  (const aclTensor* x1, const aclTensor* x2, const aclTensor* x1Scale, const aclTensor* x2Scale,   \
   const aclTensor* yScale, const aclTensor* x1Offset, const aclTensor* x2Offset,                  \
   const aclTensor* yOffset, const aclTensor* bias, bool transposeX1, bool transposeX2,            \
   int64_t groupSize, aclTensor* out, uint64_t* workspaceSize, aclOpExecutor** executor)

// Operators, grouped by the header that declares them (the header check covers a
// group only when its header exists).
#define QMM_ACLNN_QMM_V3_FUNCS(X)                                                                  \
  X(aclnnQuantMatmulV3GetWorkspaceSize, aclnnStatus,                                               \
    (const aclTensor* x1, const aclTensor* x2, const aclTensor* scale, const aclTensor* offset,    \
     const aclTensor* bias, bool transposeX1, bool transposeX2, const aclTensor* out,              \
     uint64_t* workspaceSize, aclOpExecutor** executor))                                           \
  X(aclnnQuantMatmulV3, aclnnStatus, QMM_ACLNN_RUN_SIG)
#define QMM_ACLNN_QMM_V4_FUNCS(X)                                                                  \
  X(aclnnQuantMatmulV4GetWorkspaceSize, aclnnStatus,                                               \
    (const aclTensor* x1, const aclTensor* x2, const aclTensor* scale, const aclTensor* offset,    \
     const aclTensor* pertokenScaleOptional, const aclTensor* bias, bool transposeX1,              \
     bool transposeX2, const aclTensor* out, uint64_t* workspaceSize, aclOpExecutor** executor))   \
  X(aclnnQuantMatmulV4, aclnnStatus, QMM_ACLNN_RUN_SIG)
#define QMM_ACLNN_QMM_V5_FUNCS(X)                                                                  \
  X(aclnnQuantMatmulV5GetWorkspaceSize, aclnnStatus, QMM_ACLNN_QMM_V5_SIG)                         \
  X(aclnnQuantMatmulV5, aclnnStatus, QMM_ACLNN_RUN_SIG)
#define QMM_ACLNN_QMM_NZ_FUNCS(X)                                                                  \
  X(aclnnQuantMatmulWeightNzGetWorkspaceSize, aclnnStatus, QMM_ACLNN_QMM_V5_SIG)                   \
  X(aclnnQuantMatmulWeightNz, aclnnStatus, QMM_ACLNN_RUN_SIG)
#define QMM_ACLNN_TQP_V2_FUNCS(X)                                                                  \
  X(aclnnTransQuantParamV2GetWorkspaceSize, aclnnStatus,                                           \
    (const aclTensor* scale, const aclTensor* offset, const aclTensor* out, uint64_t* workspaceSize, \
     aclOpExecutor** executor))                                                                    \
  X(aclnnTransQuantParamV2, aclnnStatus,                                                           \
    (void* workspace, uint64_t workspaceSize, aclOpExecutor* executor, const aclrtStream stream))
#define QMM_ACLNN_TQP_V3_FUNCS(X)                                                                  \
  X(aclnnTransQuantParamV3GetWorkspaceSize, aclnnStatus,                                           \
    (const aclTensor* scale, const aclTensor* offset, int64_t roundMode, const aclTensor* out,     \
     uint64_t* workspaceSize, aclOpExecutor** executor))                                           \
  X(aclnnTransQuantParamV3, aclnnStatus,                                                           \
    (void* workspace, uint64_t workspaceSize, aclOpExecutor* executor, const aclrtStream stream))
#define QMM_ACLNN_FORMAT_CAST_FUNCS(X)                                                             \
  X(aclnnNpuFormatCastCalculateSizeAndFormat, aclnnStatus,                                         \
    (const aclTensor* srcTensor, const int dstFormat, int additionalDtype, int64_t** dstShape,     \
     uint64_t* dstShapeSize, int* actualFormat))                                                   \
  X(aclnnNpuFormatCastGetWorkspaceSize, aclnnStatus,                                               \
    (const aclTensor* srcTensor, aclTensor* dstTensor, uint64_t* workspaceSize,                    \
     aclOpExecutor** executor))                                                                    \
  X(aclnnNpuFormatCast, aclnnStatus, QMM_ACLNN_RUN_SIG)
// npu_quantize (div_mode=False) and npu_dynamic_quant (int8, no smooth scales).
#define QMM_ACLNN_ASCEND_QUANT_V3_FUNCS(X)                                                         \
  X(aclnnAscendQuantV3GetWorkspaceSize, aclnnStatus,                                               \
    (const aclTensor* x, const aclTensor* scale, const aclTensor* offset, bool sqrtMode,           \
     const char* roundMode, int32_t dstType, int32_t axis, const aclTensor* y,                     \
     uint64_t* workspaceSize, aclOpExecutor** executor))                                           \
  X(aclnnAscendQuantV3, aclnnStatus, QMM_ACLNN_RUN_SIG)
#define QMM_ACLNN_DYNAMIC_QUANT_FUNCS(X)                                                           \
  X(aclnnDynamicQuantGetWorkspaceSize, aclnnStatus,                                                \
    (const aclTensor* x, const aclTensor* smoothScalesOptional, const aclTensor* yOut,             \
     const aclTensor* scaleOut, uint64_t* workspaceSize, aclOpExecutor** executor))                \
  X(aclnnDynamicQuant, aclnnStatus, QMM_ACLNN_RUN_SIG)
#define QMM_ACLNN_OP_FUNCS(X)                                                                      \
  QMM_ACLNN_QMM_V3_FUNCS(X)                                                                        \
  QMM_ACLNN_QMM_V4_FUNCS(X)                                                                        \
  QMM_ACLNN_QMM_V5_FUNCS(X)                                                                        \
  QMM_ACLNN_QMM_NZ_FUNCS(X)                                                                        \
  QMM_ACLNN_TQP_V2_FUNCS(X)                                                                        \
  QMM_ACLNN_TQP_V3_FUNCS(X)                                                                        \
  QMM_ACLNN_FORMAT_CAST_FUNCS(X)                                                                   \
  QMM_ACLNN_ASCEND_QUANT_V3_FUNCS(X)                                                               \
  QMM_ACLNN_DYNAMIC_QUANT_FUNCS(X)

// <name>_t: the function-pointer type of each entry point.
#define QMM_ACL_TYPEDEF(name, ret, params) typedef ret(*name##_t) params;
QMM_ACL_RUNTIME_FUNCS(QMM_ACL_TYPEDEF)
QMM_ACL_RUNTIME_OPTIONAL_FUNCS(QMM_ACL_TYPEDEF)
QMM_ACL_META_FUNCS(QMM_ACL_TYPEDEF)
QMM_ACL_META_OPTIONAL_FUNCS(QMM_ACL_TYPEDEF)
QMM_ACLNN_OP_FUNCS(QMM_ACL_TYPEDEF)
#undef QMM_ACL_TYPEDEF

}  // namespace qmm::acl
