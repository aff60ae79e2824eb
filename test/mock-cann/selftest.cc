// selftest.cc - exercises the mock (full variant, linked directly) and
// checks the other variants' symbol sets with dlopen. Exit status 0 = pass.
#include <dlfcn.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "mock_acl.h"
#include "mock_cann_control.h"

static int g_fail = 0, g_pass = 0;
#define CHECK(cond)                                                              \
  do {                                                                           \
    if (cond) {                                                                  \
      g_pass++;                                                                  \
    } else {                                                                     \
      g_fail++;                                                                  \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);           \
    }                                                                            \
  } while (0)
#define CHECK_EQ(a, b)                                                                       \
  do {                                                                                       \
    long long va_ = (long long)(a), vb_ = (long long)(b);                                    \
    if (va_ == vb_) {                                                                        \
      g_pass++;                                                                              \
    } else {                                                                                 \
      g_fail++;                                                                              \
      fprintf(stderr, "FAIL %s:%d: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, #a, #b, va_, vb_); \
    }                                                                                        \
  } while (0)

static std::string recent() {
  const char* m = aclGetRecentErrMsg();
  return m ? m : "";
}
static MockCannStats stats() {
  MockCannStats s;
  mock_cann_get_stats(&s);
  return s;
}

// ---- independent reference numerics ----
static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float ffrom(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint16_t ref_f16(float f, bool saturate) {
  _Float16 h = static_cast<_Float16>(f);  // IEEE RNE conversion by the compiler
  uint16_t u;
  memcpy(&u, &h, 2);
  if (std::isnan(f)) return static_cast<uint16_t>((u & 0x8000) | 0x7E00);
  if (saturate && (u & 0x7FFF) == 0x7C00) u = static_cast<uint16_t>((u & 0x8000) | 0x7BFF);
  return u;
}
static uint16_t ref_bf16(float f) {
  uint32_t b = fbits(f), lo = b & 0xFFFF0000u, hi = lo + 0x10000u;
  double dl = std::fabs((double)f - (double)ffrom(lo)), dh = std::fabs((double)f - (double)ffrom(hi));
  if (dl < dh) return static_cast<uint16_t>(lo >> 16);
  if (dh < dl) return static_cast<uint16_t>(hi >> 16);
  return static_cast<uint16_t>(((lo >> 16) & 1) ? hi >> 16 : lo >> 16);
}
static float bf16f(uint16_t v) { return ffrom(static_cast<uint32_t>(v) << 16); }

static uint32_t g_rng = 12345;
static int rnd(int lo, int hi) {  // inclusive
  g_rng = g_rng * 1103515245u + 12345u;
  return lo + static_cast<int>((g_rng >> 8) % static_cast<uint32_t>(hi - lo + 1));
}

// ---- device helpers ----
static std::vector<void*> g_dev;
static std::vector<aclTensor*> g_tensors;
static void* upload(const void* host, size_t bytes) {
  void* d = nullptr;
  if (aclrtMalloc(&d, bytes, ACL_MEM_MALLOC_HUGE_FIRST) != 0) return nullptr;
  if (host) aclrtMemcpy(d, bytes, host, bytes, ACL_MEMCPY_HOST_TO_DEVICE);
  g_dev.push_back(d);
  return d;
}
static std::vector<int64_t> contig(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size());
  int64_t acc = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}
static aclTensor* mk(const std::vector<int64_t>& dims, aclDataType dt, void* dev,
                     std::vector<int64_t> strides = {}, std::vector<int64_t> storage = {},
                     aclFormat fmt = ACL_FORMAT_ND) {
  if (strides.empty()) strides = contig(dims);
  if (storage.empty()) storage = dims;
  aclTensor* t = aclCreateTensor(dims.data(), dims.size(), dt, strides.data(), 0, fmt, storage.data(),
                                 storage.size(), dev);
  if (t) g_tensors.push_back(t);
  return t;
}
static void cleanup() {
  for (aclTensor* t : g_tensors) aclDestroyTensor(t);
  g_tensors.clear();
  for (void* d : g_dev) aclrtFree(d);
  g_dev.clear();
}
static aclrtStream g_stream;

// GetWorkspaceSize done by the caller; allocate workspace, run, sync.
typedef aclnnStatus (*RunFn)(void*, uint64_t, aclOpExecutor*, aclrtStream);
static int run(RunFn fn, uint64_t ws, aclOpExecutor* ex) {
  void* w = nullptr;
  if (ws) aclrtMalloc(&w, ws, ACL_MEM_MALLOC_HUGE_FIRST);
  int rc = fn(w, ws, ex, g_stream);
  int rc2 = aclrtSynchronizeStream(g_stream);
  if (w) aclrtFree(w);
  return rc ? rc : rc2;
}
template <class T>
static std::vector<T> download(void* dev, size_t n) {
  std::vector<T> h(n);
  aclrtMemcpy(h.data(), n * sizeof(T), dev, n * sizeof(T), ACL_MEMCPY_DEVICE_TO_HOST);
  return h;
}

// ---- tests ----
static void test_lifecycle() {
  CHECK_EQ(aclrtSetDevice(0), 100000);
  CHECK(aclCreateTensor(nullptr, 0, ACL_FLOAT, nullptr, 0, ACL_FORMAT_ND, (const int64_t[]){1}, 1, nullptr) == nullptr);
  CHECK_EQ(aclInit(nullptr), 0);
  CHECK_EQ(aclInit(nullptr), 100002);
  uint32_t n = 99;
  CHECK_EQ(aclrtGetDeviceCount(&n), 0);
  CHECK_EQ(n, 1);
  void* p = nullptr;
  CHECK_EQ(aclrtMalloc(&p, 16, ACL_MEM_MALLOC_HUGE_FIRST), 107002);
  CHECK(recent().find("aclrtSetDevice") != std::string::npos);
  CHECK(aclGetRecentErrMsg() == nullptr);  // cleared after reading
  CHECK_EQ(aclrtSetDevice(1), 107001);
  CHECK_EQ(aclrtSetDevice(0), 0);
  CHECK_EQ(aclrtCreateStream(&g_stream), 0);
  CHECK_EQ(stats().deviceRefs, 1);
  // another thread has no current device
  int rcThread = -1;
  std::thread th([&] { void* q; rcThread = aclrtMalloc(&q, 16, ACL_MEM_MALLOC_HUGE_FIRST); });
  th.join();
  CHECK_EQ(rcThread, 107002);
}

static void test_memory() {
  std::vector<uint8_t> src(1000), dst(1000, 0);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 7);
  void* d = nullptr;
  CHECK_EQ(aclrtMalloc(&d, 1000, ACL_MEM_MALLOC_HUGE_FIRST), 0);
  CHECK_EQ(aclrtMemcpy(d, 1000, src.data(), 1000, ACL_MEMCPY_HOST_TO_DEVICE), 0);
  CHECK_EQ(aclrtMemcpy(dst.data(), 1000, d, 1000, ACL_MEMCPY_DEVICE_TO_HOST), 0);
  CHECK(src == dst);
  long long v0 = stats().violations;
  CHECK_EQ(aclrtMemcpy(dst.data(), 1000, static_cast<char*>(d) + 1, 1000, ACL_MEMCPY_DEVICE_TO_HOST), 107000);
  CHECK_EQ(aclrtMemcpy(d, 1000, dst.data(), 1000, ACL_MEMCPY_DEVICE_TO_HOST), 107000);  // wrong kind
  CHECK_EQ(aclrtMemcpy(d, 2000, src.data(), 10, ACL_MEMCPY_HOST_TO_DEVICE), 107000);    // destMax lies
  CHECK_EQ(aclrtMemcpy(d, 10, src.data(), 20, ACL_MEMCPY_HOST_TO_DEVICE), 100000);      // count > destMax
  CHECK_EQ(stats().violations, v0 + 3);
  CHECK(std::string(mock_cann_last_violation()).find("destMax") != std::string::npos);
  CHECK_EQ(aclrtMemset(d, 1000, 0x11, 1000), 0);
  CHECK_EQ(aclrtMemcpy(dst.data(), 4, d, 4, ACL_MEMCPY_DEVICE_TO_HOST), 0);
  CHECK_EQ(dst[3], 0x11);
  // a device pointer cannot be dereferenced on the host
  pid_t pid = fork();
  if (pid == 0) {
    volatile uint8_t x = *static_cast<volatile uint8_t*>(d);
    (void)x;
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
  CHECK_EQ(aclrtFree(d), 0);
  CHECK_EQ(aclrtFree(d), 107000);  // double free
  void* h = nullptr;
  CHECK_EQ(aclrtMallocHost(&h, 64), 0);
  CHECK_EQ(stats().liveHostAllocs, 1);
  CHECK_EQ(aclrtFreeHost(h), 0);
  CHECK_EQ(stats().violations, v0 + 4);
  mock_cann_reset_violations();
  CHECK_EQ(stats().violations, 0);
}

static void test_tensor_checks() {
  int8_t buf[64] = {0};
  void* d = upload(buf, 64);
  // view reaches past the storage
  std::vector<int64_t> dims{8, 9}, st{9, 1};
  CHECK(aclCreateTensor(dims.data(), 2, ACL_INT8, st.data(), 0, ACL_FORMAT_ND, dims.data(), 2, d) == nullptr);
  CHECK(recent().find("aclCreateTensor") != std::string::npos);
  // storage larger than the allocation
  std::vector<int64_t> big{65};
  CHECK(aclCreateTensor(big.data(), 1, ACL_INT8, (const int64_t[]){1}, 0, ACL_FORMAT_ND, big.data(), 1, d) == nullptr);
  // host pointer as tensorData
  CHECK(aclCreateTensor(dims.data(), 1, ACL_INT8, (const int64_t[]){1}, 0, ACL_FORMAT_ND, dims.data(), 1, buf) == nullptr);
  // bad dtype
  CHECK(aclCreateTensor(dims.data(), 1, static_cast<aclDataType>(5), (const int64_t[]){1}, 0, ACL_FORMAT_ND, dims.data(), 1, d) == nullptr);
  CHECK_EQ(stats().violations, 3);
  aclTensor* t = aclCreateTensor(dims.data(), 1, ACL_INT8, (const int64_t[]){1}, 0, ACL_FORMAT_ND, dims.data(), 1, d);
  CHECK(t != nullptr);
  CHECK_EQ(stats().liveTensors, 1);
  CHECK_EQ(aclDestroyTensor(t), 0);
  CHECK_EQ(aclDestroyTensor(t), 161002);  // double destroy
  aclIntArray* ia = aclCreateIntArray((const int64_t[]){1, 2}, 2);
  CHECK(ia != nullptr);
  CHECK_EQ(aclDestroyIntArray(ia), 0);
  CHECK_EQ(stats().violations, 4);
  mock_cann_reset_violations();
  cleanup();
}

// aclnnAscendQuantV3 / aclnnDynamicQuant: RNE, saturation, NaN, broadcast, errors.
static void test_quantize() {
  float x[8] = {0.5f, 1.5f, 2.5f, -2.5f, NAN, 1000.0f, -1000.0f, 1.25f};
  float sc2[2] = {1.0f, 2.0f}, off2[2] = {0.0f, -0.5f};
  void* dx = upload(x, sizeof x);
  void* ds = upload(sc2, sizeof sc2);
  void* dof = upload(off2, sizeof off2);
  void* dy = upload(nullptr, 8);
  aclTensor *tx = mk({4, 2}, ACL_FLOAT, dx), *ts = mk({2}, ACL_FLOAT, ds), *to = mk({2}, ACL_FLOAT, dof);
  aclTensor* ty = mk({4, 2}, ACL_INT8, dy);
  uint64_t ws = 0;
  aclOpExecutor* ex = nullptr;
  CHECK_EQ(aclnnAscendQuantV3GetWorkspaceSize(tx, ts, to, false, "round", ACL_INT8, -1, ty, &ws, &ex), 0);
  CHECK(ws > 0);
  CHECK_EQ(run(aclnnAscendQuantV3, ws, ex), 0);
  // column 1: x*2 - 0.5 -> 2.5 -> 2, -5.5 -> -6, 2000 -> 127, 2.0 -> 2
  std::vector<int8_t> y = download<int8_t>(dy, 8);
  const int8_t want[8] = {0, 2, 2, -6, 0, 127, -128, 2};
  for (int i = 0; i < 8; ++i) CHECK_EQ(y[i], want[i]);
  aclTensor* ts1 = mk({1}, ACL_FLOAT, ds);  // (1,) broadcast, no offset, sqrtMode
  CHECK_EQ(aclnnAscendQuantV3GetWorkspaceSize(tx, ts1, nullptr, true, "round", ACL_INT8, 1, ty, &ws, &ex), 0);
  CHECK_EQ(run(aclnnAscendQuantV3, ws, ex), 0);
  y = download<int8_t>(dy, 8);
  CHECK_EQ(y[2], 2);
  CHECK_EQ(y[5], 127);
  uint16_t h[2] = {0x3C00, 0x3C00};  // float16 scale for a float32 x is accepted
  aclTensor* th = mk({2}, ACL_FLOAT16, upload(h, sizeof h));
  CHECK_EQ(aclnnAscendQuantV3GetWorkspaceSize(tx, th, nullptr, false, "round", ACL_INT8, -1, ty, &ws, &ex), 0);
  CHECK_EQ(run(aclnnAscendQuantV3, ws, ex), 0);
  aclTensor* txh = mk({4, 2}, ACL_FLOAT16, upload(nullptr, 16));  // ... but not a float scale for a float16 x
  CHECK_EQ(aclnnAscendQuantV3GetWorkspaceSize(txh, ts, nullptr, false, "round", ACL_INT8, -1, ty, &ws, &ex), 161002);
  CHECK(recent().find("not compatible") != std::string::npos);
  CHECK_EQ(aclnnAscendQuantV3GetWorkspaceSize(tx, ts, nullptr, false, "floor", ACL_INT8, -1, ty, &ws, &ex), 161002);
  CHECK_EQ(aclnnAscendQuantV3GetWorkspaceSize(tx, ts, nullptr, false, "round", ACL_INT32, -1, ty, &ws, &ex), 161002);
  CHECK_EQ(aclnnAscendQuantV3GetWorkspaceSize(tx, mk({3}, ACL_FLOAT, dx), nullptr, false, "round", ACL_INT8, -1, ty,
                                              &ws, &ex), 161002);
  CHECK_EQ(aclnnAscendQuantV3GetWorkspaceSize(nullptr, ts, nullptr, false, "round", ACL_INT8, -1, ty, &ws, &ex), 161001);
  // DynamicQuant: rows {1, -2, 0.5, 127}, {0, 0, 0, 0}, {NaN, 1, 1, 1} in bfloat16
  const float xv[12] = {1, -2, 0.5f, 127, 0, 0, 0, 0, NAN, 1, 1, 1};
  uint16_t xb[12];
  for (int i = 0; i < 12; ++i) xb[i] = ref_bf16(xv[i]);
  aclTensor* tdx = mk({3, 4}, ACL_BF16, upload(xb, sizeof xb));
  void* ddy = upload(nullptr, 12);
  void* dsc = upload(nullptr, 16);
  aclTensor *tdy = mk({3, 4}, ACL_INT8, ddy), *tsc = mk({3}, ACL_FLOAT, dsc);
  CHECK_EQ(aclnnDynamicQuantGetWorkspaceSize(tdx, nullptr, tdy, tsc, &ws, &ex), 0);
  CHECK_EQ(run(aclnnDynamicQuant, ws, ex), 0);
  std::vector<int8_t> q = download<int8_t>(ddy, 12);
  std::vector<float> s = download<float>(dsc, 3);
  CHECK_EQ(fbits(s[0]), fbits(127.0f / 127.0f));
  CHECK_EQ(q[0], 1);
  CHECK_EQ(q[1], -2);
  CHECK_EQ(q[2], 0);  // 0.5 ties to even
  CHECK_EQ(q[3], 127);
  CHECK_EQ(fbits(s[1]), 0);
  CHECK_EQ(q[5], 0);
  CHECK(std::isnan(s[2]));
  CHECK_EQ(q[9], 0);
  CHECK_EQ(aclnnDynamicQuantGetWorkspaceSize(tx, nullptr, ty, tsc, &ws, &ex), 161002);  // float32 x
  CHECK_EQ(aclnnDynamicQuantGetWorkspaceSize(tdx, nullptr, tdy, mk({4}, ACL_FLOAT, dsc), &ws, &ex), 161002);
  CHECK(recent().find("except for the last dimension") != std::string::npos);
  cleanup();
}

static void test_trans_quant_param() {
  float scale[5] = {1.0459f, ffrom(0x3F801001u), ffrom(0x3F801000u), ffrom(0x3F803000u), ffrom(0x3FFFF000u)};
  float offs[5] = {1.0f, 2.5f, -2.5f, 300.0f, -300.0f};
  void* ds = upload(scale, sizeof scale);
  void* dof = upload(offs, sizeof offs);
  void* dout = upload(nullptr, 5 * 8);
  aclTensor* ts = mk({5}, ACL_FLOAT, ds);
  aclTensor* to = mk({5}, ACL_FLOAT, dof);
  aclTensor* tout = mk({5}, ACL_INT64, dout);
  uint64_t ws = 1;
  aclOpExecutor* ex = nullptr;
  // round mode 0
  CHECK_EQ(aclnnTransQuantParamV3GetWorkspaceSize(ts, to, 0, tout, &ws, &ex), 0);
  CHECK_EQ(ws, 0);
  CHECK_EQ(run(aclnnTransQuantParamV3, ws, ex), 0);
  std::vector<uint64_t> r = download<uint64_t>(dout, 5);
  CHECK_EQ(r[0], 70507248869376ULL);  // 0x40203F85E000: scale 1.0459, offset +1, bit 46
  auto pack = [](uint32_t s, int o) { return (1ull << 46) | s | ((static_cast<uint64_t>(o) & 0x1FF) << 37); };
  CHECK_EQ(r[1], pack(0x3F800000u, 2));    // truncation; offset 2.5 -> 2 (RNE)
  CHECK_EQ(r[2], pack(0x3F800000u, -2));   // -2.5 -> -2
  CHECK_EQ(r[3], pack(0x3F802000u, 255));  // clamp
  CHECK_EQ(r[4], pack(0x3FFFE000u, -256));
  // round mode 1
  CHECK_EQ(aclnnTransQuantParamV3GetWorkspaceSize(ts, nullptr, 1, tout, &ws, &ex), 0);
  CHECK_EQ(run(aclnnTransQuantParamV3, ws, ex), 0);
  r = download<uint64_t>(dout, 5);
  CHECK_EQ(r[0], pack(0x3F85E000u, 0));
  CHECK_EQ(r[1], pack(0x3F802000u, 0));  // above half: up
  CHECK_EQ(r[2], pack(0x3F800000u, 0));  // tie, even: down
  CHECK_EQ(r[3], pack(0x3F804000u, 0));  // tie, odd: up
  CHECK_EQ(r[4], pack(0x40000000u, 0));  // mantissa carry into the exponent
  // V2, scale (1,) broadcast against offset (4,) -> out (4,)
  aclTensor* ts1 = mk({1}, ACL_FLOAT, ds);
  aclTensor* to4 = mk({4}, ACL_FLOAT, dof);
  aclTensor* tout4 = mk({4}, ACL_UINT64, dout);
  CHECK_EQ(aclnnTransQuantParamV2GetWorkspaceSize(ts1, to4, tout4, &ws, &ex), 0);
  CHECK_EQ(run(aclnnTransQuantParamV2, ws, ex), 0);
  r = download<uint64_t>(dout, 4);
  CHECK_EQ(r[1], pack(0x3F85E000u, 2));
  CHECK_EQ(r[3], pack(0x3F85E000u, 255));
  // errors
  CHECK_EQ(aclnnTransQuantParamV3GetWorkspaceSize(ts, to, 2, tout, &ws, &ex), 161002);
  CHECK(recent().find("roundMode only support 0 and 1") != std::string::npos);
  CHECK_EQ(aclnnTransQuantParamV2GetWorkspaceSize(ts, to4, tout, &ws, &ex), 161002);
  CHECK_EQ(aclnnTransQuantParamV2GetWorkspaceSize(nullptr, to4, tout, &ws, &ex), 161001);
  // host variant
  uint64_t* q = nullptr;
  uint64_t qn = 0;
  CHECK_EQ(aclnnTransQuantParam(scale, 2, offs, 2, &q, &qn), 0);
  CHECK_EQ(qn, 16);
  CHECK_EQ(q[0], (1ull << 46) | fbits(1.0459f) | (1ull << 37));
  CHECK_EQ(q[1], (1ull << 46) | 0x3F801001ull | (3ull << 37));  // round(2.5) = 3 (half away)
  CHECK_EQ(q[2], 0);
  free(q);
  CHECK_EQ(stats().liveExecutors, 0);
  cleanup();
}

// Naive reference for int8 x1 (m,k) @ x2 (k,n) -> int32 with wrap.
static std::vector<int32_t> ref_mm(const std::vector<int>& a, const std::vector<int>& b, int m, int k, int n) {
  std::vector<int32_t> c(m * n);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      int64_t acc = 0;
      for (int kk = 0; kk < k; ++kk) acc += a[i * k + kk] * b[kk * n + j];
      c[i * n + j] = static_cast<int32_t>(acc);
    }
  return c;
}

static void test_qmm_fp16_int64() {
  const int m = 5, k = 70, n = 9;
  std::vector<int8_t> x1(m * k), x2(k * n);
  std::vector<int> a(m * k), b(k * n);
  for (int i = 0; i < m * k; ++i) a[i] = x1[i] = static_cast<int8_t>(rnd(-128, 127));
  for (int i = 0; i < k * n; ++i) b[i] = x2[i] = static_cast<int8_t>(rnd(-128, 127));
  std::vector<int32_t> bias(n);
  for (int j = 0; j < n; ++j) bias[j] = rnd(-5000, 5000);
  std::vector<uint64_t> scale(n);
  for (int j = 0; j < n; ++j) scale[j] = (1ull << 46) | fbits(0.0007f * (j + 1) + 1e-5f * j);  // low bits set
  scale[n - 1] = (1ull << 46) | fbits(3.0f);  // large: overflows fp16 -> saturate
  aclTensor* t1 = mk({m, k}, ACL_INT8, upload(x1.data(), x1.size()));
  aclTensor* t2 = mk({k, n}, ACL_INT8, upload(x2.data(), x2.size()));
  aclTensor* tsc = mk({n}, ACL_INT64, upload(scale.data(), n * 8));
  aclTensor* tb = mk({n}, ACL_INT32, upload(bias.data(), n * 4));
  void* dout = upload(nullptr, m * n * 2);
  aclTensor* tout = mk({m, n}, ACL_FLOAT16, dout);
  uint64_t ws = 0;
  aclOpExecutor* ex = nullptr;
  CHECK_EQ(aclnnQuantMatmulV5GetWorkspaceSize(t1, t2, nullptr, tsc, nullptr, nullptr, nullptr, nullptr, tb, false,
                                              false, 0, tout, &ws, &ex), 0);
  CHECK(ws >= 65536);
  CHECK_EQ(stats().liveExecutors, 1);
  void* w = nullptr;
  aclrtMalloc(&w, ws, ACL_MEM_MALLOC_HUGE_FIRST);
  CHECK_EQ(aclnnQuantMatmulV5(w, ws, ex, g_stream), 0);
  CHECK_EQ(stats().liveExecutors, 0);
  // results are not valid before the sync: flagged
  std::vector<uint16_t> got(m * n);
  CHECK_EQ(aclrtMemcpy(got.data(), got.size() * 2, dout, got.size() * 2, ACL_MEMCPY_DEVICE_TO_HOST), 107003);
  CHECK_EQ(aclrtFree(w), 107003);  // workspace still in use
  CHECK_EQ(stats().violations, 2);
  CHECK(std::string(mock_cann_last_violation()).find("aclrtFree") != std::string::npos);
  mock_cann_reset_violations();
  // executor reuse
  CHECK_EQ(aclnnQuantMatmulV5(w, ws, ex, g_stream), 161002);
  CHECK_EQ(stats().violations, 1);
  mock_cann_reset_violations();
  CHECK_EQ(aclrtSynchronizeStream(g_stream), 0);
  CHECK_EQ(aclrtFree(w), 0);
  got = download<uint16_t>(dout, m * n);
  std::vector<int32_t> A = ref_mm(a, b, m, k, n);
  int bad = 0;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      float s = ffrom(static_cast<uint32_t>(scale[j]) & 0xFFFFE000u);
      float prod = static_cast<float>(A[i * n + j] + bias[j]) * s;
      if (got[i * n + j] != ref_f16(prod, true)) bad++;
    }
  CHECK_EQ(bad, 0);
  bool sat = false;
  for (int i = 0; i < m; ++i) sat |= (got[i * n + n - 1] & 0x7FFF) == 0x7BFF;
  CHECK(sat);
  // int8 output with packed offset (requant) via V4 and an ignored offset tensor
  std::vector<uint64_t> sc8(1, (1ull << 46) | fbits(0.01f) | ((static_cast<uint64_t>(-3) & 0x1FF) << 37));
  std::vector<float> off(n, 50.0f);
  aclTensor* tsc8 = mk({1}, ACL_INT64, upload(sc8.data(), 8));
  aclTensor* toff = mk({n}, ACL_FLOAT, upload(off.data(), n * 4));
  void* dout8 = upload(nullptr, m * n);
  aclTensor* tout8 = mk({m, n}, ACL_INT8, dout8);
  CHECK_EQ(aclnnQuantMatmulV4GetWorkspaceSize(t1, t2, tsc8, toff, nullptr, tb, false, false, tout8, &ws, &ex), 0);
  CHECK_EQ(run(aclnnQuantMatmulV4, ws, ex), 0);
  std::vector<int8_t> g8 = download<int8_t>(dout8, m * n);
  bad = 0;
  float s8 = ffrom(fbits(0.01f) & 0xFFFFE000u);
  for (int i = 0; i < m * n; ++i) {
    float t = std::nearbyint(static_cast<float>(A[i] + bias[i % n]) * s8);
    t = std::fmin(std::fmax(t, -256.0f), 255.0f);
    int y = static_cast<int>(t) - 3;
    y = y < -128 ? -128 : (y > 127 ? 127 : y);
    if (g8[i] != y) bad++;
  }
  CHECK_EQ(bad, 0);
  // validation: k mismatch, fp16 bias without pertoken, offset with fp16 out
  aclTensor* t2bad = mk({k - 1, n}, ACL_INT8, upload(x2.data(), x2.size()));
  CHECK_EQ(aclnnQuantMatmulV5GetWorkspaceSize(t1, t2bad, nullptr, tsc, nullptr, nullptr, nullptr, nullptr, nullptr,
                                              false, false, 0, tout, &ws, &ex), 161002);
  CHECK(recent().find("x1 k dim and x2 k dim should be same") != std::string::npos);
  CHECK_EQ(aclnnQuantMatmulV4GetWorkspaceSize(t1, t2, tsc, toff, nullptr, nullptr, false, false, tout, &ws, &ex),
           161002);
  CHECK(recent().find("Offset only exists when out dtype is INT8") != std::string::npos);
  CHECK_EQ(aclnnQuantMatmulV5GetWorkspaceSize(t1, t2, nullptr, tsc, nullptr, nullptr, nullptr, nullptr, tb, false,
                                              false, 0, nullptr, &ws, &ex), 161001);
  // transposed view AND flag: the flag toggles back -> (n=70?) k mismatch
  CHECK_EQ(aclnnQuantMatmulV5GetWorkspaceSize(t1, t2, nullptr, tsc, nullptr, nullptr, nullptr, nullptr, nullptr,
                                              false, true, 0, tout, &ws, &ex), 161002);
  CHECK_EQ(stats().liveExecutors, 0);
  CHECK_EQ(stats().violations, 0);
  cleanup();
}

static void test_qmm_bf16_pertoken() {
  // x1 (2, m, k) batch, x2 given as a transposed view of a contiguous (n, k) weight,
  // fp32 scale (n,), pertoken (m,) shared across batches, float bias (n,).
  const int B = 2, m = 6, k = 33, n = 7;
  std::vector<int8_t> x1(B * m * k), w(n * k);
  for (auto& v : x1) v = static_cast<int8_t>(rnd(-128, 127));
  for (auto& v : w) v = static_cast<int8_t>(rnd(-128, 127));
  std::vector<float> sc(n), pt(m), bias(n);
  for (auto& v : sc) v = static_cast<float>(rnd(1, 1000)) * 1.37e-4f;
  for (auto& v : pt) v = static_cast<float>(rnd(1, 1000)) * 3.1e-3f;
  for (auto& v : bias) v = static_cast<float>(rnd(-1000, 1000)) * 0.013f;
  aclTensor* t1 = mk({B, m, k}, ACL_INT8, upload(x1.data(), x1.size()));
  aclTensor* t2 = mk({k, n}, ACL_INT8, upload(w.data(), w.size()), {1, k}, {n * k});
  aclTensor* tsc = mk({n}, ACL_FLOAT, upload(sc.data(), n * 4));
  aclTensor* tpt = mk({m}, ACL_FLOAT, upload(pt.data(), m * 4));
  aclTensor* tb = mk({n}, ACL_FLOAT, upload(bias.data(), n * 4));
  void* dout = upload(nullptr, B * m * n * 2);
  aclTensor* tout = mk({B, m, n}, ACL_BF16, dout);
  uint64_t ws = 0;
  aclOpExecutor* ex = nullptr;
  CHECK_EQ(aclnnQuantMatmulV5GetWorkspaceSize(t1, t2, tpt, tsc, nullptr, nullptr, nullptr, nullptr, tb, false, false,
                                              0, tout, &ws, &ex), 0);
  CHECK_EQ(run(aclnnQuantMatmulV5, ws, ex), 0);
  std::vector<uint16_t> got = download<uint16_t>(dout, B * m * n);
  int bad = 0;
  for (int bb = 0; bb < B; ++bb)
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        int32_t acc = 0;
        for (int kk = 0; kk < k; ++kk) acc += x1[(bb * m + i) * k + kk] * w[j * k + kk];
        float r = static_cast<float>(acc) * sc[j];
        r = r * pt[i];
        r = r + bias[j];
        uint16_t want = ref_bf16(r);
        if (got[(bb * m + i) * n + j] != want) {
          if (bad++ < 3)
            fprintf(stderr, "bf16 mismatch b%d i%d j%d: got %g want %g\n", bb, i, j, bf16f(got[(bb * m + i) * n + j]),
                    bf16f(want));
        }
      }
  CHECK_EQ(bad, 0);
  // pertoken with int8 out is rejected
  aclTensor* tout8 = mk({B, m, n}, ACL_INT8, upload(nullptr, B * m * n));
  CHECK_EQ(aclnnQuantMatmulV5GetWorkspaceSize(t1, t2, tpt, tsc, nullptr, nullptr, nullptr, nullptr, nullptr, false,
                                              false, 0, tout8, &ws, &ex), 161002);
  cleanup();
}

