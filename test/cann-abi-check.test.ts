/**
 * binding/cann/abi_check/acl_api_check.cc is compiled by cmake/FindCANN.cmake
 * when CANN headers are installed; it static_asserts that our declarations
 * (binding/cann/acl_api.h, binding/tensor.h) agree with CANN's. Without CANN
 * it never runs, so here it is compiled against a small header set written
 * into a temporary directory with the names and values of the real headers
 * (hicann/runtime include/external/acl/acl_base_rt.h and acl_rt.h, hicann/opbase
 * include/nnopbase/aclnn/acl_meta.h, the aclnnop headers of hicann/ops-nn and
 * ops-math), and against copies with one fact changed, each of which must fail.
 */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const checkSource = path.join(root, 'binding', 'cann', 'abi_check', 'acl_api_check.cc');
const cxx = process.env.CXX ?? 'c++';
const haveCompiler = spawnSync(cxx, ['--version'], { encoding: 'utf8' }).status === 0;

/** The facts of the real headers a mutation may change. */
interface Facts {
  aclError: string;
  aclnnStatus: string;
  aclrtStream: string;
  ACL_SUCCESS: number;
  ACL_ERROR_REPEAT_INITIALIZE: number;
  ACL_MEMCPY_HOST_TO_HOST: number;
  ACL_BF16: number;
  ACL_FORMAT_FRACTAL_NZ: number;
  /** The declaration of aclrtDestroyStreamForce ('' = an older runtime without it). */
  destroyStreamForce: string;
  /** The declaration of aclDestroyAclOpExecutor ('' = without it). */
  destroyExecutor: string;
}

const real: Facts = {
  aclError: 'int',
  aclnnStatus: 'int32_t',
  aclrtStream: 'void*',
  ACL_SUCCESS: 0,
  ACL_ERROR_REPEAT_INITIALIZE: 100002,
  ACL_MEMCPY_HOST_TO_HOST: 0,
  ACL_BF16: 27,
  ACL_FORMAT_FRACTAL_NZ: 29,
  destroyStreamForce: 'aclError aclrtDestroyStreamForce(aclrtStream stream);',
  destroyExecutor: 'aclnnStatus aclDestroyAclOpExecutor(aclOpExecutor* executor);',
};

const C_BEGIN = '#ifdef __cplusplus\nextern "C" {\n#endif';
const C_END = '#ifdef __cplusplus\n}\n#endif';
const RUN = '(void* workspace, uint64_t workspaceSize, aclOpExecutor* executor, aclrtStream stream)';
const QMM_V5_ARGS =
  '(const aclTensor* x1, const aclTensor* x2, const aclTensor* x1Scale, const aclTensor* x2Scale, const aclTensor* yScale, ' +
  'const aclTensor* x1Offset, const aclTensor* x2Offset, const aclTensor* yOffset, const aclTensor* bias, bool transposeX1, ' +
  'bool transposeX2, int64_t groupSize, aclTensor* out, uint64_t* workspaceSize, aclOpExecutor** executor)';

function opHeader(decls: string[]): string {
  return ['#pragma once', '#include "aclnn/acl_meta.h"', C_BEGIN, ...decls, C_END].join('\n');
}

