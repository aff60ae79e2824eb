// The `emulator` object of the addon: the CPU kernel in use
// (binding/emulator/kernel_info.h), and in a build with the test option
// (QMM_TEST_HOOKS) the bench probes and the counters of the packs owned by NZ
// weights (binding/emulator/weight_packs.h).
#pragma once

#include <napi.h>

namespace qmm {

Napi::Object makeEmulatorHooks(Napi::Env env);

}  // namespace qmm