static void test_qmm_flags() {
  // x1 stored (k, m) with transposeX1=true, x2 stored (n, k) with transposeX2=true,
  // bf16 scale, int32 bias, bf16 out (vector path, no pertoken); then int32 out.
  const int m = 4, k = 19, n = 6;
  std::vector<int8_t> x1T(k * m), x2T(n * k);
  for (auto& v : x1T) v = static_cast<int8_t>(rnd(-128, 127));
  for (auto& v : x2T) v = static_cast<int8_t>(rnd(-128, 127));
  std::vector<uint16_t> sc(n);
  for (auto& v : sc) v = static_cast<uint16_t>(fbits(static_cast<float>(rnd(1, 999)) * 1e-3f) >> 16);
  std::vector<int32_t> bias(n);
  for (auto& v : bias) v = rnd(-3000, 3000);
  aclTensor* t1 = mk({k, m}, ACL_INT8, upload(x1T.data(), x1T.size()));
  aclTensor* t2 = mk({n, k}, ACL_INT8, upload(x2T.data(), x2T.size()));
  aclTensor* tsc = mk({n}, ACL_BF16, upload(sc.data(), n * 2));
  aclTensor* tb = mk({n}, ACL_INT32, upload(bias.data(), n * 4));
  void* dout = upload(nullptr, m * n * 4);
  aclTensor* tout = mk({m, n}, ACL_BF16, dout);
  aclTensor* tout32 = mk({m, n}, ACL_INT32, dout);
  uint64_t ws = 0;
  aclOpExecutor* ex = nullptr;
  CHECK_EQ(aclnnQuantMatmulV4GetWorkspaceSize(t1, t2, tsc, nullptr, nullptr, tb, true, true, tout, &ws, &ex), 0);
  CHECK_EQ(run(aclnnQuantMatmulV4, ws, ex), 0);
  std::vector<uint16_t> got = download<uint16_t>(dout, m * n);
  std::vector<int32_t> acc(m * n);
  int bad = 0;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      int32_t a = 0;
      for (int kk = 0; kk < k; ++kk) a += x1T[kk * m + i] * x2T[j * k + kk];
      acc[i * n + j] = a + bias[j];
      if (got[i * n + j] != ref_bf16(static_cast<float>(acc[i * n + j]) * bf16f(sc[j]))) bad++;
    }
  CHECK_EQ(bad, 0);
  CHECK_EQ(aclnnQuantMatmulV4GetWorkspaceSize(t1, t2, tsc, nullptr, nullptr, tb, true, true, tout32, &ws, &ex), 0);
  CHECK_EQ(run(aclnnQuantMatmulV4, ws, ex), 0);
  CHECK(download<int32_t>(dout, m * n) == acc);
  // a bf16 scale with fp16 out is rejected with the upstream message
  aclTensor* tout16 = mk({m, n}, ACL_FLOAT16, dout);
  CHECK_EQ(aclnnQuantMatmulV4GetWorkspaceSize(t1, t2, tsc, nullptr, nullptr, tb, true, true, tout16, &ws, &ex), 161002);
  CHECK(recent().find("When scale dtype is BFLOAT16, out dtype should be BFLOAT16 or INT32") != std::string::npos);
  cleanup();
}

