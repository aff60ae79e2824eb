// Run-time kernel choice (dispatch.cc): kept out of kernel.h so that the ISA
// files, which include only kernel.h, see no std::string.
#pragma once

#include <string>

#include "kernel.h"

namespace qmm::emu::kern {

// QMM_KERNEL=amx|vnni512|avx2|i8mm|neon|scalar (amx_int8 = amx) forces a
// kernel when the CPU and the build have it; otherwise, and for "auto", the
// best available one is used.
//
// Why the active kernel was chosen ("QMM_KERNEL=neon is not available on this
// CPU/build; using avx2", or why AMX was passed over), or "".
std::string activeNote();
// Why cpuHasAmxInt8() is false ("CPU lacks amx_int8", "the OS refused ..."), or "".
std::string amxUnavailableReason();
// Switches the kernel (tests, bench); returns false when unavailable.
bool select(const char* name);
// The kernels this CPU and build can run, best first, comma separated.
std::string availableKernels();

}  // namespace qmm::emu::kern
