#include "pack_owner.h"

#include "emulator/weight_packs.h"

namespace qmm {

namespace {

// Marks the buffers whose wrapped pointer is ours (napi_wrap is shared by
// every addon in the process).
constexpr napi_type_tag kPacksTag = {0x7a3c91e5d04b6f28ULL, 0xb15e0c7d2a9f4e63ULL};

struct Holder {
  std::shared_ptr<emu::WeightPacks> packs;
};

void finalize(napi_env, void* data, void*) { delete static_cast<Holder*>(data); }

}  // namespace

std::shared_ptr<emu::WeightPacks> weightPacksOf(const Napi::Value& view) {
  napi_env env = view.Env();
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* data = nullptr;  // the view's first byte: the buffer's bytes start `offset` before
  napi_value v;          // the buffer
  if (napi_get_typedarray_info(env, view, &type, &length, &data, &v, &offset) != napi_ok || data == nullptr)
    return nullptr;
  const void* base = static_cast<const uint8_t*>(data) - offset;
  bool ours = false;
  if (napi_check_object_type_tag(env, v, &kPacksTag, &ours) != napi_ok) return nullptr;
  void* wrapped = nullptr;
  if (ours) {
    if (napi_unwrap(env, v, &wrapped) != napi_ok || wrapped == nullptr) return nullptr;
    return static_cast<Holder*>(wrapped)->packs;
  }
  if (napi_unwrap(env, v, &wrapped) == napi_ok) return nullptr;  // another addon's object
  auto* h = new Holder{std::make_shared<emu::WeightPacks>(base)};
  if (napi_wrap(env, v, h, finalize, nullptr, nullptr) != napi_ok) {
    delete h;
    return nullptr;
  }
  if (napi_type_tag_object(env, v, &kPacksTag) != napi_ok) {  // tagged by someone else: undo
    void* mine = nullptr;
    napi_remove_wrap(env, v, &mine);
    delete h;
    return nullptr;
  }
  return h->packs;
}

}  // namespace qmm