static void test_qmm_int4() {
  // A4W4: x1 (m, k/8) int32, x2 a transposed view of contiguous (n, k/8) int32.
  const int m = 3, k = 32, n = 5;
  std::vector<int> a(m * k), bT(n * k);
  for (auto& v : a) v = rnd(-8, 7);
  for (auto& v : bT) v = rnd(-8, 7);
  auto pack = [](const std::vector<int>& v, int rows, int cols) {
    std::vector<int32_t> p(rows * cols / 8, 0);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c)
        p[(r * cols + c) / 8] |= static_cast<int32_t>((static_cast<uint32_t>(v[r * cols + c]) & 0xF) << (4 * (c % 8)));
    return p;
  };
  std::vector<int32_t> pa = pack(a, m, k), pb = pack(bT, n, k);
  aclTensor* t1 = mk({m, k / 8}, ACL_INT32, upload(pa.data(), pa.size() * 4));
  aclTensor* t2 = mk({k / 8, n}, ACL_INT32, upload(pb.data(), pb.size() * 4), {1, k / 8}, {n * k / 8});
  std::vector<uint64_t> sc(1, (1ull << 46) | fbits(0.5f));
  aclTensor* tsc = mk({1}, ACL_INT64, upload(sc.data(), 8));
  void* dout = upload(nullptr, m * n * 2);
  aclTensor* tout = mk({m, n}, ACL_FLOAT16, dout);
  uint64_t ws = 0;
  aclOpExecutor* ex = nullptr;
  CHECK_EQ(aclnnQuantMatmulV4GetWorkspaceSize(t1, t2, tsc, nullptr, nullptr, nullptr, false, false, tout, &ws, &ex), 0);
  CHECK_EQ(run(aclnnQuantMatmulV4, ws, ex), 0);
  std::vector<uint16_t> got = download<uint16_t>(dout, m * n);
  int bad = 0;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      int acc = 0;
      for (int kk = 0; kk < k; ++kk) acc += a[i * k + kk] * bT[j * k + kk];
      if (got[i * n + j] != ref_f16(static_cast<float>(acc) * 0.5f, true)) bad++;
    }
  CHECK_EQ(bad, 0);
  cleanup();
}

