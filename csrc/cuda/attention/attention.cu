// Flash attention kernels (FlashAttention-1's per-row formulation, fp32/fp64, no tensor cores),
// written once for nvcc and the CPU emulator (cuda/common/launch.cuh).
//   forward: a block of kRows threads takes kRows query rows of one (batch, head); each thread
//     owns one row (q and the output accumulator in registers) and walks the keys in tiles of
//     kTile staged in shared memory, with an online softmax (running max and sum); it writes the
//     row's output and log-sum-exp (+inf for a row no key takes part in: output 0). Causal blocks
//     stop at their last row's diagonal.
//   backward, two kernels, no atomics (deterministic): dQ (one thread per query row, walking key
//     tiles: dS = P (dO . v - delta), dQ += scale dS k) and dK/dV (one thread per key row of a
//     key/value head, walking the query tiles of every query head of its group:
//     dV += P dO, dK += scale dS q), both recomputing P = exp(s - lse) from the saved lse.
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "cuda/attention/attention.h"
#include "cuda/common/launch.cuh"

namespace fastdl::cuda {

namespace attention_detail {

constexpr int kRows = 64;  // threads per block, one row each
template <typename T>
struct Tile {
  static constexpr int kKeys = sizeof(T) == 4 ? 32 : 16;  // shared tile: kKeys * (D + Dv) * T
};
constexpr int kMaxDim = int(kAttentionMaxHeadDim);

template <typename T>
struct Params {
  const T *q, *k, *v, *out, *grad_out, *lse;
  T *o, *l, *gq, *gk, *gv, *gm;
  int64_t B, Hq, Hk, L, S, D, Dv, group;
  int causal, mask_kind;
  T scale;
  const void* mask;
  int64_t ms[4];
};

template <typename T>
__device__ __forceinline__ T ninf() { return -T(INFINITY); }  // usable in device code

__device__ __forceinline__ double exp_t(double x) { return ::exp(x); }
__device__ __forceinline__ float exp_t(float x) { return ::expf(x); }
__device__ __forceinline__ double log_t(double x) { return ::log(x); }
__device__ __forceinline__ float log_t(float x) { return ::logf(x); }

// The score of (i, j) after the mask and the causal rule (-inf where j takes no part).
template <typename T>
__device__ __forceinline__ T masked_score(const Params<T>& p, int64_t b, int64_t h, int64_t i,
                                          int64_t j, T s) {
  if (p.causal && j > i) return ninf<T>();
  if (p.mask_kind != 0) {
    const int64_t off = b * p.ms[0] + h * p.ms[1] + i * p.ms[2] + j * p.ms[3];
    if (p.mask_kind == 1) return static_cast<const uint8_t*>(p.mask)[off] ? s : ninf<T>();
    s += static_cast<const T*>(p.mask)[off];
  }
  return s;
}

template <typename T>
__global__ void __launch_bounds__(kRows) forward_kernel(Params<T> p) {
  constexpr int kKeys = Tile<T>::kKeys;
  FASTDL_DYNAMIC_SHARED(T, smem);
  T* ks = smem;
  T* vs = smem + kKeys * p.D;
  const int64_t bh = blockIdx.y, b = bh / p.Hq, h = bh % p.Hq, hk = h / p.group;
  const int64_t i = int64_t(blockIdx.x) * kRows + threadIdx.x;
  const bool active = i < p.L;
  const T* kb = p.k + (b * p.Hk + hk) * p.S * p.D;
  const T* vb = p.v + (b * p.Hk + hk) * p.S * p.Dv;
  T qr[kMaxDim], acc[kMaxDim];
  for (int d = 0; d < p.D; ++d) qr[d] = active ? p.q[(bh * p.L + i) * p.D + d] : T(0);
  for (int d = 0; d < p.Dv; ++d) acc[d] = T(0);
  T m = ninf<T>(), l = T(0);
  const int64_t last_row = int64_t(blockIdx.x) * kRows + kRows - 1;
  const int64_t kv_end = p.causal ? (last_row + 1 < p.S ? last_row + 1 : p.S) : p.S;
  for (int64_t j0 = 0; j0 < kv_end; j0 += kKeys) {
    const int nk = int(kv_end - j0 < kKeys ? kv_end - j0 : kKeys);
    __syncthreads();  // the previous tile's readers are done
    for (int64_t x = threadIdx.x; x < nk * p.D; x += kRows) ks[x] = kb[j0 * p.D + x];
    for (int64_t x = threadIdx.x; x < nk * p.Dv; x += kRows) vs[x] = vb[j0 * p.Dv + x];
    __syncthreads();
    if (!active) continue;
    for (int c = 0; c < nk; ++c) {
      T s = T(0);
      for (int d = 0; d < p.D; ++d) s += qr[d] * ks[c * p.D + d];
      s = masked_score(p, b, h, i, j0 + c, s * p.scale);
      if (s == ninf<T>()) continue;
      if (s > m) {
        const T alpha = m == ninf<T>() ? T(0) : exp_t(m - s);
        for (int d = 0; d < p.Dv; ++d) acc[d] *= alpha;
        l *= alpha;
        m = s;
      }
      const T e = exp_t(s - m);
      l += e;
      for (int d = 0; d < p.Dv; ++d) acc[d] += e * vs[c * p.Dv + d];
    }
  }
  if (!active) return;
  const T inv = l > T(0) ? T(1) / l : T(0);
  for (int d = 0; d < p.Dv; ++d) p.o[(bh * p.L + i) * p.Dv + d] = acc[d] * inv;
  p.l[bh * p.L + i] = l > T(0) ? m + log_t(l) : -ninf<T>();
}

// dQ (and the additive mask's dS): one thread per query row.
template <typename T>
__global__ void __launch_bounds__(kRows) backward_q_kernel(Params<T> p) {
  constexpr int kKeys = Tile<T>::kKeys;
  FASTDL_DYNAMIC_SHARED(T, smem);
  T* ks = smem;
  T* vs = smem + kKeys * p.D;
  const int64_t bh = blockIdx.y, b = bh / p.Hq, h = bh % p.Hq, hk = h / p.group;
  const int64_t i = int64_t(blockIdx.x) * kRows + threadIdx.x;
  const bool active = i < p.L;
  const T* kb = p.k + (b * p.Hk + hk) * p.S * p.D;
  const T* vb = p.v + (b * p.Hk + hk) * p.S * p.Dv;
  T qr[kMaxDim], gor[kMaxDim], dq[kMaxDim];
  T delta = T(0);
  for (int d = 0; d < p.D; ++d) {
    qr[d] = active ? p.q[(bh * p.L + i) * p.D + d] : T(0);
    dq[d] = T(0);
  }
  for (int d = 0; d < p.Dv; ++d) {
    gor[d] = active ? p.grad_out[(bh * p.L + i) * p.Dv + d] : T(0);
    if (active) delta += gor[d] * p.out[(bh * p.L + i) * p.Dv + d];
  }
  const T lse = active ? p.lse[bh * p.L + i] : T(0);
  const int64_t last_row = int64_t(blockIdx.x) * kRows + kRows - 1;
  // With a mask gradient every (i, j) is written (0 where masked), so no key is skipped.
  const int64_t kv_end = p.causal && !p.gm ? (last_row + 1 < p.S ? last_row + 1 : p.S) : p.S;
  for (int64_t j0 = 0; j0 < kv_end; j0 += kKeys) {
    const int nk = int(kv_end - j0 < kKeys ? kv_end - j0 : kKeys);
    __syncthreads();
    for (int64_t x = threadIdx.x; x < nk * p.D; x += kRows) ks[x] = kb[j0 * p.D + x];
    for (int64_t x = threadIdx.x; x < nk * p.Dv; x += kRows) vs[x] = vb[j0 * p.Dv + x];
    __syncthreads();
    if (!active) continue;
    for (int c = 0; c < nk; ++c) {
      T s = T(0);
      for (int d = 0; d < p.D; ++d) s += qr[d] * ks[c * p.D + d];
      s = masked_score(p, b, h, i, j0 + c, s * p.scale);
      T ds = T(0);
      if (s != ninf<T>()) {
        const T pr = exp_t(s - lse);
        T dp = T(0);
        for (int d = 0; d < p.Dv; ++d) dp += gor[d] * vs[c * p.Dv + d];
        ds = pr * (dp - delta);
        for (int d = 0; d < p.D; ++d) dq[d] += p.scale * ds * ks[c * p.D + d];
      }
      if (p.gm) p.gm[(bh * p.L + i) * p.S + j0 + c] = ds;
    }
  }
  if (!active) return;
  for (int d = 0; d < p.D; ++d) p.gq[(bh * p.L + i) * p.D + d] = dq[d];
}

// dK and dV: one thread per key row of a (batch, key/value head), over its group's query heads.
template <typename T>
__global__ void __launch_bounds__(kRows) backward_kv_kernel(Params<T> p) {
  constexpr int kKeys = Tile<T>::kKeys;  // query rows per shared tile here
  FASTDL_DYNAMIC_SHARED(T, smem);
  T* qs = smem;
  T* gos = smem + kKeys * p.D;
  T* lses = gos + kKeys * p.Dv;
  T* deltas = lses + kKeys;
  const int64_t bhk = blockIdx.y, b = bhk / p.Hk;
  const int64_t j = int64_t(blockIdx.x) * kRows + threadIdx.x;
  const bool active = j < p.S;
  T kr[kMaxDim], vr[kMaxDim], dk[kMaxDim], dv[kMaxDim];
  for (int d = 0; d < p.D; ++d) {
    kr[d] = active ? p.k[(bhk * p.S + j) * p.D + d] : T(0);
    dk[d] = T(0);
  }
  for (int d = 0; d < p.Dv; ++d) {
    vr[d] = active ? p.v[(bhk * p.S + j) * p.Dv + d] : T(0);
    dv[d] = T(0);
  }
  const int64_t first_key = int64_t(blockIdx.x) * kRows;
  const int64_t i_begin = p.causal ? first_key / kKeys * kKeys : 0;  // rows i >= j see key j
  for (int64_t h = (bhk % p.Hk) * p.group; h < (bhk % p.Hk + 1) * p.group; ++h) {
    const int64_t bh = b * p.Hq + h;
    for (int64_t i0 = i_begin; i0 < p.L; i0 += kKeys) {
      const int nq = int(p.L - i0 < kKeys ? p.L - i0 : kKeys);
      __syncthreads();
      for (int64_t x = threadIdx.x; x < nq * p.D; x += kRows)
        qs[x] = p.q[(bh * p.L + i0) * p.D + x];
      for (int64_t x = threadIdx.x; x < nq * p.Dv; x += kRows)
        gos[x] = p.grad_out[(bh * p.L + i0) * p.Dv + x];
      for (int64_t r = threadIdx.x; r < nq; r += kRows) {
        T acc = T(0);
        for (int d = 0; d < p.Dv; ++d)
          acc += p.grad_out[(bh * p.L + i0 + r) * p.Dv + d] * p.out[(bh * p.L + i0 + r) * p.Dv + d];
        deltas[r] = acc;
        lses[r] = p.lse[bh * p.L + i0 + r];
      }
      __syncthreads();
      if (!active) continue;
      for (int r = 0; r < nq; ++r) {
        T s = T(0);
        for (int d = 0; d < p.D; ++d) s += qs[r * p.D + d] * kr[d];
        s = masked_score(p, b, h, i0 + r, j, s * p.scale);
        if (s == ninf<T>()) continue;
        const T pr = exp_t(s - lses[r]);
        T dp = T(0);
        for (int d = 0; d < p.Dv; ++d) {
          dv[d] += pr * gos[r * p.Dv + d];
          dp += gos[r * p.Dv + d] * vr[d];
        }
        const T ds = pr * (dp - deltas[r]);
        for (int d = 0; d < p.D; ++d) dk[d] += p.scale * ds * qs[r * p.D + d];
      }
    }
  }
  if (!active) return;
  for (int d = 0; d < p.D; ++d) p.gk[(bhk * p.S + j) * p.D + d] = dk[d];
  for (int d = 0; d < p.Dv; ++d) p.gv[(bhk * p.S + j) * p.Dv + d] = dv[d];
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

void check_launch(const char* what) {
#ifndef FASTDL_CUDA_EMU
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
#else
  (void)what;
#endif
}

}  // namespace attention_detail

template <typename T>
void attention_forward(const cpu::AttentionShape& s, const T* q, const T* k, const T* v, T* out,
                       T* lse, void* stream) {
  using namespace attention_detail;
  if (s.batch * s.heads_q * s.len_q == 0) return;
  Params<T> p = params_of<T>(s);
  p.q = q, p.k = k, p.v = v, p.o = out, p.l = lse;
  const size_t smem = size_t(Tile<T>::kKeys) * size_t(s.dim_qk + s.dim_v) * sizeof(T);
  const dim3 grid(unsigned((s.len_q + kRows - 1) / kRows), unsigned(s.batch * s.heads_q));
  launch(forward_kernel<T>, grid, dim3(kRows), smem, static_cast<cudaStream_t>(stream), p);
  check_launch("attention_forward");
}

template <typename T>
void attention_backward(const cpu::AttentionShape& s, const T* q, const T* k, const T* v,
                        const T* out, const T* grad_out, const T* lse, T* grad_q, T* grad_k,
                        T* grad_v, T* grad_mask, void* stream) {
  using namespace attention_detail;
  Params<T> p = params_of<T>(s);
  p.q = q, p.k = k, p.v = v, p.out = out, p.grad_out = grad_out, p.lse = lse;
  p.gq = grad_q, p.gk = grad_k, p.gv = grad_v, p.gm = grad_mask;
  const auto st = static_cast<cudaStream_t>(stream);
  constexpr int kKeys = Tile<T>::kKeys;
  if (s.batch * s.heads_q * s.len_q > 0) {
    const size_t smem = size_t(kKeys) * size_t(s.dim_qk + s.dim_v) * sizeof(T);
    const dim3 grid(unsigned((s.len_q + kRows - 1) / kRows), unsigned(s.batch * s.heads_q));
    launch(backward_q_kernel<T>, grid, dim3(kRows), smem, st, p);
    check_launch("attention_backward (dQ)");
  }
  if (s.batch * s.heads_kv * s.len_kv > 0) {
    const size_t smem = size_t(kKeys) * size_t(s.dim_qk + s.dim_v + 2) * sizeof(T);
    const dim3 grid(unsigned((s.len_kv + kRows - 1) / kRows), unsigned(s.batch * s.heads_kv));
    launch(backward_kv_kernel<T>, grid, dim3(kRows), smem, st, p);
    check_launch("attention_backward (dK, dV)");
  }
}

#define FASTDL_INSTANTIATE_CUDA_ATTENTION(T)                                                   \
  template void attention_forward<T>(const cpu::AttentionShape&, const T*, const T*, const T*, \
                                     T*, T*, void*);                                           \
  template void attention_backward<T>(const cpu::AttentionShape&, const T*, const T*,          \
                                      const T*, const T*, const T*, const T*, T*, T*, T*, T*,  \
                                      void*);
FASTDL_INSTANTIATE_CUDA_ATTENTION(float)
FASTDL_INSTANTIATE_CUDA_ATTENTION(double)
#undef FASTDL_INSTANTIATE_CUDA_ATTENTION

}  // namespace fastdl::cuda
