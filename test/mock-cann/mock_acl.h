// mock_acl.h - our own declarations of the CANN C ABI used by the mock
// (docs/semantics.md §6.2 enums, §6.3 signatures). Written from docs/semantics.md; no CANN header
// text is copied. Everything declared here is exported with C linkage.
#ifndef MOCK_CANN_MOCK_ACL_H
#define MOCK_CANN_MOCK_ACL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define MOCK_EXTERN_C extern "C"
#else
#define MOCK_EXTERN_C
#endif
#define MOCK_API MOCK_EXTERN_C __attribute__((visibility("default")))

typedef int aclError;
typedef int32_t aclnnStatus;
typedef void* aclrtStream;

typedef enum {
  ACL_DT_UNDEFINED = -1,
  ACL_FLOAT = 0,
  ACL_FLOAT16 = 1,
  ACL_INT8 = 2,
  ACL_INT32 = 3,
  ACL_UINT8 = 4,
  ACL_INT16 = 6,
  ACL_UINT16 = 7,
  ACL_UINT32 = 8,
  ACL_INT64 = 9,
  ACL_UINT64 = 10,
  ACL_DOUBLE = 11,
  ACL_BOOL = 12,
  ACL_STRING = 13,
  ACL_COMPLEX64 = 16,
  ACL_COMPLEX128 = 17,
  ACL_BF16 = 27,
  ACL_INT4 = 29,
  ACL_UINT1 = 30,
  ACL_COMPLEX32 = 33,
  ACL_HIFLOAT8 = 34,
  ACL_FLOAT8_E5M2 = 35,
  ACL_FLOAT8_E4M3FN = 36,
  ACL_FLOAT8_E8M0 = 37,
  ACL_FLOAT6_E3M2 = 38,
  ACL_FLOAT6_E2M3 = 39,
  ACL_FLOAT4_E2M1 = 40,
  ACL_FLOAT4_E1M2 = 41
} aclDataType;

typedef enum {
  ACL_FORMAT_UNDEFINED = -1,
  ACL_FORMAT_NCHW = 0,
  ACL_FORMAT_NHWC = 1,
  ACL_FORMAT_ND = 2,
  ACL_FORMAT_NC1HWC0 = 3,
  ACL_FORMAT_FRACTAL_Z = 4,
  ACL_FORMAT_NC1HWC0_C04 = 12,
  ACL_FORMAT_HWCN = 16,
  ACL_FORMAT_NDHWC = 27,
  ACL_FORMAT_FRACTAL_NZ = 29,
  ACL_FORMAT_NCDHW = 30,
  ACL_FORMAT_NDC1HWC0 = 32,
  ACL_FRACTAL_Z_3D = 33,
  ACL_FORMAT_NC = 35,
  ACL_FORMAT_NCL = 47,
  ACL_FORMAT_FRACTAL_NZ_C0_16 = 50,
  ACL_FORMAT_FRACTAL_NZ_C0_32 = 51,
  ACL_FORMAT_FRACTAL_NZ_C0_2 = 52,
  ACL_FORMAT_FRACTAL_NZ_C0_4 = 53,
  ACL_FORMAT_FRACTAL_NZ_C0_8 = 54
} aclFormat;

typedef enum {
  ACL_MEMCPY_HOST_TO_HOST = 0,
  ACL_MEMCPY_HOST_TO_DEVICE = 1,
  ACL_MEMCPY_DEVICE_TO_HOST = 2,
  ACL_MEMCPY_DEVICE_TO_DEVICE = 3,
  ACL_MEMCPY_DEFAULT = 4,
  ACL_MEMCPY_HOST_TO_BUF_TO_DEVICE = 5,
  ACL_MEMCPY_INNER_DEVICE_TO_DEVICE = 6,
  ACL_MEMCPY_INTER_DEVICE_TO_DEVICE = 7
} aclrtMemcpyKind;

typedef enum {
  ACL_MEM_MALLOC_HUGE_FIRST = 0,
  ACL_MEM_MALLOC_HUGE_ONLY = 1,
  ACL_MEM_MALLOC_NORMAL_ONLY = 2,
  ACL_MEM_MALLOC_HUGE_FIRST_P2P = 3
} aclrtMemMallocPolicy;

