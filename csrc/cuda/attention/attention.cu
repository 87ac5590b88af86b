// Flash attention kernels (FlashAttention-2's tiling, fp32/fp64, no tensor cores), written once
// for nvcc and the CPU emulator (cuda/common/launch.cuh).
//
// Every product is a tile GEMM on shared memory: a block of (kB/4)^2 threads owns a kB x kB tile
// (kB = 64 in float, 32 in double), each thread a 4 x 4 micro-tile, and `mma` multiplies two
// row-major shared operands with 16-byte loads (tile_gemm.cuh; 8 loads per 64 FMAs). Head
// dimensions are padded with zeros to kD = 64 or 128 in shared memory. Scores are kept in log2
// units (scale * log2 e folded into one multiply; exp2 is one SFU instruction where exp is a
// sequence); the saved log-sum-exp is natural, as the CPU kernel's. In float, each walk loads
// its next tile from global memory into registers while the current one is computed (the
// loads' latency was exposed between the barriers: -16% forward, -30% backward time on an
// H200, bench/NOTES.md).
//   forward: a block takes kB query rows of one (batch, head); walks the key tiles (S = Q K^T,
//     online softmax per row with the running max / sum reduced over the row's kB/4 lanes by
//     warp shuffles, O += P V) through two shared buffers; writes O and the log-sum-exp (+inf
//     for a row no key takes part in: output 0). Causal blocks stop at their last row's diagonal.
//   backward, two kernels, no atomics (deterministic), both recomputing P = exp(s - lse):
//     dQ: a block per query tile walks the key tiles (S, dP = dO V^T, dS = P (dP - delta),
//       dQ^T += K^T dS^T) and leaves delta = rowsum(dO * O) for the second kernel;
//     dK/dV: a block per key tile of a key/value head walks the query tiles of every query head
//       of its group (S, dP, dV += P^T dO, dK += dS^T Q).
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "cuda/attention/attention.h"
#include "cuda/attention/tile_gemm.cuh"
#include "cuda/common/kernel_utils.cuh"
#include "cuda/common/launch.cuh"

