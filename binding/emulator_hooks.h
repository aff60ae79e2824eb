// The `emulator` object of the addon: the CPU kernel in use and the weight
// packing cache (binding/emulator/pack_cache_api.h), plus the bench probes in
// a build with the test option (QMM_TEST_HOOKS).
#pragma once

#include <napi.h>

namespace qmm {

Napi::Object makeEmulatorHooks(Napi::Env env);

}  // namespace qmm
