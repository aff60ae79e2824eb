// The `util` object of the addon: byte-shuffling loops for `qmm prepare`
// (int8 transposes, int4 packing) that are too slow in JavaScript. They take
// typed arrays, check every length and bound, and run synchronously.
#pragma once

#include <napi.h>

namespace qmm {

// Sets exports.util = { transposeInt8, packInt4 }.
void registerUtilOps(Napi::Env env, Napi::Object exports);

}  // namespace qmm