namespace fastdl::cuda {

namespace attention_detail {

template <typename T>
struct Params {
  const T *q, *k, *v, *out, *grad_out, *lse;
  T *o, *l, *gq, *gk, *gv, *gm, *delta;
  T* stats_out;       // the forward's (m, log2 l) per row, log2 units, or null
  const T* stats_in;  // the same, for the backward, or null (then P from lse)
  int64_t B, Hq, Hk, L, S, D, Dv, group;
  int causal, mask_kind;
  T scale;
  const void* mask;
  int64_t ms[4];
};

template <typename T>
__device__ __forceinline__ T ninf() { return -T(INFINITY); }  // usable in device code
template <typename T>
__device__ __forceinline__ T lowest() { return T(sizeof(T) == 4 ? -FLT_MAX : -DBL_MAX); }

__device__ __forceinline__ double exp2_t(double x) { return ::exp2(x); }
__device__ __forceinline__ float exp2_t(float x) { return ::exp2f(x); }
__device__ __forceinline__ double log2_t(double x) { return ::log2(x); }
__device__ __forceinline__ float log2_t(float x) { return ::log2f(x); }
constexpr double kLog2e = 1.4426950408889634, kLn2 = 0.6931471805599453;

// Float walks prefetch their next tile into registers; double's share of a kD = 128 tile would
// not fit beside its accumulators (and double is the gradient-check path, not the fast one).
template <typename T>
constexpr bool kPrefetch = sizeof(T) == 4;

// The forward's key/value buffers: two when prefetching at kD = 64 (no barrier before the store),
// one at kD = 128, where two would take 184 KiB (an A100 allows 163).
template <typename T, int kD>
constexpr int kForwardBuffers = kPrefetch<T> && kD == 64 ? 2 : 1;

// Blocks per multiprocessor the register budget must allow: two where shared memory allows two
// (float, kD = 64), which caps a thread at 128 registers (the prefetched tiles would otherwise
// take the backward kernels to ~180 registers and one block; the forward measured 0.199 ms at
// L = 512 with one block, 0.166 with two).
template <typename T, int kD>
constexpr int kMinBlocks = sizeof(T) == 4 && kD == 64 ? 2 : 1;


// The scaled score of (i, j), in log2 units, after the mask and the causal rule; -inf where j
// takes no part (beyond kv_end: past the keys, or past a causal block's last row) and in a
// tile's padding rows (i >= L: the mask has no such row to read).
template <typename T>
__device__ __forceinline__ T masked_score(const Params<T>& p, int64_t b, int64_t h, int64_t i,
                                          int64_t j, int64_t kv_end, T s) {
  if (i >= p.L || j >= kv_end || (p.causal && j > i)) return ninf<T>();
  if (p.mask_kind != 0) {
    const int64_t off = b * p.ms[0] + h * p.ms[1] + i * p.ms[2] + j * p.ms[3];
    if (p.mask_kind == 1) return static_cast<const uint8_t*>(p.mask)[off] ? s : ninf<T>();
    const T add = static_cast<const T*>(p.mask)[off], add2 = add * T(kLog2e);
    // A finite mask stays finite in log2 units (finfo.min rows attend evenly, as in torch).
    return s + (add2 == ninf<T>() && add != ninf<T>() ? lowest<T>() : add2);
  }
  return s;
}

// What the backward subtracts from a row's log2 scores to get log2 P, in two steps so that a
// large maximum does not swallow the log of the sum: (m, log2 l) from the forward's row_stats,
// else (lse log2 e, 0); (+inf, 0) for a tile's padding rows (p = 0).
template <typename T>
struct RowShift {
  T max, log_sum;
  __device__ __forceinline__ T p(T x) const {
    return x == ninf<T>() ? T(0) : exp2_t((x - max) - log_sum);
  }
};
template <typename T>
__device__ __forceinline__ RowShift<T> row_shift(const Params<T>& p, int64_t bh, int64_t row) {
  if (row >= p.L) return {-ninf<T>(), T(0)};
  const int64_t r = bh * p.L + row;
  if (p.stats_in) return {p.stats_in[2 * r], p.stats_in[2 * r + 1]};
  return {p.lse[r] * T(kLog2e), T(0)};
}

// Whether the tile (i0.., j0..) has an element masked_score may change.
template <typename T>
__device__ __forceinline__ bool tile_needs_mask(const Params<T>& p, int64_t i0, int64_t j0,
                                                int64_t kv_end) {
  constexpr int kB = Geometry<T>::kB;
  return p.mask_kind != 0 || j0 + kB > kv_end || (p.causal && j0 + kB - 1 > i0) || i0 + kB > p.L;
}

// The key and value rows j0 .. j0 + kB of one (batch, key/value head), short of kv_end, in one
// thread's registers (the prefetch of the forward's and the dQ kernel's key walks).
template <typename T, int kD>
struct KeyValueShare {
  TileShare<T, Geometry<T>::kB, kD> k, v;
  __device__ __forceinline__ void load(const Params<T>& p, const T* kb, const T* vb, int64_t j0,
                                       int64_t kv_end) {
    const int keys = int(kutil::imin(Geometry<T>::kB, kv_end - j0));
    k.load(kb + j0 * p.D, p.D, keys, int(p.D));
    v.load(vb + j0 * p.Dv, p.Dv, keys, int(p.Dv));
  }
};

template <typename T, int kD>
__global__ void __launch_bounds__(Geometry<T>::kThreads, kMinBlocks<T, kD>)
    forward_kernel(Params<T> p) {
  constexpr int kB = Geometry<T>::kB, kCG = kD / kB, kBuffers = kForwardBuffers<T, kD>;
  constexpr int kW = Strides<T, kD>::kWide, kN = Strides<T, kD>::kNarrow;
  FASTDL_DYNAMIC_SHARED(T, smem);
  T* qs = smem;                        // [kB][kW]
  T* kts = qs + kB * kW;               // kBuffers x [kD][kN]
  T* vs = kts + kBuffers * kD * kN;    // kBuffers x [kB][kW]
  T* ps = vs + kBuffers * kB * kW;     // [kB][kN]
  const int tx = threadIdx.x % Geometry<T>::kSide, ty = threadIdx.x / Geometry<T>::kSide;
  const int64_t bh = blockIdx.y, b = bh / p.Hq, h = bh % p.Hq, hk = h / p.group;
  const int64_t i0 = int64_t(blockIdx.x) * kB;
  const int rows = int(kutil::imin(kB, p.L - i0));
  const T* kb = p.k + (b * p.Hk + hk) * p.S * p.D;
  const T* vb = p.v + (b * p.Hk + hk) * p.S * p.Dv;
  const T scale = p.scale * T(kLog2e);
  stage<T, kB, kD>(qs, kW, p.q + (bh * p.L + i0) * p.D, p.D, rows, int(p.D));
  T o[1][kCG][4][4];
  zero(o);
  T m[4], l[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) m[i] = ninf<T>(), l[i] = T(0);
  const int64_t kv_end = p.causal ? kutil::imin(i0 + rows, p.S) : p.S;
  KeyValueShare<T, kD> next;
  if constexpr (kPrefetch<T>) {
    if (kv_end > 0) next.load(p, kb, vb, 0, kv_end);
  }
  for (int64_t j0 = 0, t = 0; j0 < kv_end; j0 += kB, ++t) {
    T* kt = kts + (t % kBuffers) * kD * kN;
    T* vt = vs + (t % kBuffers) * kB * kW;
    if constexpr (kPrefetch<T>) {
      // With two buffers, this one was last read two tiles ago, before the previous tile's
      // barriers; with one, its readers must be waited for.
      if constexpr (kBuffers == 1) __syncthreads();
      next.k.store_transposed(kt, kN);
      next.v.store(vt, kW);
      __syncthreads();
      if (j0 + kB < kv_end) next.load(p, kb, vb, j0 + kB, kv_end);
    } else {
      const int keys = int(kutil::imin(kB, kv_end - j0));
      __syncthreads();  // the previous tile's readers are done
      stage_transposed<T, kB, kD>(kt, kN, kb + j0 * p.D, p.D, keys, int(p.D));
      stage<T, kB, kD>(vt, kW, vb + j0 * p.Dv, p.Dv, keys, int(p.Dv));
      __syncthreads();
    }
    T s[1][1][4][4];
    zero(s);
    mma<T, 1, 1, kD>(s, qs, kW, kt, kN, ty, tx);
    const bool check = tile_needs_mask(p, i0, j0, kv_end);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      T tile_max = ninf<T>();
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        T x = s[0][0][i][j] * scale;
        if (check) x = masked_score(p, b, h, i0 + 4 * ty + i, j0 + 4 * tx + j, kv_end, x);
        s[0][0][i][j] = x;
        tile_max = x > tile_max ? x : tile_max;
      }
      tile_max = row_max(tile_max);
      const T m_new = tile_max > m[i] ? tile_max : m[i];
      const T m_use = m_new == ninf<T>() ? T(0) : m_new;  // a row with no key yet: p = 0
      const T alpha = exp2_t(m[i] - m_use);
      m[i] = m_new;
      l[i] *= alpha;
#pragma unroll
      for (int cg = 0; cg < kCG; ++cg)
#pragma unroll
        for (int j = 0; j < 4; ++j) o[0][cg][i][j] *= alpha;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const T e = exp2_t(s[0][0][i][j] - m_use);
        l[i] += e;
        ps[(4 * ty + i) * kN + 4 * tx + j] = e;
      }
    }
    __syncthreads();
    mma<T, 1, kCG, kB>(o, ps, kN, vt, kW, ty, tx);
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const T sum = row_sum(l[i]);
    const int64_t row = i0 + 4 * ty + i;
    if (row >= p.L) continue;
    const T inv = sum > T(0) ? T(1) / sum : T(0);
#pragma unroll
    for (int cg = 0; cg < kCG; ++cg)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int col = 4 * tx + j + kB * cg;
        if (col < p.Dv) p.o[(bh * p.L + row) * p.Dv + col] = o[0][cg][i][j] * inv;
      }
    if (tx != 0) continue;
    const T log2_sum = sum > T(0) ? log2_t(sum) : T(0);
    p.l[bh * p.L + row] = sum > T(0) ? (m[i] + log2_sum) * T(kLn2) : -ninf<T>();
    if (p.stats_out) {  // a row with no key: (+inf, 0), p = 0 in the backward
      p.stats_out[2 * (bh * p.L + row)] = sum > T(0) ? m[i] : -ninf<T>();
      p.stats_out[2 * (bh * p.L + row) + 1] = log2_sum;
    }
  }
}