static void test_nz() {
  const int m = 4, k = 40, n = 50;  // int8: C0 = 32
  std::vector<int8_t> x1(m * k), x2(k * n);
  for (auto& v : x1) v = static_cast<int8_t>(rnd(-128, 127));
  for (auto& v : x2) v = static_cast<int8_t>(rnd(-128, 127));
  void* dx2 = upload(x2.data(), x2.size());
  aclTensor* tnd = mk({k, n}, ACL_INT8, dx2);
  int64_t* shape = nullptr;
  uint64_t ns = 0;
  int fmt = -1;
  CHECK_EQ(aclnnNpuFormatCastCalculateSizeAndFormat(tnd, 29, -1, &shape, &ns, &fmt), 0);
  CHECK_EQ(ns, 4);
  std::vector<int64_t> nzShape(shape, shape + ns);
  delete[] shape;
  CHECK(nzShape == (std::vector<int64_t>{2, 3, 16, 32}));
  CHECK_EQ(fmt, 29);
  size_t nzBytes = 2 * 3 * 16 * 32;
  void* dnz = upload(nullptr, nzBytes);
  aclTensor* tnz = mk({k, n}, ACL_INT8, dnz, {}, nzShape, ACL_FORMAT_FRACTAL_NZ);
  uint64_t ws = 0;
  aclOpExecutor* ex = nullptr;
  CHECK_EQ(aclnnNpuFormatCastGetWorkspaceSize(tnd, tnz, &ws, &ex), 0);
  CHECK_EQ(run(aclnnNpuFormatCast, ws, ex), 0);
  std::vector<int8_t> nz = download<int8_t>(dnz, nzBytes);
  int bad = 0;
  for (int c1 = 0; c1 < 2; ++c1)
    for (int r1 = 0; r1 < 3; ++r1)
      for (int r0 = 0; r0 < 16; ++r0)
        for (int c0 = 0; c0 < 32; ++c0) {
          int r = r1 * 16 + r0, c = c1 * 32 + c0;
          int8_t want = (r < k && c < n) ? x2[r * n + c] : 0;
          if (nz[((c1 * 3 + r1) * 16 + r0) * 32 + c0] != want) bad++;
        }
  CHECK_EQ(bad, 0);
  // back to ND
  void* dback = upload(nullptr, k * n);
  aclTensor* tback = mk({k, n}, ACL_INT8, dback);
  CHECK_EQ(aclnnNpuFormatCastGetWorkspaceSize(tnz, tback, &ws, &ex), 0);
  CHECK_EQ(run(aclnnNpuFormatCast, ws, ex), 0);
  CHECK(download<int8_t>(dback, k * n) == x2);
  // WeightNz matmul equals the ND V5 result
  std::vector<uint64_t> sc(1, (1ull << 46) | fbits(0.003f));
  aclTensor* t1 = mk({m, k}, ACL_INT8, upload(x1.data(), x1.size()));
  aclTensor* tsc = mk({1}, ACL_INT64, upload(sc.data(), 8));
  void* o1 = upload(nullptr, m * n * 2);
  void* o2 = upload(nullptr, m * n * 2);
  aclTensor* to1 = mk({m, n}, ACL_FLOAT16, o1);
  aclTensor* to2 = mk({m, n}, ACL_FLOAT16, o2);
  CHECK_EQ(aclnnQuantMatmulV5GetWorkspaceSize(t1, tnd, nullptr, tsc, nullptr, nullptr, nullptr, nullptr, nullptr,
                                              false, false, 0, to1, &ws, &ex), 0);
  CHECK_EQ(run(aclnnQuantMatmulV5, ws, ex), 0);
  CHECK_EQ(aclnnQuantMatmulWeightNzGetWorkspaceSize(t1, tnz, nullptr, tsc, nullptr, nullptr, nullptr, nullptr, nullptr,
                                                    false, false, 0, to2, &ws, &ex), 0);
  CHECK_EQ(run(aclnnQuantMatmulWeightNz, ws, ex), 0);
  CHECK(download<uint16_t>(o1, m * n) == download<uint16_t>(o2, m * n));
  // transposed weight: w (n, k) contiguous -> NZ of (n, k), passed as a (k, n) view with strides (1, k)
  std::vector<int8_t> wT(n * k);
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < k; ++c) wT[r * k + c] = x2[c * n + r];
  aclTensor* twT = mk({n, k}, ACL_INT8, upload(wT.data(), wT.size()));
  CHECK_EQ(aclnnNpuFormatCastCalculateSizeAndFormat(twT, 29, -1, &shape, &ns, &fmt), 0);
  std::vector<int64_t> nzShapeT(shape, shape + ns);
  delete[] shape;
  CHECK(nzShapeT == (std::vector<int64_t>{2, 4, 16, 32}));  // (ceil(k/32), ceil(n/16), 16, 32)
  void* dnzT = upload(nullptr, 2 * 4 * 16 * 32);
  aclTensor* tnzT = mk({n, k}, ACL_INT8, dnzT, {}, nzShapeT, ACL_FORMAT_FRACTAL_NZ);
  CHECK_EQ(aclnnNpuFormatCastGetWorkspaceSize(twT, tnzT, &ws, &ex), 0);
  CHECK_EQ(run(aclnnNpuFormatCast, ws, ex), 0);
  aclTensor* tnzTv = mk({k, n}, ACL_INT8, dnzT, {1, k}, nzShapeT, ACL_FORMAT_FRACTAL_NZ);
  void* o3 = upload(nullptr, m * n * 2);
  aclTensor* to3 = mk({m, n}, ACL_FLOAT16, o3);
  CHECK_EQ(aclnnQuantMatmulWeightNzGetWorkspaceSize(t1, tnzTv, nullptr, tsc, nullptr, nullptr, nullptr, nullptr,
                                                    nullptr, false, false, 0, to3, &ws, &ex), 0);
  CHECK_EQ(run(aclnnQuantMatmulWeightNz, ws, ex), 0);
  CHECK(download<uint16_t>(o1, m * n) == download<uint16_t>(o3, m * n));
  // WeightNz rejects an ND x2; a wrong NZ element count is rejected
  CHECK_EQ(aclnnQuantMatmulWeightNzGetWorkspaceSize(t1, tnd, nullptr, tsc, nullptr, nullptr, nullptr, nullptr,
                                                    nullptr, false, false, 0, to2, &ws, &ex), 161002);
  CHECK(recent().find("x2'format only support NZ") != std::string::npos);
  aclTensor* tnzBad = mk({k, n}, ACL_INT8, upload(nullptr, 4096), {}, {2, 4, 16, 32}, ACL_FORMAT_FRACTAL_NZ);
  CHECK(tnzBad != nullptr);
  CHECK_EQ(aclnnQuantMatmulWeightNzGetWorkspaceSize(t1, tnzBad, nullptr, tsc, nullptr, nullptr, nullptr, nullptr,
                                                    nullptr, false, false, 0, to2, &ws, &ex), 161002);
  CHECK(recent().find("does not match the NZ shape") != std::string::npos);
  CHECK_EQ(stats().liveExecutors, 0);
  cleanup();
}

