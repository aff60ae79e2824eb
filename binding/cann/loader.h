// Finds and dlopens the CANN libraries (docs/semantics.md §6.1; docs/architecture.md, decision 1) and
// resolves the entry points of acl_api.h by name.
#pragma once

#include <string>
#include <vector>

#include "acl_api.h"

namespace qmm {

struct CannApi {
#define QMM_ACL_MEMBER(name, ret, params) acl::name##_t name = nullptr;
  QMM_ACL_RUNTIME_FUNCS(QMM_ACL_MEMBER)
  QMM_ACL_RUNTIME_OPTIONAL_FUNCS(QMM_ACL_MEMBER)  // nullptr when absent
  QMM_ACL_META_FUNCS(QMM_ACL_MEMBER)
  QMM_ACL_META_OPTIONAL_FUNCS(QMM_ACL_MEMBER)  // nullptr when absent
  QMM_ACLNN_OP_FUNCS(QMM_ACL_MEMBER)
#undef QMM_ACL_MEMBER

  std::string root;                    // the install root the libraries came from
  std::string version;                 // from <root>/version.cfg or version.info, or ""
  std::vector<std::string> libraries;  // paths of the loaded libraries
  void* ascendclHandle = nullptr;      // for the mock control API (cann_backend.h)

  // An entry point is usable only with both of its halves.
  bool hasV5() const { return aclnnQuantMatmulV5GetWorkspaceSize && aclnnQuantMatmulV5; }
  bool hasV4() const { return aclnnQuantMatmulV4GetWorkspaceSize && aclnnQuantMatmulV4; }
  bool hasV3() const { return aclnnQuantMatmulV3GetWorkspaceSize && aclnnQuantMatmulV3; }
  bool hasWeightNz() const { return aclnnQuantMatmulWeightNzGetWorkspaceSize && aclnnQuantMatmulWeightNz; }
  bool hasTqpV3() const { return aclnnTransQuantParamV3GetWorkspaceSize && aclnnTransQuantParamV3; }
  bool hasTqpV2() const { return aclnnTransQuantParamV2GetWorkspaceSize && aclnnTransQuantParamV2; }
  bool hasFormatCast() const {
    return aclnnNpuFormatCastCalculateSizeAndFormat && aclnnNpuFormatCastGetWorkspaceSize && aclnnNpuFormatCast;
  }
  bool hasAscendQuantV3() const { return aclnnAscendQuantV3GetWorkspaceSize && aclnnAscendQuantV3; }
  bool hasDynamicQuant() const { return aclnnDynamicQuantGetWorkspaceSize && aclnnDynamicQuant; }
  std::string entryPoints() const;  // e.g. "QuantMatmulV5, QuantMatmulV4, ..."
};

// Loads CANN once per process; the libraries stay loaded until exit. Throws
// QmmException(ErrorCode::Backend) listing every path tried (tried()) and
// the missing library or symbol. A failed attempt is retried on the next call.
const CannApi& loadCann();

// The loaded API, or nullptr when loadCann() never succeeded.
const CannApi* loadedCann();

}  // namespace qmm