// dQ (and the additive mask's dS, and delta for the dK/dV kernel): a block per query tile.
template <typename T, int kD>
__global__ void __launch_bounds__(Geometry<T>::kThreads, kMinBlocks<T, kD>)
    backward_q_kernel(Params<T> p) {
  constexpr int kB = Geometry<T>::kB, kRG = kD / kB;
  constexpr int kW = Strides<T, kD>::kWide, kN = Strides<T, kD>::kNarrow;
  FASTDL_DYNAMIC_SHARED(T, smem);
  T* qs = smem;             // [kB][kW]
  T* dos = qs + kB * kW;    // [kB][kW]
  T* kts = dos + kB * kW;   // [kD][kN]
  T* vts = kts + kD * kN;   // [kD][kN]
  T* dsts = vts + kD * kN;  // [kB][kN]: dS^T (times the scale)
  const int tx = threadIdx.x % Geometry<T>::kSide, ty = threadIdx.x / Geometry<T>::kSide;
  const int64_t bh = blockIdx.y, b = bh / p.Hq, h = bh % p.Hq, hk = h / p.group;
  const int64_t i0 = int64_t(blockIdx.x) * kB;
  const int rows = int(kutil::imin(kB, p.L - i0));
  const T* kb = p.k + (b * p.Hk + hk) * p.S * p.D;
  const T* vb = p.v + (b * p.Hk + hk) * p.S * p.Dv;
  const T scale = p.scale * T(kLog2e);  // of the scores; the gradients take p.scale
  stage<T, kB, kD>(qs, kW, p.q + (bh * p.L + i0) * p.D, p.D, rows, int(p.D));
  stage<T, kB, kD>(dos, kW, p.grad_out + (bh * p.L + i0) * p.Dv, p.Dv, rows, int(p.Dv));
  __syncthreads();
  RowShift<T> shift[4];
  T delta[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int r = 4 * ty + i;
    const int64_t row = i0 + r;
    T partial = T(0);
    if (row < p.L)
      for (int d = tx; d < p.Dv; d += Geometry<T>::kSide)
        partial += dos[r * kW + d] * p.out[(bh * p.L + row) * p.Dv + d];
    delta[i] = row_sum(partial);
    shift[i] = row_shift(p, bh, row);
    if (tx == 0 && row < p.L) p.delta[bh * p.L + row] = delta[i];
  }
  T dqt[kRG][1][4][4];
  zero(dqt);
  // With a mask gradient every (i, j) is written (0 where masked), so no key tile is skipped.
  const int64_t kv_end = p.causal && !p.gm ? kutil::imin(i0 + rows, p.S) : p.S;
  KeyValueShare<T, kD> next;
  if constexpr (kPrefetch<T>) {
    if (kv_end > 0) next.load(p, kb, vb, 0, kv_end);
  }
  for (int64_t j0 = 0; j0 < kv_end; j0 += kB) {
    __syncthreads();  // the previous tile's readers are done
    if constexpr (kPrefetch<T>) {
      next.k.store_transposed(kts, kN);
      next.v.store_transposed(vts, kN);
      __syncthreads();
      if (j0 + kB < kv_end) next.load(p, kb, vb, j0 + kB, kv_end);
    } else {
      const int keys = int(kutil::imin(kB, kv_end - j0));
      stage_transposed<T, kB, kD>(kts, kN, kb + j0 * p.D, p.D, keys, int(p.D));
      stage_transposed<T, kB, kD>(vts, kN, vb + j0 * p.Dv, p.Dv, keys, int(p.Dv));
      __syncthreads();
    }
    T s[1][1][4][4], dp[1][1][4][4];
    zero(s), zero(dp);
    mma<T, 1, 1, kD>(s, qs, kW, kts, kN, ty, tx);
    mma<T, 1, 1, kD>(dp, dos, kW, vts, kN, ty, tx);
    const bool check = tile_needs_mask(p, i0, j0, kv_end);
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int64_t row = i0 + 4 * ty + i, col = j0 + 4 * tx + j;
        T x = s[0][0][i][j] * scale;
        if (check) x = masked_score(p, b, h, row, col, kv_end, x);
        const T pr = shift[i].p(x);
        const T ds = pr * (dp[0][0][i][j] - delta[i]);
        if (p.gm && row < p.L && col < p.S) p.gm[(bh * p.L + row) * p.S + col] = ds;
        dsts[(4 * tx + j) * kN + 4 * ty + i] = ds * p.scale;
      }
    __syncthreads();
    mma<T, kRG, 1, kB>(dqt, kts, kN, dsts, kN, ty, tx);
  }
