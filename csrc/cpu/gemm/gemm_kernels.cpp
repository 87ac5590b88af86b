// GEMM driver, compiled once per ISA (see cmake/isa.cmake; FASTDL_ISA names the namespace
// and picks the micro-kernel) and instantiated for float and double: one body, with each element
// type's blocking from gemm_config.h (Blocking<T>). gemm<T>() tries, in order: thin products (m or n <= 8, streamed;
// gemv_kernels.cpp), small products read in place, narrow products (A in place, B packed), and
// the BLIS-style packed path -- cache blocking, packing, and threads that take columns at run
// time or a static grid part. bench/NOTES.md has the measurements behind each choice.
#include "cpu/gemm/gemm_kernels.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>
#include <thread>
#include <utility>

#include "cpu/gemm/gemm_config.h"
#include "cpu/gemm/gemm_buffer.h"
#include "cpu/gemm/gemm_pack.h"
#include "cpu/gemm/gemv.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#if defined(FASTDL_ISA_avx512)
#include "cpu/gemm/gemm_ukernel_avx512.h"
#elif defined(FASTDL_ISA_avx2)
#include "cpu/gemm/gemm_ukernel_avx2.h"
#else
#include "cpu/gemm/gemm_ukernel_portable.h"
#endif

namespace fastdl::cpu::FASTDL_ISA {
namespace {

using namespace gemm_config;

thread_local PackBuffer tls_packed_a, tls_packed_b;

// Split an extent into ceil(extent / max_block) nearly equal blocks, each a multiple of `unit`
// (k = 400 with KC = 384 -> 200 + 200, not 384 + 16): no thin last block wasting a pass.
int64_t balanced_block(int64_t extent, int64_t max_block, int64_t unit) {
  return std::min(max_block, round_up(ceil_div(extent, ceil_div(extent, max_block)), unit));
}

// Runs work() on every thread of a team of up to `threads` (once, without OpenMP). An exception
// (an allocation failure) may not leave an OpenMP region: the first one is carried out and
// rethrown here.
template <typename Work>
void run_on_threads(int threads, Work&& work) {
  std::exception_ptr error;
#pragma omp parallel num_threads(threads)
  {
    try {
      work();
    } catch (...) {
#pragma omp critical(fastdl_gemm_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

// C[0:mc, 0:nc] (+)= alpha * (packed A block) * B[0:kc, 0:nc]: pack the B block, then walk it
// with the micro-kernel, each A sliver (MR x kc) held in L1 while it meets every B sliver.
template <typename T>
void multiply_packed_a(int64_t mc, int64_t nc, int64_t kc, T alpha, const T* packed_a,
                       ConstMatrix<T> b, T beta, MutMatrix<T> c, T* packed_b) {
  constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  pack_b<T, NR>(kc, nc, b.data, b.rs, b.cs, packed_b);
  const int64_t sliver_stride = packed_b_sliver_stride<T, NR>(kc);
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int mr = int(std::min<int64_t>(MR, mc - ir));
    const T* pa = packed_a + ir * kc;
    for (int64_t jr = 0; jr < nc; jr += NR) {
      const int nr = int(std::min<int64_t>(NR, nc - jr));
      micro_kernel<T, MR, NR>(kc, pa, packed_b + jr / NR * sliver_stride,
                           c.data + ir * c.rs + jr * c.cs, c.rs, c.cs, mr, nr, alpha, beta);
    }
  }
}

// One thread's share: C[0:m, 0:n] = alpha * A B + beta * C with the full blocking loop nest.
// Loop order (outer to inner) ic, pc, jc, ir, jr: an A sliver (MR x KC) stays in L1 while the
// micro-kernel walks every B sliver of the L2-resident B block (KC x NC).
template <typename T>
void gemm_single_thread(int64_t m, int64_t n, int64_t k, T alpha, ConstMatrix<T> a,
                        ConstMatrix<T> b, T beta, MutMatrix<T> c) {
  using B = Blocking<T>;
  const int64_t kc_max = balanced_block(k, B::KC, 1);
  const int64_t nc_max = balanced_block(n, B::NC, B::NR);
  const int64_t mc_max = balanced_block(m, B::MC, B::MR);
  T* packed_b = tls_packed_b.get<T>(ceil_div(nc_max, B::NR) *
                                    packed_b_sliver_stride<T, B::NR>(kc_max));
  T* packed_a = tls_packed_a.get<T>(kc_max * mc_max);

  for (int64_t ic = 0; ic < m; ic += mc_max) {
    const int64_t mc = std::min(mc_max, m - ic);
    for (int64_t pc = 0; pc < k; pc += kc_max) {
      const int64_t kc = std::min(kc_max, k - pc);
      // Later k slices accumulate onto the first one's result.
      const T beta_pc = pc == 0 ? beta : T(1);
      pack_a<T, B::MR>(mc, kc, a.data + ic * a.rs + pc * a.cs, a.rs, a.cs, packed_a);
      for (int64_t jc = 0; jc < n; jc += nc_max)
        multiply_packed_a<T>(mc, std::min(nc_max, n - jc), kc, alpha, packed_a,
                             {b.data + pc * b.rs + jc * b.cs, b.rs, b.cs}, beta_pc,
                             {c.data + ic * c.rs + jc * c.cs, c.rs, c.cs}, packed_b);
    }
  }
}

// Columns of C handed out while the product runs, so a thread on a slower core (a shared host)
// takes less of the work instead of the others waiting for it at the end. The product is a
// sequence of phases, one per (MC block of rows, KC slice of k); in each phase the threads take
// chunks of B slivers from a shared cursor, shrinking as the phase runs out. Every thread packs
// the A block of each phase it takes part in (as with a static split of n). No barrier between
// phases: a chunk waits only until the previous k slice of the same columns has been added in.
template <typename T>
class ColumnSchedule {
  static constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  static constexpr int64_t KC = Blocking<T>::KC, MC = Blocking<T>::MC, NC = Blocking<T>::NC;

 public:
  ColumnSchedule(int64_t m, int64_t n, int64_t k, int threads)
      : kc_max_(balanced_block(k, KC, 1)), mc_max_(balanced_block(m, MC, MR)),
        k_slices_(ceil_div(k, kc_max_)), row_blocks_(ceil_div(m, mc_max_)),
        slivers_(ceil_div(n, NR)), threads_(threads),
        cursor_(new std::atomic<int64_t>[size_t(k_slices_ * row_blocks_)]),
        slices_done_(new std::atomic<int32_t>[size_t(row_blocks_ * slivers_)]) {
    for (int64_t i = 0; i < k_slices_ * row_blocks_; ++i) cursor_[i].store(0, std::memory_order_relaxed);
    for (int64_t i = 0; i < row_blocks_ * slivers_; ++i) slices_done_[i].store(0, std::memory_order_relaxed);
  }

  void run(int64_t m, int64_t n, int64_t k, T alpha, ConstMatrix<T> a, ConstMatrix<T> b, T beta,
           MutMatrix<T> c) {
    // At most an NC block's worth of slivers per chunk: that is what the packed B buffer's L2
    // budget holds.
    const int64_t max_chunk = balanced_block(n, NC, NR) / NR;
    T* packed_b = tls_packed_b.get<T>(max_chunk * packed_b_sliver_stride<T, NR>(kc_max_));
    T* packed_a = tls_packed_a.get<T>(kc_max_ * mc_max_);
    for (int64_t phase = 0; phase < k_slices_ * row_blocks_; ++phase) {
      const int64_t row_block = phase / k_slices_, slice = phase % k_slices_;
      const int64_t ic = row_block * mc_max_, pc = slice * kc_max_;
      const int64_t mc = std::min(mc_max_, m - ic), kc = std::min(kc_max_, k - pc);
      bool a_packed = false;
      for (;;) {
        const auto [s0, s1] = take_chunk(phase, max_chunk);
        if (s0 >= s1) break;
        if (!a_packed) {
          pack_a<T, MR>(mc, kc, a.data + ic * a.rs + pc * a.cs, a.rs, a.cs, packed_a);
          a_packed = true;
        }
        std::atomic<int32_t>* done = slices_done_.get() + row_block * slivers_;
        for (int64_t s = s0; s < s1; ++s) wait_until_at_least(done[s], int32_t(slice));
        const int64_t j0 = s0 * NR, j1 = std::min(n, s1 * NR);
        multiply_packed_a(mc, j1 - j0, kc, alpha, packed_a,
                          {b.data + pc * b.rs + j0 * b.cs, b.rs, b.cs},
                          slice == 0 ? beta : T(1), {c.data + ic * c.rs + j0 * c.cs, c.rs, c.cs},
                          packed_b);
        for (int64_t s = s0; s < s1; ++s) done[s].store(int32_t(slice + 1), std::memory_order_release);
      }
    }
  }

 private:
  // Chunks of one or two slivers reuse each A sliver too little.
  static constexpr int64_t kMinChunk = 2;

  // [first, last) sliver of the next chunk of `phase`: a 1 / (2 * threads) share of what is
  // left, clamped to [kMinChunk, max_chunk] slivers.
  std::pair<int64_t, int64_t> take_chunk(int64_t phase, int64_t max_chunk) {
    std::atomic<int64_t>& cursor = cursor_[phase];
    int64_t first = cursor.load(std::memory_order_relaxed);
    for (;;) {
      const int64_t left = slivers_ - first;
      if (left <= 0) return {0, 0};
      const int64_t most = std::min(max_chunk, left);
      const int64_t chunk = std::clamp(ceil_div(left, 2 * threads_), std::min(kMinChunk, most), most);
      if (cursor.compare_exchange_weak(first, first + chunk, std::memory_order_relaxed))
        return {first, first + chunk};
    }
  }

  static void wait_until_at_least(const std::atomic<int32_t>& value, int32_t target) {
    for (int spins = 0; value.load(std::memory_order_acquire) < target; ++spins) {
      if (spins < 1024) {
#if defined(__x86_64__)
        _mm_pause();
#endif
      } else {
        std::this_thread::yield();
      }
    }
  }

  int64_t kc_max_, mc_max_, k_slices_, row_blocks_, slivers_;
  int threads_;
  std::unique_ptr<std::atomic<int64_t>[]> cursor_;
  std::unique_ptr<std::atomic<int32_t>[]> slices_done_;
};

#if defined(FASTDL_ISA_avx512) || defined(FASTDL_ISA_avx2)
// Small products read in place (see kInPlaceMaxBFloats): walking B's column slivers outermost
// keeps each one in L1 while every row block of A meets it. Returns false when not applicable.
template <typename T>
bool multiply_in_place(int64_t m, int64_t n, int64_t k, T alpha, ConstMatrix<T> a,
                       ConstMatrix<T> b, T beta, MutMatrix<T> c) {
  constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  if (a.cs != 1 || b.cs != 1 || k > Blocking<T>::KC ||
      k * n * int64_t(sizeof(T)) > kInPlaceMaxBBytes)
    return false;
  for (int64_t jr = 0; jr < n; jr += NR) {
    const int nr = int(std::min<int64_t>(NR, n - jr));
    for (int64_t ir = 0; ir < m; ir += MR) {
      const int mr = int(std::min<int64_t>(MR, m - ir));
      micro_kernel_in_place<T, MR, NR>(k, a.data + ir * a.rs, a.rs, b.data + jr, b.rs,
                                       c.data + ir * c.rs + jr * c.cs, c.rs, c.cs, mr, nr, alpha,
                                       beta);
    }
  }
  return true;
}

// Narrow products (n <= kNarrowMaxColumns and B small; e.g. a convolution lowered to a GEMM: many
// rows, few output channels): each A element meets at most 8 B slivers, so packing A costs more
// than it saves. B, over the whole of k, is packed once (it fits half the L2); the micro-kernel
// streams A's rows in place (each 8-row block stays in L1 while it meets every B sliver, and the
// next one is prefetched meanwhile) over the whole k at once, so each C tile is written once
// instead of once per k slice. Threads take blocks of rows from a shared cursor; the path does not
// depend on the thread count, so neither do the results.
template <typename T>
bool multiply_narrow(int64_t m, int64_t n, int64_t k, T alpha, ConstMatrix<T> a,
                     ConstMatrix<T> b, T beta, MutMatrix<T> c, int threads) {
  constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  const int64_t slivers = ceil_div(n, NR);
  if (a.cs != 1 || n > kNarrowMaxColumns ||
      k * slivers * NR * int64_t(sizeof(T)) > kNarrowMaxPackedBBytes)
    return false;
  const int64_t stride = packed_b_sliver_stride<T, NR>(k);
  // Short m: smaller blocks, so that the last one taken leaves little for a faster thread to
  // wait on. A row's arithmetic is the same in any block: the bits do not depend on this.
  const int64_t rows_per_task = std::clamp(
      round_up(ceil_div(m, kNarrowTasksPerThread * std::max(threads, 1)), MR), int64_t(MR),
      kNarrowRowsPerTask);
  const int64_t blocks = ceil_div(m, rows_per_task);
  auto multiply_rows = [&](const T* packed_b, int64_t block) {
    const int64_t end = std::min(m, (block + 1) * rows_per_task);
    for (int64_t ir = block * rows_per_task; ir < end; ir += MR) {
      const int mr = int(std::min<int64_t>(MR, end - ir));
      const T* rows = a.data + ir * a.rs;
      for (int64_t s = 0; s < slivers; ++s) {
        const int nr = int(std::min<int64_t>(NR, n - s * NR));
        T* tile = c.data + ir * c.rs + s * NR * c.cs;
        // The first sliver's pass brings in the next row block of A meanwhile, when rows are
        // long enough for that to pay (short ones the hardware prefetcher already streams).
        if (s == 0 && k >= kNarrowPrefetchMinK && ir + 2 * MR <= m)
          micro_kernel_in_place<T, MR, NR, true>(k, rows, a.rs, packed_b + s * stride, NR, tile,
                                                 c.rs, c.cs, mr, nr, alpha, beta,
                                                 rows + MR * a.rs);
        else
          micro_kernel_in_place<T, MR, NR>(k, rows, a.rs, packed_b + s * stride, NR, tile, c.rs,
                                           c.cs, mr, nr, alpha, beta);
      }
    }
  };
  // Each thread packs its own copy of B (it is small): no thread waits for another's packing or
  // reads B out of another core's cache (bench/NOTES.md, GEMM).
  auto pack_own_b = [&] {
    T* packed_b = tls_packed_b.get<T>(slivers * stride);
    pack_b<T, NR>(k, n, b.data, b.rs, b.cs, packed_b);
    return packed_b;
  };
  if (threads <= 1 || blocks == 1) {
    const T* packed_b = pack_own_b();
    for (int64_t block = 0; block < blocks; ++block) multiply_rows(packed_b, block);
    return true;
  }
  std::atomic<int64_t> next_block{0};
  run_on_threads(threads, [&] {
    const T* packed_b = pack_own_b();
    for (int64_t block; (block = next_block.fetch_add(1, std::memory_order_relaxed)) < blocks;)
      multiply_rows(packed_b, block);
  });
  return true;
}
#else
template <typename T>
bool multiply_in_place(int64_t, int64_t, int64_t, T, ConstMatrix<T>, ConstMatrix<T>, T,
                       MutMatrix<T>) {
  return false;  // no in-place kernel for this ISA: every product is packed
}
template <typename T>
bool multiply_narrow(int64_t, int64_t, int64_t, T, ConstMatrix<T>, ConstMatrix<T>, T,
                     MutMatrix<T>, int) {
  return false;
}
#endif

struct ThreadGrid {
  int rows, cols;  // threads along m, along n
  double cost;     // the slowest thread's estimated time (see choose_grid)
};

// [begin, end) of part `index` of `count` when `tiles` tiles of `tile` elements (the last one
// partial, total `extent`) are split as evenly as possible.
std::pair<int64_t, int64_t> tile_range(int64_t extent, int64_t tile, int index, int count) {
  const int64_t tiles = ceil_div(extent, tile);
  const int64_t begin = tiles * index / count * tile;
  const int64_t end = tiles * (index + 1) / count * tile;
  return {std::min(begin, extent), std::min(end, extent)};
}

// The largest of the `count` parts tile_range makes, in elements (a partial last tile counts
// only its real width: the micro-kernel runs it with fewer vectors).
int64_t largest_part(int64_t extent, int64_t tile, int count) {
  int64_t largest = 0;
  for (int i = 0; i < count; ++i) {
    const auto [begin, end] = tile_range(extent, tile, i, count);
    largest = std::max(largest, end - begin);
  }
  return largest;
}

// A thread's estimated time for a tm x tn part of C: its tile area (compute) plus the elements
// it packs (its rows of A once per k slice, its columns of B once per MC block of its rows).
// Packing an element costs roughly what 16 FMA lanes' worth of tile updates do.
template <typename T>
double part_cost(double tm, double tn, int64_t k) {
  return tm * tn * double(k) +
         16.0 * double(k) * (tm + tn * double(ceil_div(int64_t(tm), Blocking<T>::MC)));
}

// Pick rows x cols == threads minimizing the slowest thread's part_cost. Ties go to splitting n.
template <typename T>
ThreadGrid choose_grid(int64_t m, int64_t n, int64_t k, int threads) {
  constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  const int64_t m_tiles = ceil_div(m, MR), n_tiles = ceil_div(n, NR);
  ThreadGrid best{1, threads, -1.0};
  for (int rows = 1; rows <= threads; ++rows) {
    if (threads % rows) continue;
    const int cols = threads / rows;
    if (rows > m_tiles || cols > n_tiles) continue;
    const double cost = part_cost<T>(double(largest_part(m, MR, rows)),
                                     double(largest_part(n, NR, cols)), k);
    if (best.cost < 0 || cost < best.cost || (cost == best.cost && cols > best.cols))
      best = {rows, cols, cost};
  }
  return best;
}

// The column schedule's per-thread estimate: all rows of A packed by every thread, an even share
// of the columns (handed out at run time, so no thread's part is a whole sliver larger).
template <typename T>
double column_schedule_cost(int64_t m, int64_t n, int64_t k, int threads) {
  return part_cost<T>(double(m), double(n) / threads, k);
}

}  // namespace

template <typename T>
void gemm(int64_t m, int64_t n, int64_t k, T alpha, ConstMatrix<T> a, ConstMatrix<T> b, T beta,
          MutMatrix<T> c, int threads) {
  constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  const double flops = 2.0 * double(m) * double(n) * double(k);
  // Thin products (m or n <= 8) are bound by reading the big operand, not by FLOPs: they pick
  // their own thread count.
  if (std::min(m, n) <= kThinMaxVectors && gemv<T>(m, n, k, alpha, a, b, beta, c, threads))
    return;
  threads = int(std::clamp<double>(flops / kMinFlopsPerThread, 1.0, double(threads)));
  if (threads <= 1 && multiply_in_place(m, n, k, alpha, a, b, beta, c)) return;
  if (multiply_narrow(m, n, k, alpha, a, b, beta, c, threads)) return;
  // Few rows against a big column-major B (x @ W.T in a small batch): the same product
  // transposed, C^T = B^T A^T, is narrow with W itself as the row-major A, read in place instead
  // of packed -- when k is long enough to amortize writing C by columns (bench/NOTES.md, GEMM).
  if (m <= kTransposedNarrowMaxRows && k >= kTransposedNarrowMinK &&
      multiply_narrow(n, m, k, alpha, transposed(b), transposed(a), beta, transposed(c),
                      threads))
    return;
  if (threads <= 1) return gemm_single_thread(m, n, k, alpha, a, b, beta, c);

  const ThreadGrid grid = choose_grid<T>(m, n, k, threads);
  const int64_t slivers = ceil_div(n, NR);
  // Columns handed out at run time when the grid splits n anyway, or when there are enough of
  // them and the schedule costs no more than the grid (at 2 threads: m <= n): a core shared with
  // another job then takes less of the work instead of holding up the end (bench/NOTES.md, GEMM:
  // the same speed on quiet cores, +13-25% when one core also runs another process).
  if (slivers >= 4 * threads &&
      (grid.rows == 1 || (slivers >= kWideColumnsPerThread * threads &&
                          column_schedule_cost<T>(m, n, k, threads) <= grid.cost))) {
    // Any team size OpenMP grants computes all of C.
    ColumnSchedule<T> schedule(m, n, k, threads);
    run_on_threads(threads, [&] { schedule.run(m, n, k, alpha, a, b, beta, c); });
    return;
  }
  std::atomic<int> next_part{0};
  run_on_threads(grid.rows * grid.cols, [&] {
    // Parts of the grid taken in turn: OpenMP may grant fewer threads than asked
    // (OMP_THREAD_LIMIT, nesting), and then a thread does several.
    for (int t; (t = next_part.fetch_add(1, std::memory_order_relaxed)) < grid.rows * grid.cols;) {
      auto [m0, m1] = tile_range(m, MR, t / grid.cols, grid.rows);
      auto [n0, n1] = tile_range(n, NR, t % grid.cols, grid.cols);
      if (m0 < m1 && n0 < n1)
        gemm_single_thread<T>(m1 - m0, n1 - n0, k, alpha, {a.data + m0 * a.rs, a.rs, a.cs},
                              {b.data + n0 * b.cs, b.rs, b.cs}, beta,
                              {c.data + m0 * c.rs + n0 * c.cs, c.rs, c.cs});
    }
  });
}

template void gemm<float>(int64_t, int64_t, int64_t, float, ConstMatrix<float>,
                          ConstMatrix<float>, float, MutMatrix<float>, int);
template void gemm<double>(int64_t, int64_t, int64_t, double, ConstMatrix<double>,
                           ConstMatrix<double>, double, MutMatrix<double>, int);

}  // namespace fastdl::cpu::FASTDL_ISA
