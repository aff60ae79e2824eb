// Bench-only peer: oneDNN's int8 matmul (s8 x s8 -> s32, weights prepacked
// once, as a constant weight is in an inference server), timed the way
// `qmm bench` times ours. Built by the bench only when Debian's libdnnl-dev is
// installed; never part of the package.
//
//   onednn-bench <x1 dims,comma> <x2 dims,comma> <budget ms> <max reps>
// prints one JSON line: {"ms": median, "reps": n, "version": "..."}
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

using namespace dnnl;

static memory::dims parseDims(const char* s) {
  memory::dims d;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) d.push_back(std::stoll(part));
  return d;
}

// Both operands to the same rank; missing batch dims are 1 (numpy broadcast).
static void padRank(memory::dims& a, size_t rank) {
  while (a.size() < rank) a.insert(a.begin(), 1);
}

static memory::format_tag plainTag(size_t rank) {
  switch (rank) {
    case 2: return memory::format_tag::ab;
    case 3: return memory::format_tag::abc;
    case 4: return memory::format_tag::abcd;
    default: return memory::format_tag::abcde;
  }
}

static double nowMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: onednn-bench x1dims x2dims budgetMs maxReps\n");
    return 2;
  }
  memory::dims a = parseDims(argv[1]), b = parseDims(argv[2]);
  const double budgetMs = std::atof(argv[3]);
  const int maxReps = std::atoi(argv[4]);
  const size_t rank = std::max(a.size(), b.size());
  padRank(a, rank);
  padRank(b, rank);
  memory::dims c(rank);
  for (size_t i = 0; i + 2 < rank; ++i) c[i] = std::max(a[i], b[i]);
  c[rank - 2] = a[rank - 2];
  c[rank - 1] = b[rank - 1];

  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const auto tag = plainTag(rank);
  memory::desc aMd(a, memory::data_type::s8, tag);
  memory::desc bAny(b, memory::data_type::s8, memory::format_tag::any);
  memory::desc bPlain(b, memory::data_type::s8, tag);
  memory::desc cMd(c, memory::data_type::s32, tag);
  matmul::primitive_desc pd(matmul::desc(aMd, bAny, cMd), eng);
  matmul prim(pd);

  auto fill = [](memory& m, uint32_t seed) {
    auto* p = static_cast<int8_t*>(m.get_data_handle());
    const size_t n = m.get_desc().get_size();
    uint32_t x = seed;
    for (size_t i = 0; i < n; ++i) {
      x ^= x << 13; x ^= x >> 17; x ^= x << 5;
      p[i] = static_cast<int8_t>(x & 0xff);
    }
  };
  memory aMem(aMd, eng), bSrc(bPlain, eng), cMem(cMd, eng);
  fill(aMem, 3);
  fill(bSrc, 7);
  memory bMem(pd.weights_desc(), eng);
  reorder(bSrc, bMem).execute(strm, bSrc, bMem);  // prepack once
  strm.wait();

  auto run = [&] {
    prim.execute(strm, {{DNNL_ARG_SRC, aMem}, {DNNL_ARG_WEIGHTS, bMem}, {DNNL_ARG_DST, cMem}});
    strm.wait();
  };
  run();  // warm-up
  std::vector<double> t;
  const double start = nowMs();
  while ((int)t.size() < maxReps && (t.size() < 5 || nowMs() - start < budgetMs)) {
    const double t0 = nowMs();
    run();
    t.push_back(nowMs() - t0);
  }
  std::sort(t.begin(), t.end());
  const size_t h = t.size() / 2;
  const double med = t.size() % 2 ? t[h] : (t[h - 1] + t[h]) / 2;
  const dnnl_version_t* v = dnnl_version();
  std::printf("{\"ms\": %.6f, \"reps\": %zu, \"version\": \"%d.%d.%d\"}\n", med, t.size(), v->major, v->minor, v->patch);
  return 0;
}