#pragma unroll
  for (int rg = 0; rg < kRG; ++rg)
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int d = 4 * ty + i + kB * rg;
      if (d >= p.D) continue;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int64_t row = i0 + 4 * tx + j;
        if (row < p.L) p.gq[(bh * p.L + row) * p.D + d] = dqt[rg][0][i][j];
      }
    }
}

// dK and dV: a block per key tile of a (batch, key/value head), over its group's query heads
// (walk step t: head t / tiles of the group, query tile t % tiles).
template <typename T, int kD>
__global__ void __launch_bounds__(Geometry<T>::kThreads, kMinBlocks<T, kD>)
    backward_kv_kernel(Params<T> p) {
  constexpr int kB = Geometry<T>::kB, kCG = kD / kB;
  constexpr int kW = Strides<T, kD>::kWide, kN = Strides<T, kD>::kNarrow;
  FASTDL_DYNAMIC_SHARED(T, smem);
  T* kts = smem;            // [kD][kN]
  T* vts = kts + kD * kN;   // [kD][kN]
  T* qs = vts + kD * kN;    // [kB][kW]
  T* dos = qs + kB * kW;    // [kB][kW]
  T* pts = dos + kB * kW;   // [kB][kN]: P^T, then dS^T (times the scale)
  const int tx = threadIdx.x % Geometry<T>::kSide, ty = threadIdx.x / Geometry<T>::kSide;
  const int64_t bhk = blockIdx.y, b = bhk / p.Hk, hk = bhk % p.Hk;
  const int64_t j0 = int64_t(blockIdx.x) * kB;
  const int keys = int(kutil::imin(kB, p.S - j0));
  const T scale = p.scale * T(kLog2e);  // of the scores; the gradients take p.scale
  stage_transposed<T, kB, kD>(kts, kN, p.k + (bhk * p.S + j0) * p.D, p.D, keys, int(p.D));
  stage_transposed<T, kB, kD>(vts, kN, p.v + (bhk * p.S + j0) * p.Dv, p.Dv, keys, int(p.Dv));
  T dk[1][kCG][4][4], dv[1][kCG][4][4];
  zero(dk), zero(dv);
  const int64_t i_begin = p.causal ? j0 : 0;  // rows i >= j see key j
  const int64_t tiles = p.L > i_begin ? kutil::ceil_div(p.L - i_begin, kB) : 0;
  TileShare<T, kB, kD> next_q, next_do;
  const auto fetch = [&](int64_t t) {
    const int64_t bh = b * p.Hq + hk * p.group + t / tiles, i0 = i_begin + t % tiles * kB;
    const int rows = int(kutil::imin(kB, p.L - i0));
    next_q.load(p.q + (bh * p.L + i0) * p.D, p.D, rows, int(p.D));
    next_do.load(p.grad_out + (bh * p.L + i0) * p.Dv, p.Dv, rows, int(p.Dv));
  };
  if constexpr (kPrefetch<T>) {
    if (tiles > 0) fetch(0);
  }
  for (int64_t t = 0; t < p.group * tiles; ++t) {
    const int64_t h = hk * p.group + t / tiles, bh = b * p.Hq + h, i0 = i_begin + t % tiles * kB;
    __syncthreads();  // the previous tile's readers are done
    if constexpr (kPrefetch<T>) {
      next_q.store(qs, kW);
      next_do.store(dos, kW);
      __syncthreads();
      if (t + 1 < p.group * tiles) fetch(t + 1);
    } else {
      const int rows = int(kutil::imin(kB, p.L - i0));
      stage<T, kB, kD>(qs, kW, p.q + (bh * p.L + i0) * p.D, p.D, rows, int(p.D));
      stage<T, kB, kD>(dos, kW, p.grad_out + (bh * p.L + i0) * p.Dv, p.Dv, rows, int(p.Dv));
      __syncthreads();
    }
    T s[1][1][4][4], dp[1][1][4][4];
    zero(s), zero(dp);
    mma<T, 1, 1, kD>(s, qs, kW, kts, kN, ty, tx);
    mma<T, 1, 1, kD>(dp, dos, kW, vts, kN, ty, tx);
    const bool check = tile_needs_mask(p, i0, j0, p.S);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int64_t row = i0 + 4 * ty + i;
      const RowShift<T> shift = row_shift(p, bh, row);
      const T delta = row < p.L ? p.delta[bh * p.L + row] : T(0);
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        T x = s[0][0][i][j] * scale;
        if (check) x = masked_score(p, b, h, row, j0 + 4 * tx + j, p.S, x);
        const T pr = shift.p(x);
        dp[0][0][i][j] = pr * (dp[0][0][i][j] - delta) * p.scale;
        pts[(4 * tx + j) * kN + 4 * ty + i] = pr;
      }
    }
    __syncthreads();
    mma<T, 1, kCG, kB>(dv, pts, kN, dos, kW, ty, tx);
    __syncthreads();  // P^T is read; dS^T takes its place
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) pts[(4 * tx + j) * kN + 4 * ty + i] = dp[0][0][i][j];
    __syncthreads();
    mma<T, 1, kCG, kB>(dk, pts, kN, qs, kW, ty, tx);
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t key = j0 + 4 * ty + i;
    if (key >= p.S) continue;
