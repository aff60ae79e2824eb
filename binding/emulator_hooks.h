// The `emulator` object of the addon: the CPU kernel in use
// (binding/emulator/kernel_info.h), the counters of the packs owned by NZ
// weights (binding/emulator/weight_packs.h), and the bench probes.
#pragma once

#include <napi.h>

namespace qmm {

Napi::Object makeEmulatorHooks(Napi::Env env);

}  // namespace qmm
