#include "loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>

#include "../errors.h"

namespace qmm {

namespace {

std::mutex gLoadMutex;
const CannApi* gLoaded = nullptr;  // never freed: the libraries stay loaded until exit

// docs/semantics.md §6.1 search order; each root's lib64/ holds the libraries.
std::vector<std::string> candidateRoots() {
  std::vector<std::string> roots;
  for (const char* var : {"ASCEND_HOME_PATH", "ASCEND_TOOLKIT_HOME"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') roots.emplace_back(v);
  }
  roots.emplace_back("/usr/local/Ascend/ascend-toolkit/latest");
  roots.emplace_back("/usr/local/Ascend/cann");
  std::vector<std::string> unique;
  for (auto& r : roots) {
    while (r.size() > 1 && r.back() == '/') r.pop_back();
    if (std::find(unique.begin(), unique.end(), r) == unique.end()) unique.push_back(r);
  }
  return unique;
}

bool fileExists(const std::string& p) { return ::access(p.c_str(), F_OK) == 0; }

std::string readVersion(const std::string& root) {
  for (const char* name : {"version.cfg", "version.info"}) {
    std::ifstream f(root + "/" + name);
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("version=", 0) == 0 || line.rfind("Version=", 0) == 0) {
        std::string v = line.substr(8);
        while (!v.empty() && (v.back() == '\r' || v.back() == ' ')) v.pop_back();
        return v;
      }
    }
  }
  return {};
}

// libopapi.so, or else every libopapi_*.so (newer split packaging, docs/semantics.md §6.1).
std::vector<std::string> opapiLibraries(const std::string& lib64) {
  if (fileExists(lib64 + "/libopapi.so")) return {lib64 + "/libopapi.so"};
  std::vector<std::string> found;
  if (DIR* d = ::opendir(lib64.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n.rfind("libopapi_", 0) == 0 && n.size() > 12 && n.compare(n.size() - 3, 3, ".so") == 0)
        found.push_back(lib64 + "/" + n);
    }
    ::closedir(d);
  }
  std::sort(found.begin(), found.end());
  return found;
}

// One root's attempt: the handles opened so far are closed unless released.
struct Attempt {
  std::vector<void*> handles;
  std::vector<std::string> paths;
  ~Attempt() {
    for (void* h : handles) ::dlclose(h);
  }
  void* open(const std::string& path, std::vector<std::string>& tried) {
    if (!fileExists(path)) {
      tried.push_back(path + " (not found)");
      return nullptr;
    }
    void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      const char* err = ::dlerror();
      tried.push_back(path + " (dlopen failed: " + (err ? err : "unknown error") + ")");
      return nullptr;
    }
    tried.push_back(path + " (loaded)");
    handles.push_back(h);
    paths.push_back(path);
    return h;
  }
};

// Looks `name` up in `first` and then in every other handle of the attempt.
void* findSymbol(const Attempt& a, void* first, const char* name) {
  if (void* p = ::dlsym(first, name)) return p;
  for (void* h : a.handles)
    if (h != first)
      if (void* p = ::dlsym(h, name)) return p;
  return nullptr;
}

template <typename T>
void assign(T& fn, void* p) {
  fn = reinterpret_cast<T>(p);
}