/** path (under include/) -> text */
function headers(f: Facts): Record<string, string> {
  return {
    'acl/acl.h': [
      '#pragma once',
      '#include <stddef.h>',
      '#include <stdint.h>',
      C_BEGIN,
      `typedef ${f.aclrtStream} aclrtStream;`,
      `typedef ${f.aclError} aclError;`,
      `static const int ACL_SUCCESS = ${f.ACL_SUCCESS};`,
      `static const int ACL_ERROR_REPEAT_INITIALIZE = ${f.ACL_ERROR_REPEAT_INITIALIZE};`,
      'typedef enum { ACL_DT_UNDEFINED = -1, ACL_FLOAT = 0, ACL_FLOAT16 = 1, ACL_INT8 = 2, ACL_INT32 = 3, ACL_UINT8 = 4,',
      `  ACL_INT16 = 6, ACL_UINT16 = 7, ACL_UINT32 = 8, ACL_INT64 = 9, ACL_UINT64 = 10, ACL_DOUBLE = 11, ACL_BF16 = ${f.ACL_BF16} } aclDataType;`,
      `typedef enum { ACL_FORMAT_UNDEFINED = -1, ACL_FORMAT_NCHW = 0, ACL_FORMAT_ND = 2, ACL_FORMAT_FRACTAL_NZ = ${f.ACL_FORMAT_FRACTAL_NZ} } aclFormat;`,
      `typedef enum aclrtMemcpyKind { ACL_MEMCPY_HOST_TO_HOST = ${f.ACL_MEMCPY_HOST_TO_HOST}, ACL_MEMCPY_HOST_TO_DEVICE = 1,`,
      '  ACL_MEMCPY_DEVICE_TO_HOST = 2, ACL_MEMCPY_DEVICE_TO_DEVICE = 3, ACL_MEMCPY_DEFAULT = 4 } aclrtMemcpyKind;',
      'typedef enum aclrtMemMallocPolicy { ACL_MEM_MALLOC_HUGE_FIRST, ACL_MEM_MALLOC_HUGE_ONLY, ACL_MEM_MALLOC_NORMAL_ONLY } aclrtMemMallocPolicy;',
      'aclError aclInit(const char* configPath);',
      'aclError aclFinalize();',
      'aclError aclrtSetDevice(int32_t deviceId);',
      'aclError aclrtResetDevice(int32_t deviceId);',
      'aclError aclrtGetDeviceCount(uint32_t* count);',
      'aclError aclrtCreateStream(aclrtStream* stream);',
      'aclError aclrtDestroyStream(aclrtStream stream);',
      f.destroyStreamForce,
      'aclError aclrtSynchronizeStream(aclrtStream stream);',
      'aclError aclrtMalloc(void** devPtr, size_t size, aclrtMemMallocPolicy policy);',
      'aclError aclrtFree(void* devPtr);',
      'aclError aclrtMemcpy(void* dst, size_t destMax, const void* src, size_t count, aclrtMemcpyKind kind);',
      'const char* aclGetRecentErrMsg();',
      'const char* aclrtGetSocName();',
      C_END,
    ].join('\n'),
    'aclnn/acl_meta.h': [
      '#pragma once',
      '#include <cstdint>',
      '#include "acl/acl.h"',
      C_BEGIN,
      'typedef struct aclOpExecutor aclOpExecutor;',
      'typedef struct aclTensor aclTensor;',
      'typedef struct aclIntArray aclIntArray;',
      `typedef ${f.aclnnStatus} aclnnStatus;`,
      'aclTensor* aclCreateTensor(const int64_t* viewDims, uint64_t viewDimsNum, aclDataType dataType, const int64_t* stride,',
      '                           int64_t offset, aclFormat format, const int64_t* storageDims, uint64_t storageDimsNum, void* tensorData);',
      'aclnnStatus aclDestroyTensor(const aclTensor* tensor);',
      f.destroyExecutor,
      C_END,
    ].join('\n'),
    'aclnnop/aclnn_quant_matmul_v3.h': opHeader([
      'aclnnStatus aclnnQuantMatmulV3GetWorkspaceSize(const aclTensor* x1, const aclTensor* x2, const aclTensor* scale,',
      '    const aclTensor* offset, const aclTensor* bias, bool transposeX1, bool transposeX2, const aclTensor* out,',
      '    uint64_t* workspaceSize, aclOpExecutor** executor);',
      `aclnnStatus aclnnQuantMatmulV3${RUN};`,
    ]),
    'aclnnop/aclnn_quant_matmul_v4.h': opHeader([
      'aclnnStatus aclnnQuantMatmulV4GetWorkspaceSize(const aclTensor* x1, const aclTensor* x2, const aclTensor* scale,',
      '    const aclTensor* offset, const aclTensor* pertokenScaleOptional, const aclTensor* bias, bool transposeX1,',
      '    bool transposeX2, const aclTensor* out, uint64_t* workspaceSize, aclOpExecutor** executor);',
      `aclnnStatus aclnnQuantMatmulV4${RUN};`,
    ]),
    'aclnnop/aclnn_quant_matmul_v5.h': opHeader([
      `aclnnStatus aclnnQuantMatmulV5GetWorkspaceSize${QMM_V5_ARGS};`,
      `aclnnStatus aclnnQuantMatmulV5${RUN};`,
    ]),
    'aclnnop/aclnn_quant_matmul_weight_nz.h': opHeader([
      `aclnnStatus aclnnQuantMatmulWeightNzGetWorkspaceSize${QMM_V5_ARGS};`,
      `aclnnStatus aclnnQuantMatmulWeightNz${RUN};`,
    ]),
    'aclnnop/aclnn_trans_quant_param_v2.h': opHeader([
      'aclnnStatus aclnnTransQuantParamV2GetWorkspaceSize(const aclTensor* scale, const aclTensor* offset, const aclTensor* out,',
      '    uint64_t* workspaceSize, aclOpExecutor** executor);',
      'aclnnStatus aclnnTransQuantParamV2(void* workspace, uint64_t workspaceSize, aclOpExecutor* executor, const aclrtStream stream);',
    ]),
    'aclnnop/aclnn_trans_quant_param_v3.h': opHeader([
      'aclnnStatus aclnnTransQuantParamV3GetWorkspaceSize(const aclTensor* scale, const aclTensor* offset, int64_t roundMode,',
      '    const aclTensor* out, uint64_t* workspaceSize, aclOpExecutor** executor);',
      'aclnnStatus aclnnTransQuantParamV3(void* workspace, uint64_t workspaceSize, aclOpExecutor* executor, const aclrtStream stream);',
    ]),
    'aclnnop/aclnn_npu_format_cast.h': opHeader([
      'aclnnStatus aclnnNpuFormatCastCalculateSizeAndFormat(const aclTensor* srcTensor, const int dstFormat, int additionalDtype,',
      '    int64_t** dstShape, uint64_t* dstShapeSize, int* actualFormat);',
      'aclnnStatus aclnnNpuFormatCastGetWorkspaceSize(const aclTensor* srcTensor, aclTensor* dstTensor, uint64_t* workspaceSize,',
      '    aclOpExecutor** executor);',
      `aclnnStatus aclnnNpuFormatCast${RUN};`,
    ]),
    'aclnnop/aclnn_ascend_quant_v3.h': opHeader([
      'aclnnStatus aclnnAscendQuantV3GetWorkspaceSize(const aclTensor* x, const aclTensor* scale, const aclTensor* offset,',
      '    bool sqrtMode, const char* roundMode, int32_t dstType, int32_t axis, const aclTensor* y, uint64_t* workspaceSize,',
      '    aclOpExecutor** executor);',
      `aclnnStatus aclnnAscendQuantV3${RUN};`,
    ]),
    'aclnnop/aclnn_dynamic_quant.h': opHeader([
      'aclnnStatus aclnnDynamicQuantGetWorkspaceSize(const aclTensor* x, const aclTensor* smoothScalesOptional,',
      '    const aclTensor* yOut, const aclTensor* scaleOut, uint64_t* workspaceSize, aclOpExecutor** executor);',
      `aclnnStatus aclnnDynamicQuant${RUN};`,
    ]),
  };
}

