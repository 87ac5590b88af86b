// BLIS-style fp32 GEMM driver: cache blocking, packing, threading; compiled once per ISA (see
// cmake/isa.cmake), FASTDL_ISA names the namespace and picks the micro-kernel.
#include "cpu/gemm/gemm_kernels.h"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <new>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu/gemm/gemm_config.h"
#include "cpu/gemm/gemm_pack.h"

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

int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }
int64_t ceil_div(int64_t x, int64_t y) { return (x + y - 1) / y; }

// Per-thread packing storage, grown on demand and kept: repeated small products (batches, RNN
// steps) allocate nothing after the first call on each thread.
class PackBuffer {
 public:
  ~PackBuffer() { std::free(data_); }
  float* get(int64_t floats) {
    if (floats > capacity_) {
      std::free(data_);
      const size_t bytes = size_t(round_up(floats * int64_t(sizeof(float)), 64));
      data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!data_) {
        capacity_ = 0;
        throw std::bad_alloc();
      }
      capacity_ = floats;
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  int64_t capacity_ = 0;
};

thread_local PackBuffer tls_packed_a, tls_packed_b;

// Split an extent into ceil(extent / max_block) nearly equal blocks, each a multiple of `unit`
// (k = 400 with KC = 384 -> 200 + 200, not 384 + 16): no thin last block wasting a pass.
int64_t balanced_block(int64_t extent, int64_t max_block, int64_t unit) {
  return std::min(max_block, round_up(ceil_div(extent, ceil_div(extent, max_block)), unit));
}

// One thread's share: C[0:m, 0:n] = alpha * A B + beta * C with the full blocking loop nest.
// Loop order (outer to inner) ic, pc, jc, ir, jr: an A sliver (MR x KC) stays in L1 while the
// micro-kernel walks every B sliver of the L2-resident B block (KC x NC).
void gemm_single_thread(int64_t m, int64_t n, int64_t k, float alpha, MatrixRef a, MatrixRef b,
                        float beta, MutMatrixRef c) {
  const int64_t kc_max = balanced_block(k, KC, 1);
  const int64_t nc_max = balanced_block(n, NC, NR);
  const int64_t mc_max = balanced_block(m, MC, MR);
  float* packed_b = tls_packed_b.get(ceil_div(nc_max, NR) * packed_b_sliver_stride<NR>(kc_max));
  float* packed_a = tls_packed_a.get(kc_max * mc_max);

  for (int64_t ic = 0; ic < m; ic += mc_max) {
    const int64_t mc = std::min(mc_max, m - ic);
    for (int64_t pc = 0; pc < k; pc += kc_max) {
      const int64_t kc = std::min(kc_max, k - pc);
      // Later k slices accumulate onto the first one's result.
      const float beta_pc = pc == 0 ? beta : 1.f;
      pack_a<MR>(mc, kc, a.data + ic * a.rs + pc * a.cs, a.rs, a.cs, packed_a);
      for (int64_t jc = 0; jc < n; jc += nc_max) {
        const int64_t nc = std::min(nc_max, n - jc);
        pack_b<NR>(kc, nc, b.data + pc * b.rs + jc * b.cs, b.rs, b.cs, packed_b);
        for (int64_t ir = 0; ir < mc; ir += MR) {
          const int mr = int(std::min<int64_t>(MR, mc - ir));
          const float* pa = packed_a + ir * kc;
          for (int64_t jr = 0; jr < nc; jr += NR) {
            const int nr = int(std::min<int64_t>(NR, nc - jr));
            float* ct = c.data + (ic + ir) * c.rs + (jc + jr) * c.cs;
            micro_kernel<MR, NR>(kc, pa, packed_b + jr / NR * packed_b_sliver_stride<NR>(kc),
                                 ct, c.rs, c.cs, mr, nr, alpha, beta_pc);
          }
        }
      }
    }
  }
}

struct ThreadGrid {
  int rows, cols;  // threads along m, along n
};

// Pick rows x cols == threads minimizing the slowest thread's estimated time: its padded tile
// area (compute) plus the elements it packs (each thread packs its own rows of A once per k
// slice, and its own columns of B once per MC block of its rows). Ties go to splitting n.
ThreadGrid choose_grid(int64_t m, int64_t n, int64_t k, int threads) {
  const int64_t m_tiles = ceil_div(m, MR), n_tiles = ceil_div(n, NR);
  ThreadGrid best{1, threads};
  double best_cost = -1.0;
  for (int rows = 1; rows <= threads; ++rows) {
    if (threads % rows) continue;
    const int cols = threads / rows;
    if (rows > m_tiles || cols > n_tiles) continue;
    const double tm = double(ceil_div(m_tiles, rows) * MR);
    const double tn = double(ceil_div(n_tiles, cols) * NR);
    // Packing an element costs roughly what 16 FMA lanes' worth of tile updates do.
    const double compute = tm * tn * double(k);
    const double packing = 16.0 * double(k) * (tm + tn * double(ceil_div(int64_t(tm), MC)));
    const double cost = compute + packing;
    if (best_cost < 0 || cost < best_cost || (cost == best_cost && cols > best.cols)) {
      best = {rows, cols};
      best_cost = cost;
    }
  }
  return best;
}

// [begin, end) of part `index` of `count` when `tiles` tiles of `tile` elements (the last one
// partial, total `extent`) are split as evenly as possible.
std::pair<int64_t, int64_t> tile_range(int64_t extent, int64_t tile, int index, int count) {
  const int64_t tiles = ceil_div(extent, tile);
  const int64_t begin = tiles * index / count * tile;
  const int64_t end = tiles * (index + 1) / count * tile;
  return {std::min(begin, extent), std::min(end, extent)};
}

}  // namespace

void sgemm(int64_t m, int64_t n, int64_t k, float alpha, MatrixRef a, MatrixRef b, float beta,
           MutMatrixRef c, int threads) {
  const double flops = 2.0 * double(m) * double(n) * double(k);
  threads = int(std::clamp<double>(flops / kMinFlopsPerThread, 1.0, double(threads)));
#ifndef _OPENMP
  threads = 1;
#endif
  if (threads <= 1) return gemm_single_thread(m, n, k, alpha, a, b, beta, c);

  const ThreadGrid grid = choose_grid(m, n, k, threads);
  // An exception may not leave an OpenMP region; carry the first one out (allocation failure).
  std::exception_ptr error;
#pragma omp parallel num_threads(grid.rows * grid.cols)
  {
#ifdef _OPENMP
    const int t = omp_get_thread_num();
#else
    const int t = 0;
#endif
    auto [m0, m1] = tile_range(m, MR, t / grid.cols, grid.rows);
    auto [n0, n1] = tile_range(n, NR, t % grid.cols, grid.cols);
    try {
      if (m0 < m1 && n0 < n1)
        gemm_single_thread(m1 - m0, n1 - n0, k, alpha, {a.data + m0 * a.rs, a.rs, a.cs},
                           {b.data + n0 * b.cs, b.rs, b.cs}, beta,
                           {c.data + m0 * c.rs + n0 * c.cs, c.rs, c.cs});
    } catch (...) {
#pragma omp critical(fastdl_gemm_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace fastdl::cpu::FASTDL_ISA