static void test_faults() {
  mock_cann_set_fault("aclrtMalloc", 2);
  void* p1 = nullptr;
  void* p2 = nullptr;
  CHECK_EQ(aclrtMalloc(&p1, 8, ACL_MEM_MALLOC_HUGE_FIRST), 0);
  CHECK_EQ(aclrtMalloc(&p2, 8, ACL_MEM_MALLOC_HUGE_FIRST), 507899);
  CHECK(recent() == "mock fault injected in aclrtMalloc");
  CHECK_EQ(aclrtMalloc(&p2, 8, ACL_MEM_MALLOC_HUGE_FIRST), 0);
  aclrtFree(p1);
  aclrtFree(p2);
  mock_cann_set_fault("aclCreateTensor", 1);
  int64_t d1 = 1;
  CHECK(aclCreateTensor(&d1, 1, ACL_FLOAT, &d1, 0, ACL_FORMAT_ND, &d1, 1, nullptr) == nullptr);
  mock_cann_set_fault("aclnnQuantMatmulV5GetWorkspaceSize", 1);
  uint64_t ws;
  aclOpExecutor* ex;
  CHECK_EQ(aclnnQuantMatmulV5GetWorkspaceSize(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                                              nullptr, false, false, 0, nullptr, &ws, &ex), 561103);
  mock_cann_set_fault("aclrtFree", 1);
  mock_cann_clear_faults();
  CHECK_EQ(aclrtMalloc(&p1, 8, ACL_MEM_MALLOC_HUGE_FIRST), 0);
  CHECK_EQ(aclrtFree(p1), 0);
}