#pragma unroll
    for (int cg = 0; cg < kCG; ++cg)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int col = 4 * tx + j + kB * cg;
        if (col < p.D) p.gk[(bhk * p.S + key) * p.D + col] = dk[0][cg][i][j];
        if (col < p.Dv) p.gv[(bhk * p.S + key) * p.Dv + col] = dv[0][cg][i][j];
      }
  }
}

template <typename T>
Params<T> params_of(const cpu::AttentionShape& s) {
  if (s.dim_qk > kAttentionMaxHeadDim || s.dim_v > kAttentionMaxHeadDim)
    throw std::runtime_error("attention (CUDA): head dimensions above " +
                             std::to_string(kAttentionMaxHeadDim) + " are not supported, got " +
                             std::to_string(s.dim_qk) + " and " + std::to_string(s.dim_v));
  Params<T> p{};
  p.B = s.batch, p.Hq = s.heads_q, p.Hk = s.heads_kv, p.L = s.len_q, p.S = s.len_kv;
  p.D = s.dim_qk, p.Dv = s.dim_v, p.group = s.heads_q / s.heads_kv;
  p.causal = s.causal, p.mask_kind = int(s.mask_kind), p.scale = T(s.scale), p.mask = s.mask;
  for (int d = 0; d < 4; ++d) p.ms[d] = s.mask_strides[d];
  return p;
}

