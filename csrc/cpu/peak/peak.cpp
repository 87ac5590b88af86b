#include "cpu/peak/peak.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/cpu_features.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define FASTDL_DECLARE_PEAK(ns)                               \
  namespace fastdl::cpu::ns {                                 \
  float fma_burst(int64_t iters, double* flops);              \
  float fma_burst_f64(int64_t iters, double* flops);          \
  float read_sum(const float* data, int64_t n);               \
  float microkernel_burst(int64_t sweeps, double* flops);     \
  float microkernel_burst_f64(int64_t sweeps, double* flops); \
  }
FASTDL_DECLARE_PEAK(avx512)
FASTDL_DECLARE_PEAK(avx2)
FASTDL_DECLARE_PEAK(scalar)

namespace fastdl::cpu {
namespace {

using BurstFn = float (*)(int64_t, double*);
using ReadFn = float (*)(const float*, int64_t);

// One ISA's copies of the measurement loops.
struct PeakKernels {
  BurstFn fma, fma_f64;                  // register-only FMA bursts (fp32, fp64)
  BurstFn microkernel, microkernel_f64;  // the GEMM micro-kernel over L1/L2-resident operands
  ReadFn read;                           // a streaming sum over memory
};

#define FASTDL_PEAK_KERNELS(ns)                                                         \
  PeakKernels {                                                                         \
    ns::fma_burst, ns::fma_burst_f64, ns::microkernel_burst, ns::microkernel_burst_f64, \
        ns::read_sum                                                                    \
  }

PeakKernels kernels_for(Isa isa) {
  switch (isa) {
#ifdef FASTDL_HAVE_ISA_avx512
    case Isa::avx512: return FASTDL_PEAK_KERNELS(avx512);
#endif
#ifdef FASTDL_HAVE_ISA_avx2
    case Isa::avx2: return FASTDL_PEAK_KERNELS(avx2);
#endif
    default: return FASTDL_PEAK_KERNELS(scalar);
  }
}
#undef FASTDL_PEAK_KERNELS

// True for "float64", false for "float32" (the element types the GEMM kernels come in).
bool is_float64(const char* dtype) {
  const std::string name = dtype ? dtype : "";
  if (name == "float64") return true;
  if (name == "float32" || name.empty()) return false;
  throw std::invalid_argument("dtype must be 'float32' or 'float64', got '" + name + "'");
}

#ifdef _OPENMP
int omp_thread_index() { return omp_get_thread_num(); }
int omp_thread_count() { return omp_get_num_threads(); }
#else
int omp_thread_index() { return 0; }
int omp_thread_count() { return 1; }
#endif

double now() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

// CPU time of the calling thread: unlike wall time, it does not run while the thread waits for
// a core.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

Isa resolve(const char* isa) {
  if (!isa || !*isa) return active_isa();
  for (Isa a : available_isas())
    if (std::string(isa_name(a)) == isa) return a;
  throw std::invalid_argument(std::string("SIMD path '") + isa + "' is not available here");
}

// Median rate of `burst` run on `threads` threads at once, after a warm-up: the first ~60 ms of
// wide-vector work run at a higher clock than the core sustains, and a kernel lasting longer
// than that sees the sustained one.
double median_burst_gflops(BurstFn burst, int threads, double seconds) {
  threads = std::max(threads, 1);
  std::vector<double> rates;
  volatile float sink = 0.f;
  // Bursts are sized on this thread's CPU clock, alone: sized by the team's wall time, one
  // thread preempted by another process stretched a burst of a few FMAs past the 10 ms mark and
  // froze the size there, and the "peak" read 0.1 GFLOP/s on 2 busy vCPUs.
  int64_t iters = 1;
  for (;;) {
    double f = 0.0;
    const double c0 = thread_cpu_seconds();
    sink = burst(iters, &f);
    if (thread_cpu_seconds() - c0 >= 0.01) break;
    iters *= 2;
  }
  const double warm_until = now() + 0.2, deadline = warm_until + seconds;
  for (double t = now(); t < deadline; t = now()) {
    double flops_total = 0.0;
    const double t0 = now();
#pragma omp parallel num_threads(threads) reduction(+ : flops_total)
    {
      double f = 0.0;
      sink = burst(iters, &f);
      flops_total += f;
    }
    const double dt = now() - t0;
    if (t >= warm_until) rates.push_back(flops_total / dt * 1e-9);
  }
  if (rates.empty()) return 0.0;
  std::nth_element(rates.begin(), rates.begin() + rates.size() / 2, rates.end());
  return rates[rates.size() / 2];
}

}  // namespace

double measure_peak_gflops(const char* isa, int threads, double seconds, const char* dtype) {
  const PeakKernels kernels = kernels_for(resolve(isa));
  return median_burst_gflops(is_float64(dtype) ? kernels.fma_f64 : kernels.fma, threads, seconds);
}

double measure_microkernel_gflops(const char* isa, int threads, double seconds,
                                  const char* dtype) {
  const PeakKernels kernels = kernels_for(resolve(isa));
  return median_burst_gflops(is_float64(dtype) ? kernels.microkernel_f64 : kernels.microkernel,
                             threads, seconds);
}

double measure_read_bandwidth_gbs(int threads, double seconds) {
  threads = std::max(threads, 1);
  ReadFn read = kernels_for(active_isa()).read;
  const int64_t n = int64_t(64) << 20;  // 256 MiB of floats: far beyond every cache
  std::vector<float> buf(n);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; ++i) buf[i] = float(i & 1023);
  std::vector<double> rates;
  volatile float sink = 0.f;
  const double deadline = now() + seconds;
  do {
    const double t0 = now();
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_thread_index(), nt = omp_thread_count();
      const int64_t lo = n * t / nt, hi = n * (t + 1) / nt;
      sink = read(buf.data() + lo, hi - lo);
    }
    rates.push_back(double(n) * sizeof(float) / (now() - t0) * 1e-9);
  } while (now() < deadline);
  std::nth_element(rates.begin(), rates.begin() + rates.size() / 2, rates.end());
  return rates[rates.size() / 2];
}

}  // namespace fastdl::cpu