// An ND (rows, cols) int8 tensor and its FRACTAL_NZ destination (C0 = 32).
struct CastPair {
  aclTensor* nd;
  aclTensor* nz;
  void* nzMem;
};
static CastPair cast_pair(int64_t rows, int64_t cols) {
  std::vector<int8_t> x(static_cast<size_t>(rows * cols), 7);
  void* dx = x.empty() ? nullptr : upload(x.data(), x.size());
  std::vector<int64_t> nzShape{(cols + 31) / 32, (rows + 15) / 16, 16, 32};
  size_t nzBytes = static_cast<size_t>(nzShape[0] * nzShape[1] * 16 * 32);
  void* dnz = nzBytes ? upload(nullptr, nzBytes) : nullptr;
  return {mk({rows, cols}, ACL_INT8, dx, {}, x.empty() ? std::vector<int64_t>{1} : std::vector<int64_t>{}),
          mk({rows, cols}, ACL_INT8, dnz, {}, nzShape, ACL_FORMAT_FRACTAL_NZ), dnz};
}

// aclnnNpuFormatCast's chip and input rules (the default SoC is an Ascend910B1).
static void test_cast_rules() {
  CHECK(std::string(aclrtGetSocName()) == "Ascend910B1");
  uint64_t ws = 0;
  aclOpExecutor* ex = nullptr;
  int64_t* shape = nullptr;
  uint64_t ns = 0;
  int fmt = -1;
  // an empty source: the aclop path's business before Ascend 950
  CastPair e = cast_pair(0, 64);
  CHECK(e.nd != nullptr && e.nz != nullptr);
  CHECK_EQ(aclnnNpuFormatCastCalculateSizeAndFormat(e.nd, 29, -1, &shape, &ns, &fmt), 361001);
  CHECK(recent().find("empty tensor") != std::string::npos);
  CHECK_EQ(aclnnNpuFormatCastGetWorkspaceSize(e.nd, e.nz, &ws, &ex), 161002);
  // both sides must be contiguous: a transposed FRACTAL_NZ view back to ND
  CastPair c = cast_pair(40, 48);
  std::vector<int64_t> nzShape{2, 3, 16, 32};
  aclTensor* nzT = mk({48, 40}, ACL_INT8, c.nzMem, {1, 48}, nzShape, ACL_FORMAT_FRACTAL_NZ);
  aclTensor* ndOut = mk({48, 40}, ACL_INT8, upload(nullptr, 48 * 40));
  CHECK_EQ(aclnnNpuFormatCastGetWorkspaceSize(nzT, ndOut, &ws, &ex), 161002);
  CHECK(recent().find("srcTensor must be contiguous") != std::string::npos);
  aclTensor* ndT = mk({40, 48}, ACL_INT8, upload(nullptr, 48 * 40), {1, 40});
  CHECK_EQ(aclnnNpuFormatCastGetWorkspaceSize(c.nz, ndT, &ws, &ex), 161002);
  CHECK(recent().find("dstTensor must be contiguous") != std::string::npos);
  CHECK_EQ(stats().liveExecutors, 0);
  CHECK_EQ(stats().violations, 0);
  cleanup();
}