// Resolves everything from an opened root; returns the missing required
// symbol names (empty on success).
std::vector<std::string> resolve(const Attempt& a, void* acl, void* meta, const std::vector<void*>& ops, CannApi& api) {
  std::vector<std::string> missing;
  auto required = [&](void* lib) {
    return [&, lib](auto& fn, const char* name) {
      assign(fn, findSymbol(a, lib, name));
      if (fn == nullptr) missing.emplace_back(name);
    };
  };
  auto fromAcl = required(acl);
  auto fromMeta = required(meta);
#define QMM_RESOLVE_ACL(name, ret, params) fromAcl(api.name, #name);
#define QMM_RESOLVE_META(name, ret, params) fromMeta(api.name, #name);
  QMM_ACL_RUNTIME_FUNCS(QMM_RESOLVE_ACL)
  QMM_ACL_META_FUNCS(QMM_RESOLVE_META)
#undef QMM_RESOLVE_ACL
#undef QMM_RESOLVE_META
#define QMM_RESOLVE_OPTIONAL_ACL(name, ret, params) assign(api.name, findSymbol(a, acl, #name));
#define QMM_RESOLVE_OPTIONAL_META(name, ret, params) assign(api.name, findSymbol(a, meta, #name));
  QMM_ACL_RUNTIME_OPTIONAL_FUNCS(QMM_RESOLVE_OPTIONAL_ACL)
  QMM_ACL_META_OPTIONAL_FUNCS(QMM_RESOLVE_OPTIONAL_META)
#undef QMM_RESOLVE_OPTIONAL_ACL
#undef QMM_RESOLVE_OPTIONAL_META
  // Operators are optional one by one (an op whose entry points are missing
  // fails with ERR_QMM_UNSUPPORTED when called); at least one QuantMatmul is required.
#define QMM_RESOLVE_OP(name, ret, params) assign(api.name, findSymbol(a, ops.front(), #name));
  QMM_ACLNN_OP_FUNCS(QMM_RESOLVE_OP)
#undef QMM_RESOLVE_OP
  if (!api.hasV5() && !api.hasV4() && !api.hasV3())
    missing.emplace_back("aclnnQuantMatmulV4GetWorkspaceSize/aclnnQuantMatmulV4 (nor V5 or V3)");
  return missing;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

}  // namespace

std::string CannApi::entryPoints() const {
  std::vector<std::string> e;
  if (hasV5()) e.emplace_back("QuantMatmulV5");
  if (hasV4()) e.emplace_back("QuantMatmulV4");
  if (hasV3()) e.emplace_back("QuantMatmulV3");
  if (hasWeightNz()) e.emplace_back("QuantMatmulWeightNz");
  if (hasTqpV3()) e.emplace_back("TransQuantParamV3");
  if (hasTqpV2()) e.emplace_back("TransQuantParamV2");
  if (hasAscendQuantV3()) e.emplace_back("AscendQuantV3");
  if (hasDynamicQuant()) e.emplace_back("DynamicQuant");
  e.emplace_back(hasFormatCast() ? "NpuFormatCast" : "host NZ packing (no aclnnNpuFormatCast)");
  return join(e, ", ");
}

const CannApi& loadCann() {
  std::lock_guard<std::mutex> lock(gLoadMutex);
  if (gLoaded != nullptr) return *gLoaded;
  std::vector<std::string> tried;
  for (const std::string& root : candidateRoots()) {
    const std::string lib64 = root + "/lib64";
    Attempt a;
    void* acl = a.open(lib64 + "/libascendcl.so", tried);
    if (acl == nullptr) continue;
    void* meta = a.open(lib64 + "/libnnopbase.so", tried);
    if (meta == nullptr) continue;
    std::vector<void*> ops;
    const std::vector<std::string> opLibs = opapiLibraries(lib64);
    if (opLibs.empty()) tried.push_back(lib64 + "/libopapi.so (not found, nor any libopapi_*.so)");
    for (const std::string& p : opLibs)
      if (void* h = a.open(p, tried)) ops.push_back(h);
    if (ops.empty()) continue;
    auto api = std::make_unique<CannApi>();
    const std::vector<std::string> missing = resolve(a, acl, meta, ops, *api);
    if (!missing.empty()) {
      tried.push_back(root + ": missing symbol(s) " + join(missing, ", "));
      continue;
    }
    api->root = root;
    api->version = readVersion(root);
    api->libraries = a.paths;
    api->ascendclHandle = acl;
    a.handles.clear();  // keep them loaded for the life of the process
    gLoaded = api.release();
    return *gLoaded;
  }
  throw QmmException(ErrorCode::Backend,
                     "CANN is not usable: tried " + join(tried, "; ") +
                         ". Install the CANN toolkit and source its set_env.sh (or set ASCEND_HOME_PATH).")
      .withTried(tried);
}

const CannApi* loadedCann() {
  std::lock_guard<std::mutex> lock(gLoadMutex);
  return gLoaded;
}

}  // namespace qmm
