// Compile-only check, built by cmake/CannHeaderCheck.cmake when CANN headers exist:
// the signatures, typedefs, constants and enum values of binding/cann/acl_api.h,
// and the dtype/format codes of binding/tensor.h, must match the real headers.
// Each X-list is expanded again here against the headers' own types and
// compared with decltype(&realFunction).
#include <type_traits>

#include <acl/acl.h>
#if __has_include(<aclnn/acl_meta.h>)
#include <aclnn/acl_meta.h>
#endif
#include <aclnnop/aclnn_quant_matmul_v4.h>
#if __has_include(<aclnnop/aclnn_quant_matmul_v3.h>)
#include <aclnnop/aclnn_quant_matmul_v3.h>
#define QMM_CHECK_V3 1
#endif
#if __has_include(<aclnnop/aclnn_quant_matmul_v5.h>)
#include <aclnnop/aclnn_quant_matmul_v5.h>
#define QMM_CHECK_V5 1
#endif
#if __has_include(<aclnnop/aclnn_quant_matmul_weight_nz.h>)
#include <aclnnop/aclnn_quant_matmul_weight_nz.h>
#define QMM_CHECK_NZ 1
#endif
#if __has_include(<aclnnop/aclnn_trans_quant_param_v2.h>)
#include <aclnnop/aclnn_trans_quant_param_v2.h>
#define QMM_CHECK_TQP_V2 1
#endif
#if __has_include(<aclnnop/aclnn_trans_quant_param_v3.h>)
#include <aclnnop/aclnn_trans_quant_param_v3.h>
#define QMM_CHECK_TQP_V3 1
#endif
#if __has_include(<aclnnop/aclnn_npu_format_cast.h>)
#include <aclnnop/aclnn_npu_format_cast.h>
#define QMM_CHECK_FORMAT_CAST 1
#endif

// CANN 8.1 ships this one under aclnnop/level2/ only.
#if __has_include(<aclnnop/aclnn_ascend_quant_v3.h>)
#include <aclnnop/aclnn_ascend_quant_v3.h>
#define QMM_CHECK_ASCEND_QUANT_V3 1
#elif __has_include(<aclnnop/level2/aclnn_ascend_quant_v3.h>)
#include <aclnnop/level2/aclnn_ascend_quant_v3.h>
#define QMM_CHECK_ASCEND_QUANT_V3 1
#endif
#if __has_include(<aclnnop/aclnn_dynamic_quant.h>)
#include <aclnnop/aclnn_dynamic_quant.h>
#define QMM_CHECK_DYNAMIC_QUANT 1
#endif

#include "cann/acl_api.h"
#include "tensor.h"

// The V4 header marks its functions deprecated; taking their address is fine here.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

// The optional entry points may be missing from older headers. Then ::name
// finds this stand-in instead (qualified lookup looks into a namespace named by
// a using-directive only when the global namespace declares no such name), and
// that entry point is not compared.
namespace qmm_abi_check_absent {
struct Absent;
#define QMM_ABSENT(name, ret, params) Absent* name(Absent*);
QMM_ACL_RUNTIME_OPTIONAL_FUNCS(QMM_ABSENT)
QMM_ACL_META_OPTIONAL_FUNCS(QMM_ABSENT)
#undef QMM_ABSENT
}  // namespace qmm_abi_check_absent
using namespace qmm_abi_check_absent;