// After a failed aclrtSynchronizeStream the stream's work never finishes: only
// aclrtDestroyStreamForce releases it; aclrtDestroyStream is a violation.
static void test_failed_stream() {
  for (bool force : {true, false}) {
    aclrtStream s = nullptr;
    CHECK_EQ(aclrtCreateStream(&s), 0);
    CastPair c = cast_pair(20, 30);
    uint64_t ws = 0;
    aclOpExecutor* ex = nullptr;
    CHECK_EQ(aclnnNpuFormatCastGetWorkspaceSize(c.nd, c.nz, &ws, &ex), 0);
    CHECK_EQ(aclnnNpuFormatCast(nullptr, 0, ex, s), 0);
    mock_cann_set_fault("aclrtSynchronizeStream", 1);
    CHECK_EQ(aclrtSynchronizeStream(s), 507899);
    CHECK_EQ(aclrtSynchronizeStream(s), 507899);  // the error state stays
    CHECK(recent().find("aclrtDestroyStreamForce") != std::string::npos);
    CHECK_EQ(force ? aclrtDestroyStreamForce(s) : aclrtDestroyStream(s), force ? 0 : 107003);
    CHECK_EQ(stats().violations, force ? 0 : 1);
    if (!force) CHECK(std::string(mock_cann_last_violation()).find("aclrtDestroyStreamForce") != std::string::npos);
    mock_cann_reset_violations();
    cleanup();  // the dropped work no longer holds the buffers
    CHECK_EQ(stats().violations, 0);
  }
}

// "<op>@partial": the launch fails with work already queued on the stream, so
// the op's buffers stay in use until the stream is synchronized.
static void test_partial_launch() {
  CastPair c = cast_pair(20, 30);
  uint64_t ws = 0;
  aclOpExecutor* ex = nullptr;
  CHECK_EQ(aclnnNpuFormatCastGetWorkspaceSize(c.nd, c.nz, &ws, &ex), 0);
  mock_cann_set_fault("aclnnNpuFormatCast@partial", 1);
  CHECK_EQ(aclnnNpuFormatCast(nullptr, 0, ex, g_stream), 561103);
  CHECK(recent().find("mock fault injected in aclnnNpuFormatCast@partial") != std::string::npos);
  CHECK_EQ(stats().liveExecutors, 0);  // consumed, as by any launch
  CHECK_EQ(aclrtFree(c.nzMem), 107003);
  CHECK_EQ(stats().violations, 1);
  mock_cann_reset_violations();
  CHECK_EQ(aclrtSynchronizeStream(g_stream), 0);
  cleanup();
  CHECK_EQ(stats().violations, 0);
}

