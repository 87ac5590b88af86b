#include "cpu/peak/peak.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/cpu_features.h"

#define FASTDL_DECLARE_PEAK(ns) \
  namespace fastdl::cpu::ns {   \
  float fma_burst(int64_t iters, double* flops); \
  }
FASTDL_DECLARE_PEAK(avx512)
FASTDL_DECLARE_PEAK(avx2)
FASTDL_DECLARE_PEAK(scalar)

namespace fastdl::cpu {
namespace {

using BurstFn = float (*)(int64_t, double*);

BurstFn burst_for(Isa isa) {
  switch (isa) {
#ifdef FASTDL_HAVE_ISA_avx512
    case Isa::avx512: return avx512::fma_burst;
#endif
#ifdef FASTDL_HAVE_ISA_avx2
    case Isa::avx2: return avx2::fma_burst;
#endif
    default: return scalar::fma_burst;
  }
}

double now() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

Isa resolve(const char* isa) {
  if (!isa || !*isa) return active_isa();
  for (Isa a : available_isas())
    if (std::string(isa_name(a)) == isa) return a;
  throw std::invalid_argument(std::string("SIMD path '") + isa + "' is not available here");
}

}  // namespace

double measure_peak_gflops(const char* isa, int threads, double seconds) {
  BurstFn burst = burst_for(resolve(isa));
  threads = std::max(threads, 1);
  // Best of several short bursts: the peak is a max, not a median (interference only slows).
  double best = 0.0;
  const double deadline = now() + seconds;
  int64_t iters = 1 << 16;
  volatile float sink = 0.f;
  do {
    double flops_total = 0.0;
    const double t0 = now();
#pragma omp parallel num_threads(threads) reduction(+ : flops_total)
    {
      double f = 0.0;
      sink = burst(iters, &f);
      flops_total += f;
    }
    const double dt = now() - t0;
    if (dt < 0.02) iters *= 2;
    best = std::max(best, flops_total / dt * 1e-9);
  } while (now() < deadline);
  return best;
}

double measure_read_bandwidth_gbs(int threads, double seconds) {
  threads = std::max(threads, 1);
  const size_t n = size_t(64) << 20;  // 256 MiB of floats
  std::vector<float> buf(n);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < int64_t(n); ++i) buf[i] = float(i & 1023);
  double best = 0.0;
  const double deadline = now() + seconds;
  volatile float sink = 0.f;
  do {
    float total = 0.f;
    const double t0 = now();
#pragma omp parallel for simd num_threads(threads) schedule(static) reduction(+ : total)
    for (int64_t i = 0; i < int64_t(n); ++i) total += buf[i];
    const double dt = now() - t0;
    sink = total;
    best = std::max(best, double(n) * sizeof(float) / dt * 1e-9);
  } while (now() < deadline);
  return best;
}

}  // namespace fastdl::cpu
