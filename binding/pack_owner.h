// Gives each JS buffer holding FRACTAL_NZ weights its emulator packs
// (binding/emulator/weight_packs.h), owned by the buffer: attached to the
// ArrayBuffer object on first sight, freed when it is garbage-collected.
#pragma once

#include <napi.h>

#include <memory>

namespace qmm {

namespace emu {
class WeightPacks;
}

// The packs of the buffer (ArrayBuffer or SharedArrayBuffer) under the
// TypedArray `view`: made and attached to the buffer on first call. Null when
// the buffer cannot carry them (another addon already wrapped it); the op then
// packs the weight for that call only.
std::shared_ptr<emu::WeightPacks> weightPacksOf(const Napi::Value& view);

}  // namespace qmm