// An executor that is never launched is released with aclDestroyAclOpExecutor.
static void test_destroy_executor() {
  CastPair c = cast_pair(20, 30);
  uint64_t ws = 0;
  aclOpExecutor* ex = nullptr;
  CHECK_EQ(aclnnNpuFormatCastGetWorkspaceSize(c.nd, c.nz, &ws, &ex), 0);
  CHECK_EQ(stats().liveExecutors, 1);
  CHECK_EQ(aclDestroyAclOpExecutor(ex), 0);
  CHECK_EQ(stats().liveExecutors, 0);
  CHECK_EQ(aclDestroyAclOpExecutor(nullptr), 561103);
  CHECK_EQ(aclDestroyAclOpExecutor(ex), 161002);     // double destroy
  CHECK_EQ(aclnnNpuFormatCast(nullptr, 0, ex, g_stream), 161002);  // launch after destroy
  CHECK_EQ(stats().violations, 2);
  mock_cann_reset_violations();
  cleanup();
}

static void test_variants() {
  const std::string root = MOCKCANN_ROOT;
  auto has = [&](const std::string& lib, const char* sym) {
    void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) return -1;
    int r = dlsym(h, sym) != nullptr;
    return r;  // handles stay open: unloading copies of the mock is not needed here
  };
  CHECK_EQ(has(root + "/full/lib64/libopapi.so", "aclnnQuantMatmulV5"), 1);
  CHECK_EQ(has(root + "/full/lib64/libascendcl.so", "mock_cann_get_stats"), 1);
  CHECK_EQ(has(root + "/v4only/lib64/libopapi.so", "aclnnQuantMatmulV5GetWorkspaceSize"), 0);
  CHECK_EQ(has(root + "/v4only/lib64/libopapi.so", "aclnnTransQuantParamV3"), 0);
  CHECK_EQ(has(root + "/v4only/lib64/libopapi.so", "aclnnQuantMatmulV4"), 1);
  CHECK_EQ(has(root + "/v4only/lib64/libopapi.so", "aclnnTransQuantParamV2"), 1);
  CHECK_EQ(has(root + "/v4only/lib64/libopapi.so", "aclnnAscendQuantV3GetWorkspaceSize"), 0);
  CHECK_EQ(has(root + "/v4only/lib64/libopapi.so", "aclnnDynamicQuant"), 0);
  CHECK_EQ(has(root + "/full/lib64/libopapi.so", "aclnnDynamicQuantGetWorkspaceSize"), 1);
  CHECK_EQ(has(root + "/split/lib64/libopapi_nn.so", "aclnnAscendQuantV3"), 1);
  CHECK_EQ(has(root + "/split/lib64/libopapi.so", "aclnnQuantMatmulV5"), -1);
  CHECK_EQ(has(root + "/split/lib64/libopapi_nn.so", "aclnnQuantMatmulV5"), 1);
  CHECK_EQ(has(root + "/split/lib64/libopapi_nn.so", "aclnnNpuFormatCast"), 0);
  CHECK_EQ(has(root + "/split/lib64/libopapi_math.so", "aclnnNpuFormatCast"), 1);
  CHECK_EQ(has(root + "/broken/lib64/libascendcl.so", "aclrtMemcpy"), 0);
  CHECK_EQ(has(root + "/broken/lib64/libascendcl.so", "aclrtMalloc"), 1);
  CHECK_EQ(has(root + "/full/lib64/libascendcl.so", "aclrtDestroyStreamForce"), 1);
  CHECK_EQ(has(root + "/full/lib64/libascendcl.so", "aclrtGetSocName"), 1);
  CHECK_EQ(has(root + "/full/lib64/libnnopbase.so", "aclDestroyAclOpExecutor"), 1);
  FILE* f = fopen((root + "/split/version.cfg").c_str(), "r");
  CHECK(f != nullptr);
  if (f) {
    char buf[256] = {0};
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    CHECK(got > 0 && strstr(buf, "version=8.2.RC1.mock") != nullptr);
  }
}

int main() {
  test_lifecycle();
  test_memory();
  test_tensor_checks();
  test_trans_quant_param();
  test_quantize();
  test_qmm_fp16_int64();
  test_qmm_bf16_pertoken();
  test_qmm_flags();
  test_qmm_int4();
  test_nz();
  test_cast_rules();
  test_failed_stream();
  test_partial_launch();
  test_destroy_executor();
  test_faults();
  CHECK_EQ(aclrtDestroyStream(g_stream), 0);
  CHECK_EQ(aclrtResetDevice(0), 0);
  MockCannStats s = stats();
  CHECK_EQ(s.liveDeviceAllocs, 0);
  CHECK_EQ(s.liveDeviceBytes, 0);
  CHECK_EQ(s.liveHostAllocs, 0);
  CHECK_EQ(s.liveTensors, 0);
  CHECK_EQ(s.liveIntArrays, 0);
  CHECK_EQ(s.liveExecutors, 0);
  CHECK_EQ(s.liveStreams, 0);
  CHECK_EQ(s.deviceRefs, 0);
  CHECK_EQ(s.violations, 0);
  if (s.violations) fprintf(stderr, "last violation: %s\n", mock_cann_last_violation());
  CHECK_EQ(aclrtResetDevice(0), 107001);  // unbalanced
  CHECK_EQ(stats().violations, 1);
  mock_cann_reset_violations();
  CHECK_EQ(aclFinalize(), 0);
  CHECK_EQ(stats().initialized, 0);
  CHECK_EQ(aclrtSetDevice(0), 100000);
  // env faults are read at aclInit
  setenv("MOCK_CANN_FAULT", "aclrtGetDeviceCount:1", 1);
  CHECK_EQ(aclInit(nullptr), 0);
  uint32_t cnt;
  CHECK_EQ(aclrtGetDeviceCount(&cnt), 507899);
  CHECK_EQ(aclrtGetDeviceCount(&cnt), 0);
  CHECK_EQ(aclFinalize(), 0);
  CHECK(aclrtGetSocName() == nullptr);
  // other chips: MOCK_CANN_SOC, read at aclInit
  unsetenv("MOCK_CANN_FAULT");
  const int64_t empty[2] = {0, 32}, strides[2] = {32, 1}, none[1] = {1};
  for (const char* soc : {"Ascend310P3", "Ascend910B", "Ascend910_9391", "Ascend950PR_9599"}) {
    setenv("MOCK_CANN_SOC", soc, 1);
    CHECK_EQ(aclInit(nullptr), 0);
    CHECK(std::string(aclrtGetSocName()) == soc);
    const bool supported = std::string(soc) != "Ascend310P3" && std::string(soc) != "Ascend910B";  // plain 910B: the first 910
    aclTensor* te = aclCreateTensor(empty, 2, ACL_INT8, strides, 0, ACL_FORMAT_ND, none, 1, nullptr);
    CHECK(te != nullptr);
    int64_t* shape = nullptr;
    uint64_t ns = 0;
    int fmt = -1;
    int rc = aclnnNpuFormatCastCalculateSizeAndFormat(te, 29, -1, &shape, &ns, &fmt);
    const bool is950 = std::string(soc).rfind("Ascend950", 0) == 0;
    CHECK_EQ(rc, !supported ? 161002 : is950 ? 0 : 361001);
    if (rc == 0) {
      CHECK(std::vector<int64_t>(shape, shape + ns) == (std::vector<int64_t>{1, 0, 16, 32}));
      delete[] shape;
    }
    CHECK_EQ(aclDestroyTensor(te), 0);
    CHECK_EQ(aclFinalize(), 0);
  }
  unsetenv("MOCK_CANN_SOC");
  mock_cann_reset_violations();
  test_variants();
  printf("mock-cann selftest: %d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}