namespace qmm_abi_check {
#define QMM_REAL_TYPEDEF(name, ret, params) typedef ret(*name##_t) params;
#define QMM_SAME(name, ret, params)                                         \
  static_assert(std::is_same_v<decltype(&::name), qmm_abi_check::name##_t>, \
                "binding/cann/acl_api.h: the signature of " #name " differs from CANN's");
#define QMM_SAME_IF_DECLARED(name, ret, params)                                                          \
  static_assert(std::is_same_v<decltype(&::name), qmm_abi_check_absent::Absent* (*)(qmm_abi_check_absent::Absent*)> || \
                    std::is_same_v<decltype(&::name), qmm_abi_check::name##_t>,                          \
                "binding/cann/acl_api.h: the signature of " #name " differs from CANN's");
#define QMM_CHECK_GROUP(LIST) LIST(QMM_REAL_TYPEDEF) LIST(QMM_SAME)

QMM_CHECK_GROUP(QMM_ACL_RUNTIME_FUNCS)
QMM_CHECK_GROUP(QMM_ACL_META_FUNCS)
QMM_ACL_RUNTIME_OPTIONAL_FUNCS(QMM_REAL_TYPEDEF)
QMM_ACL_RUNTIME_OPTIONAL_FUNCS(QMM_SAME_IF_DECLARED)
QMM_ACL_META_OPTIONAL_FUNCS(QMM_REAL_TYPEDEF)
QMM_ACL_META_OPTIONAL_FUNCS(QMM_SAME_IF_DECLARED)
QMM_CHECK_GROUP(QMM_ACLNN_QMM_V4_FUNCS)
#ifdef QMM_CHECK_V3
QMM_CHECK_GROUP(QMM_ACLNN_QMM_V3_FUNCS)
#endif
#ifdef QMM_CHECK_V5
QMM_CHECK_GROUP(QMM_ACLNN_QMM_V5_FUNCS)
#endif
#ifdef QMM_CHECK_NZ
QMM_CHECK_GROUP(QMM_ACLNN_QMM_NZ_FUNCS)
#endif
#ifdef QMM_CHECK_TQP_V2
QMM_CHECK_GROUP(QMM_ACLNN_TQP_V2_FUNCS)
#endif
#ifdef QMM_CHECK_TQP_V3
QMM_CHECK_GROUP(QMM_ACLNN_TQP_V3_FUNCS)
#endif
#ifdef QMM_CHECK_FORMAT_CAST
QMM_CHECK_GROUP(QMM_ACLNN_FORMAT_CAST_FUNCS)
#endif
#ifdef QMM_CHECK_ASCEND_QUANT_V3
QMM_CHECK_GROUP(QMM_ACLNN_ASCEND_QUANT_V3_FUNCS)
#endif
#ifdef QMM_CHECK_DYNAMIC_QUANT
QMM_CHECK_GROUP(QMM_ACLNN_DYNAMIC_QUANT_FUNCS)
#endif

namespace ours = qmm::acl;
// The X-lists above are expanded with CANN's types; the ones acl_api.h's own
// typedefs stand for must be the same.
static_assert(std::is_same_v<ours::aclError, ::aclError>, "binding/cann/acl_api.h: aclError differs from CANN's");
static_assert(std::is_same_v<ours::aclnnStatus, ::aclnnStatus>,
              "binding/cann/acl_api.h: aclnnStatus differs from CANN's");
static_assert(std::is_same_v<ours::aclrtStream, ::aclrtStream>,
              "binding/cann/acl_api.h: aclrtStream differs from CANN's");
static_assert(sizeof(ours::aclDataType) == sizeof(::aclDataType) && sizeof(ours::aclFormat) == sizeof(::aclFormat) &&
                  sizeof(ours::aclrtMemcpyKind) == sizeof(::aclrtMemcpyKind) &&
                  sizeof(ours::aclrtMemMallocPolicy) == sizeof(::aclrtMemMallocPolicy),
              "binding/cann/acl_api.h: an enum has a different size than CANN's");
#define QMM_SAME_VALUE(e) \
  static_assert(static_cast<long long>(ours::e) == static_cast<long long>(::e), "acl_api.h: value of " #e);
QMM_SAME_VALUE(ACL_SUCCESS)
QMM_SAME_VALUE(ACL_ERROR_REPEAT_INITIALIZE)
QMM_SAME_VALUE(ACL_DT_UNDEFINED)
QMM_SAME_VALUE(ACL_FLOAT)
QMM_SAME_VALUE(ACL_FLOAT16)
QMM_SAME_VALUE(ACL_INT8)
QMM_SAME_VALUE(ACL_INT32)
QMM_SAME_VALUE(ACL_UINT8)
QMM_SAME_VALUE(ACL_INT64)
QMM_SAME_VALUE(ACL_UINT64)
QMM_SAME_VALUE(ACL_BF16)
QMM_SAME_VALUE(ACL_FORMAT_UNDEFINED)
QMM_SAME_VALUE(ACL_FORMAT_ND)
QMM_SAME_VALUE(ACL_FORMAT_FRACTAL_NZ)
QMM_SAME_VALUE(ACL_MEMCPY_HOST_TO_HOST)
QMM_SAME_VALUE(ACL_MEMCPY_HOST_TO_DEVICE)
QMM_SAME_VALUE(ACL_MEMCPY_DEVICE_TO_HOST)
QMM_SAME_VALUE(ACL_MEMCPY_DEVICE_TO_DEVICE)
QMM_SAME_VALUE(ACL_MEM_MALLOC_HUGE_FIRST)

// binding/tensor.h's codes reach aclCreateTensor unchanged (acl_tensor.cc).
#define QMM_SAME_CODE(code, e)                                                 \
  static_assert(static_cast<long long>(code) == static_cast<long long>(::e), \
                "binding/tensor.h: " #code " is not CANN's " #e);
QMM_SAME_CODE(qmm::DType::Float32, ACL_FLOAT)
QMM_SAME_CODE(qmm::DType::Float16, ACL_FLOAT16)
QMM_SAME_CODE(qmm::DType::Int8, ACL_INT8)
QMM_SAME_CODE(qmm::DType::Int32, ACL_INT32)
QMM_SAME_CODE(qmm::DType::UInt8, ACL_UINT8)
QMM_SAME_CODE(qmm::DType::Int64, ACL_INT64)
QMM_SAME_CODE(qmm::DType::UInt64, ACL_UINT64)
QMM_SAME_CODE(qmm::DType::BFloat16, ACL_BF16)
QMM_SAME_CODE(qmm::Format::ND, ACL_FORMAT_ND)
QMM_SAME_CODE(qmm::Format::FractalNZ, ACL_FORMAT_FRACTAL_NZ)
}  // namespace qmm_abi_check