// The padded head dimension: the kernels come in kD = 64 and 128.
int padded_head_dim(const cpu::AttentionShape& s) {
  return s.dim_qk > 64 || s.dim_v > 64 ? 128 : 64;
}

// Shared memory of a kernel, in elements: `wide` rows of kD + 4 and `narrow` rows of kB + 4.
template <typename T>
size_t smem_bytes(int kd, int wide, int narrow) {
  return (size_t(wide) * (kd + 4) + size_t(narrow) * (Geometry<T>::kB + 4)) * sizeof(T);
}

template <typename T>
void launch_tiles(void (*kernel)(Params<T>), dim3 grid, size_t smem, cudaStream_t stream,
                  const Params<T>& p, const char* what) {
#ifndef FASTDL_CUDA_EMU
  // Above 48 KiB a block's dynamic shared memory must be asked for (every GPU since Volta has
  // at least 96 KiB; the largest kernel here takes 151 KiB in float with kD = 128).
  if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)) !=
      cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error(std::string(what) + ": needs " + std::to_string(smem) +
                             " bytes of shared memory per block, more than this GPU allows");
  }
#endif
  launch(kernel, grid, dim3(Geometry<T>::kThreads), smem, stream, p);
#ifndef FASTDL_CUDA_EMU
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
#endif
}

}  // namespace attention_detail

