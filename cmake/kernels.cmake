# Per-ISA int8 GEMM kernels (binding/emulator/kernels/). Each ISA file gets its
# own instruction-set flags and nothing else does; the choice among them is
# made at run time from the CPU's features (kernels/dispatch.cc). The
# project-wide -ffp-contract=off applies to these files too (no FMA
# contraction in the epilogues).
get_filename_component(QMM_KERNEL_DIR ${CMAKE_CURRENT_LIST_DIR}/../binding/emulator/kernels ABSOLUTE)
set(QMM_KERNEL_SOURCES
    ${QMM_KERNEL_DIR}/dispatch.cc
    ${QMM_KERNEL_DIR}/scalar.cc
    ${QMM_KERNEL_DIR}/epilogue_scalar.cc)

string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" QMM_PROC)
if(QMM_PROC MATCHES "^(x86_64|amd64|x64)$")
  list(APPEND QMM_KERNEL_SOURCES ${QMM_KERNEL_DIR}/avx2.cc ${QMM_KERNEL_DIR}/avx512_vnni.cc
       ${QMM_KERNEL_DIR}/avx512_vnni_rows.cc ${QMM_KERNEL_DIR}/amx.cc)
  set_source_files_properties(${QMM_KERNEL_DIR}/avx2.cc PROPERTIES
    COMPILE_OPTIONS "-mavx2;-mbmi2;-mf16c")
  set_source_files_properties(${QMM_KERNEL_DIR}/avx512_vnni.cc ${QMM_KERNEL_DIR}/avx512_vnni_rows.cc PROPERTIES
    COMPILE_OPTIONS "-mavx2;-mbmi2;-mf16c;-mavx512f;-mavx512bw;-mavx512vl;-mavx512vnni;-Wno-uninitialized;-Wno-maybe-uninitialized")
  set_source_files_properties(${QMM_KERNEL_DIR}/amx.cc PROPERTIES
    COMPILE_OPTIONS "-mamx-tile;-mamx-int8")
elseif(QMM_PROC MATCHES "^(aarch64|arm64)$")
  list(APPEND QMM_KERNEL_SOURCES ${QMM_KERNEL_DIR}/neon.cc ${QMM_KERNEL_DIR}/neon_i8mm.cc)
  set_source_files_properties(${QMM_KERNEL_DIR}/neon.cc PROPERTIES
    COMPILE_OPTIONS "-march=armv8.2-a+dotprod")
  set_source_files_properties(${QMM_KERNEL_DIR}/neon_i8mm.cc PROPERTIES
    COMPILE_OPTIONS "-march=armv8.2-a+dotprod+i8mm")
endif()
