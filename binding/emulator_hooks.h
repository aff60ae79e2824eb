// The `emulator` object of the addon: the CPU kernel in use
// (binding/emulator/kernel_info.h), the bench probes, and in a test build
// (QMM_TEST_HOOKS) the counters of the packs owned by NZ weights
// (binding/emulator/weight_packs.h).
#pragma once

#include <napi.h>

namespace qmm {

Napi::Object makeEmulatorHooks(Napi::Env env);

}  // namespace qmm
