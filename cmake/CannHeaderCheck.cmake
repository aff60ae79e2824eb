# Build-time signature check of binding/cann/acl_api.h, our own declarations of
# the CANN C API. When CANN headers are installed, compile
# binding/cann/abi_check/acl_api_check.cc, which static_asserts that our
# declarations match the real ones. Nothing is linked: the addon still finds
# CANN at run time with dlopen. Without CANN headers this file does nothing.
# -DQMM_CANN_ROOT=<dir> (with include/acl/acl.h) is searched first.
set(_qmm_cann_roots "$ENV{ASCEND_HOME_PATH}" "$ENV{ASCEND_TOOLKIT_HOME}"
    /usr/local/Ascend/ascend-toolkit/latest /usr/local/Ascend/cann)
if(DEFINED QMM_CANN_ROOT)
  list(PREPEND _qmm_cann_roots "${QMM_CANN_ROOT}")
endif()
set(QMM_CANN_INCLUDE_DIR "")
foreach(_root IN LISTS _qmm_cann_roots)
  if(_root AND EXISTS "${_root}/include/acl/acl.h" AND EXISTS "${_root}/include/aclnnop/aclnn_quant_matmul_v4.h")
    set(QMM_CANN_INCLUDE_DIR "${_root}/include")
    break()
  endif()
endforeach()

if(QMM_CANN_INCLUDE_DIR)
  message(STATUS "CANN headers in ${QMM_CANN_INCLUDE_DIR}: checking binding/cann/acl_api.h against them")
  add_library(qmm_cann_abi_check OBJECT ${CMAKE_SOURCE_DIR}/binding/cann/abi_check/acl_api_check.cc)
  target_include_directories(qmm_cann_abi_check PRIVATE ${QMM_CANN_INCLUDE_DIR} ${CMAKE_SOURCE_DIR}/binding)
  target_compile_options(qmm_cann_abi_check PRIVATE -Wall -Wextra)
  add_dependencies(${PROJECT_NAME} qmm_cann_abi_check)
else()
  message(STATUS "CANN headers not found: skipping the acl_api.h signature check")
endif()