struct aclTensor;
struct aclIntArray;
struct aclOpExecutor;
typedef struct aclTensor aclTensor;
typedef struct aclIntArray aclIntArray;
typedef struct aclOpExecutor aclOpExecutor;

/* ---- libascendcl.so ---- */
MOCK_API aclError aclInit(const char* configPath);
MOCK_API aclError aclFinalize(void);
MOCK_API aclError aclrtSetDevice(int32_t deviceId);
MOCK_API aclError aclrtResetDevice(int32_t deviceId);
MOCK_API aclError aclrtGetDeviceCount(uint32_t* count);
MOCK_API aclError aclrtCreateStream(aclrtStream* stream);
MOCK_API aclError aclrtDestroyStream(aclrtStream stream);
MOCK_API aclError aclrtDestroyStreamForce(aclrtStream stream);
MOCK_API aclError aclrtSynchronizeStream(aclrtStream stream);
MOCK_API aclError aclrtMalloc(void** devPtr, size_t size, aclrtMemMallocPolicy policy);
MOCK_API aclError aclrtFree(void* devPtr);
MOCK_API aclError aclrtMallocHost(void** hostPtr, size_t size);
MOCK_API aclError aclrtFreeHost(void* hostPtr);
MOCK_API aclError aclrtMemcpy(void* dst, size_t destMax, const void* src, size_t count,
                              aclrtMemcpyKind kind);
MOCK_API aclError aclrtMemset(void* devPtr, size_t maxCount, int32_t value, size_t count);
MOCK_API const char* aclGetRecentErrMsg(void);
MOCK_API const char* aclrtGetSocName(void);

/* ---- libnnopbase.so ---- */
MOCK_API aclTensor* aclCreateTensor(const int64_t* viewDims, uint64_t viewDimsNum,
                                    aclDataType dataType, const int64_t* stride, int64_t offset,
                                    aclFormat format, const int64_t* storageDims,
                                    uint64_t storageDimsNum, void* tensorData);
MOCK_API aclnnStatus aclDestroyTensor(const aclTensor* tensor);
MOCK_API aclIntArray* aclCreateIntArray(const int64_t* value, uint64_t size);
MOCK_API aclnnStatus aclDestroyIntArray(const aclIntArray* array);
MOCK_API aclnnStatus aclDestroyAclOpExecutor(aclOpExecutor* executor);

/* ---- libopapi.so (or libopapi_nn.so / libopapi_math.so) ---- */
MOCK_API aclnnStatus aclnnQuantMatmulV3GetWorkspaceSize(
    const aclTensor* x1, const aclTensor* x2, const aclTensor* scale, const aclTensor* offset,
    const aclTensor* bias, bool transposeX1, bool transposeX2, const aclTensor* out,
    uint64_t* workspaceSize, aclOpExecutor** executor);
MOCK_API aclnnStatus aclnnQuantMatmulV3(void* workspace, uint64_t workspaceSize,
                                        aclOpExecutor* executor, aclrtStream stream);
MOCK_API aclnnStatus aclnnQuantMatmulV4GetWorkspaceSize(
    const aclTensor* x1, const aclTensor* x2, const aclTensor* scale, const aclTensor* offset,
    const aclTensor* pertokenScaleOptional, const aclTensor* bias, bool transposeX1,
    bool transposeX2, const aclTensor* out, uint64_t* workspaceSize, aclOpExecutor** executor);
MOCK_API aclnnStatus aclnnQuantMatmulV4(void* workspace, uint64_t workspaceSize,
                                        aclOpExecutor* executor, aclrtStream stream);
MOCK_API aclnnStatus aclnnQuantMatmulV5GetWorkspaceSize(
    const aclTensor* x1, const aclTensor* x2, const aclTensor* x1Scale, const aclTensor* x2Scale,
    const aclTensor* yScale, const aclTensor* x1Offset, const aclTensor* x2Offset,
    const aclTensor* yOffset, const aclTensor* bias, bool transposeX1, bool transposeX2,
    int64_t groupSize, aclTensor* out, uint64_t* workspaceSize, aclOpExecutor** executor);
