#pragma once
// How the norm family's element-wise kernels split their work between threads. Included only
// by sources compiled once per ISA: everything lives in that ISA's namespace.
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastdl::cpu::FASTDL_ISA {

// Element-wise work is split into chunks of this many elements per thread task, and an extra
// thread is used only for each kMinPerThread elements (256 KiB of floats): smaller arrays run on
// the calling thread, where a parallel region would cost more than it saves. The threshold was
// 1M elements while this VM was shared with heavy load (a 131k-element ReLU took 6.5 ms at 2
// threads and 0.1 ms at 1 when a thread was descheduled); on a quiet machine that left every
// batch norm of the ResNet-18 step at 64 x 64 (<= 1M elements) on one thread while the other
// waited: in-process A/B of the step at 2 threads, medians of 12, 119.4 / 123.3 ms at 1M,
// 112.2 at 128k, 113.5 at 64k, 110.8 / 114.0 at 32k, 112.1 at 16k (bench/NOTES.md).
constexpr int64_t kChunk = 1 << 15;
constexpr int64_t kMinPerThread = 1 << 16;

inline int threads_for(int64_t elements, int threads) {
  const int64_t useful = elements / kMinPerThread;
  return int(useful < 1 ? 1 : useful < threads ? useful : threads);
}

// work(begin, end) over [0, count) in chunks of kChunk, on up to `threads` threads.
template <typename Work>
void parallel_chunks(int64_t count, int threads, Work&& work) {
  const int64_t chunks = (count + kChunk - 1) / kChunk;
  threads = threads_for(count, threads);
  if (threads <= 1 || chunks <= 1) {
    work(int64_t(0), count);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t k = 0; k < chunks; ++k) work(k * kChunk, k + 1 == chunks ? count : (k + 1) * kChunk);
}

// work(i) for i in [0, count), one index at a time to whichever thread is free.
template <typename Work>
void parallel_for(int64_t count, int threads, Work&& work) {
  if (threads <= 1 || count <= 1) {  // callers pass threads_for(their elements)
    for (int64_t i = 0; i < count; ++i) work(i);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t i = 0; i < count; ++i) work(i);
}

// work(thread, begin, end) over rows [0, rows) of n values each: one contiguous range per thread
// (a thread's own index, e.g. for per-thread partial sums), on up to `threads` threads.
template <typename Work>
void parallel_rows(int64_t rows, int64_t n, int threads, Work&& work) {
  threads = threads_for(rows * n, threads);
  if (threads <= 1 || rows <= 1) {
    work(0, int64_t(0), rows);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
#ifdef _OPENMP
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
#else
    const int t = 0, nt = 1;
#endif
    work(t, rows * t / nt, rows * (t + 1) / nt);
  }
}

}  // namespace fastdl::cpu::FASTDL_ISA