template <typename T>
cpu::RowStats attention_forward(const cpu::AttentionShape& s, const T* q, const T* k, const T* v,
                                T* out, T* lse, void* stream) {
  using namespace attention_detail;
  const cpu::RowStats kind = s.row_stats ? cpu::RowStats::log2_units : cpu::RowStats::none;
  if (s.batch * s.heads_q * s.len_q == 0) return kind;
  Params<T> p = params_of<T>(s);
  p.q = q, p.k = k, p.v = v, p.o = out, p.l = lse, p.stats_out = static_cast<T*>(s.row_stats);
  constexpr int kB = Geometry<T>::kB;
  const dim3 grid(unsigned((s.len_q + kB - 1) / kB), unsigned(s.batch * s.heads_q));
  const auto st = static_cast<cudaStream_t>(stream);
  const auto run = [&](auto kernel, int kd, int buffers) {
    const size_t smem = smem_bytes<T>(kd, (1 + buffers) * kB, buffers * kd + kB);  // Q, V; K^T, P
    launch_tiles(kernel, grid, smem, st, p, "attention_forward");
  };
  if (padded_head_dim(s) == 64) run(forward_kernel<T, 64>, 64, kForwardBuffers<T, 64>);
  else run(forward_kernel<T, 128>, 128, kForwardBuffers<T, 128>);
  return kind;
}

template <typename T>
void attention_backward(const cpu::AttentionShape& s, const T* q, const T* k, const T* v,
                        const T* out, const T* grad_out, const T* lse, T* grad_q, T* grad_k,
                        T* grad_v, T* grad_mask, void* stream) {
  using namespace attention_detail;
  Params<T> p = params_of<T>(s);
  p.q = q, p.k = k, p.v = v, p.out = out, p.grad_out = grad_out, p.lse = lse;
  p.gq = grad_q, p.gk = grad_k, p.gv = grad_v, p.gm = grad_mask;
  if (s.stats_kind == cpu::RowStats::log2_units) p.stats_in = static_cast<const T*>(s.row_stats);
  const auto st = static_cast<cudaStream_t>(stream);
  const int kd = padded_head_dim(s);
  constexpr int kB = Geometry<T>::kB;
  const size_t smem = smem_bytes<T>(kd, 2 * kB, 2 * kd + kB);  // Q, dO; K^T, V^T, P / dS^T
  const int64_t rows = s.batch * s.heads_q * s.len_q;
  // rowsum(dO * O), written by dQ's kernel for the dK/dV kernel
  kutil::DeviceBuffer<T> delta(size_t(rows > 0 ? rows : 1), st);
  p.delta = delta.data();
  if (rows > 0) {
    const dim3 grid(unsigned((s.len_q + kB - 1) / kB), unsigned(s.batch * s.heads_q));
    const char* what = "attention_backward (dQ)";
    if (kd == 64) launch_tiles(backward_q_kernel<T, 64>, grid, smem, st, p, what);
    else launch_tiles(backward_q_kernel<T, 128>, grid, smem, st, p, what);
  }
  if (s.batch * s.heads_kv * s.len_kv > 0) {
    const dim3 grid(unsigned((s.len_kv + kB - 1) / kB), unsigned(s.batch * s.heads_kv));
    const char* what = "attention_backward (dK, dV)";
    if (kd == 64) launch_tiles(backward_kv_kernel<T, 64>, grid, smem, st, p, what);
    else launch_tiles(backward_kv_kernel<T, 128>, grid, smem, st, p, what);
  }
}

#define FASTDL_INSTANTIATE_CUDA_ATTENTION(T)                                                   \
  template cpu::RowStats attention_forward<T>(const cpu::AttentionShape&, const T*, const T*,   \
                                              const T*, T*, T*, void*);                        \
  template void attention_backward<T>(const cpu::AttentionShape&, const T*, const T*,          \
                                      const T*, const T*, const T*, const T*, T*, T*, T*, T*,  \
                                      void*);
FASTDL_INSTANTIATE_CUDA_ATTENTION(float)
FASTDL_INSTANTIATE_CUDA_ATTENTION(double)
#undef FASTDL_INSTANTIATE_CUDA_ATTENTION

}  // namespace fastdl::cuda
