// Transparent huge pages for large buffers the emulator writes (THP is often
// in "madvise" mode): a 2 MiB page is one fault and one TLB entry where 4 KiB
// pages are 512 of each. A hint only: where the OS refuses, nothing changes.
#pragma once

#include <cstddef>

namespace qmm::emu {

constexpr size_t kHugePage = size_t{2} << 20;

// Asks for huge pages on the whole 2 MiB pages inside [p, p + bytes).
void adviseHugePages(void* p, size_t bytes);

}  // namespace qmm::emu