let tmp = '';
let serial = 0;

/** Compiles the check against the headers of `facts`; returns the compiler's verdict. */
function compile(facts: Facts): { ok: boolean; errors: string } {
  const include = path.join(tmp, `set${serial++}`, 'include');
  for (const [rel, text] of Object.entries(headers(facts))) {
    fs.mkdirSync(path.dirname(path.join(include, rel)), { recursive: true });
    fs.writeFileSync(path.join(include, rel), `${text}\n`);
  }
  const r = spawnSync(cxx, ['-std=c++17', '-fsyntax-only', '-Wall', '-Wextra', '-I', include, '-I', path.join(root, 'binding'), checkSource], {
    encoding: 'utf8',
  });
  return { ok: r.status === 0, errors: r.stderr };
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qmm-abi-check-'));
});
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!haveCompiler)('the CANN header check (binding/cann/abi_check)', () => {
  it('compiles against headers that declare what the real ones do', () => {
    const r = compile(real);
    expect(r.errors).toBe('');
    expect(r.ok).toBe(true);
  });

  it('compiles against older headers without the optional entry points', () => {
    const r = compile({ ...real, destroyStreamForce: '', destroyExecutor: '' });
    expect(r.errors).toBe('');
    expect(r.ok).toBe(true);
  });

  const mutations: [string, Partial<Facts>, string][] = [
    ['aclError is another type', { aclError: 'long' }, 'aclError differs'],
    ['aclnnStatus is another type', { aclnnStatus: 'int64_t' }, 'aclnnStatus differs'],
    ['aclrtStream is another type', { aclrtStream: 'struct rtStream*' }, 'aclrtStream differs'],
    ['ACL_SUCCESS has another value', { ACL_SUCCESS: 1 }, 'value of ACL_SUCCESS'],
    ['ACL_ERROR_REPEAT_INITIALIZE has another value', { ACL_ERROR_REPEAT_INITIALIZE: 100001 }, 'value of ACL_ERROR_REPEAT_INITIALIZE'],
    ['ACL_MEMCPY_HOST_TO_HOST has another value', { ACL_MEMCPY_HOST_TO_HOST: 8 }, 'value of ACL_MEMCPY_HOST_TO_HOST'],
    ["binding/tensor.h's bfloat16 code differs", { ACL_BF16: 28 }, "binding/tensor.h: qmm::DType::BFloat16 is not CANN's ACL_BF16"],
    ["binding/tensor.h's FRACTAL_NZ code differs", { ACL_FORMAT_FRACTAL_NZ: 30 }, "binding/tensor.h: qmm::Format::FractalNZ is not CANN's ACL_FORMAT_FRACTAL_NZ"],
    [
      'an optional entry point has another signature',
      { destroyStreamForce: 'aclError aclrtDestroyStreamForce(aclrtStream stream, int32_t flags);' },
      'the signature of aclrtDestroyStreamForce differs',
    ],
    [
      'another optional entry point has another signature',
      { destroyExecutor: 'aclnnStatus aclDestroyAclOpExecutor(const aclOpExecutor* executor);' },
      'the signature of aclDestroyAclOpExecutor differs',
    ],
  ];
  it.each(mutations)('fails when %s', (_what, change, message) => {
    const r = compile({ ...real, ...change });
    expect(r.ok).toBe(false);
    expect(r.errors).toContain(message);
  });
});