MOCK_API aclnnStatus aclnnQuantMatmulV5(void* workspace, uint64_t workspaceSize,
                                        aclOpExecutor* executor, aclrtStream stream);
MOCK_API aclnnStatus aclnnQuantMatmulWeightNzGetWorkspaceSize(
    const aclTensor* x1, const aclTensor* x2, const aclTensor* x1Scale, const aclTensor* x2Scale,
    const aclTensor* yScale, const aclTensor* x1Offset, const aclTensor* x2Offset,
    const aclTensor* yOffset, const aclTensor* bias, bool transposeX1, bool transposeX2,
    int64_t groupSize, aclTensor* out, uint64_t* workspaceSize, aclOpExecutor** executor);
MOCK_API aclnnStatus aclnnQuantMatmulWeightNz(void* workspace, uint64_t workspaceSize,
                                              aclOpExecutor* executor, aclrtStream stream);
MOCK_API aclnnStatus aclnnTransQuantParamV2GetWorkspaceSize(const aclTensor* scale,
                                                            const aclTensor* offset,
                                                            const aclTensor* out,
                                                            uint64_t* workspaceSize,
                                                            aclOpExecutor** executor);
MOCK_API aclnnStatus aclnnTransQuantParamV2(void* workspace, uint64_t workspaceSize,
                                            aclOpExecutor* executor, const aclrtStream stream);
MOCK_API aclnnStatus aclnnTransQuantParamV3GetWorkspaceSize(const aclTensor* scale,
                                                            const aclTensor* offset,
                                                            int64_t roundMode,
                                                            const aclTensor* out,
                                                            uint64_t* workspaceSize,
                                                            aclOpExecutor** executor);
MOCK_API aclnnStatus aclnnTransQuantParamV3(void* workspace, uint64_t workspaceSize,
                                            aclOpExecutor* executor, const aclrtStream stream);
MOCK_API aclnnStatus aclnnTransQuantParam(const float* scaleArray, uint64_t scaleSize,
                                          const float* offsetArray, uint64_t offsetSize,
                                          uint64_t** quantParam, uint64_t* quantParamSize);
MOCK_API aclnnStatus aclnnNpuFormatCastCalculateSizeAndFormat(const aclTensor* srcTensor,
                                                              const int dstFormat,
                                                              int additionalDtype,
                                                              int64_t** dstShape,
                                                              uint64_t* dstShapeSize,
                                                              int* actualFormat);
MOCK_API aclnnStatus aclnnNpuFormatCastGetWorkspaceSize(const aclTensor* srcTensor,
                                                        aclTensor* dstTensor,
                                                        uint64_t* workspaceSize,
                                                        aclOpExecutor** executor);
MOCK_API aclnnStatus aclnnNpuFormatCast(void* workspace, uint64_t workspaceSize,
                                        aclOpExecutor* executor, aclrtStream stream);

MOCK_API aclnnStatus aclnnAscendQuantV3GetWorkspaceSize(const aclTensor* x, const aclTensor* scale,
                                                        const aclTensor* offset, bool sqrtMode,
                                                        const char* roundMode, int32_t dstType, int32_t axis,
                                                        const aclTensor* y, uint64_t* workspaceSize,
                                                        aclOpExecutor** executor);
MOCK_API aclnnStatus aclnnAscendQuantV3(void* workspace, uint64_t workspaceSize,
                                        aclOpExecutor* executor, aclrtStream stream);
MOCK_API aclnnStatus aclnnDynamicQuantGetWorkspaceSize(const aclTensor* x,
                                                       const aclTensor* smoothScalesOptional,
                                                       const aclTensor* yOut, const aclTensor* scaleOut,
                                                       uint64_t* workspaceSize,
                                                       aclOpExecutor** executor);
MOCK_API aclnnStatus aclnnDynamicQuant(void* workspace, uint64_t workspaceSize,
                                       aclOpExecutor* executor, aclrtStream stream);

#endif  // MOCK_CANN_MOCK_ACL_H
