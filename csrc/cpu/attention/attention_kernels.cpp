// Flash-style attention, compiled once per ISA (cmake/isa.cmake) and instantiated for float and
// double. The tile products run on this ISA's GEMM (gemm_kernels.cpp) with one thread each: the
// operands are laid out row-major so it reads them in place without packing (K and V are
// transposed once per call, P and dS per tile). The softmax's exponentials use a branch-free
// polynomial the compiler vectorizes (exp_fast below). bench/NOTES.md "Attention" has the counts.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <vector>

#include "cpu/attention/attention_kernels.h"
#include "cpu/gemm/gemm_kernels.h"

namespace fastdl::cpu::FASTDL_ISA {
namespace {

// Query rows and keys per tile. A (BQ x BK) score tile and the K^T / V blocks it meets stay in
// L1/L2; the GEMM's in-place path takes B blocks up to 48 KiB (D = 64 float: 64 x 128 x 4).
template <typename T>
struct Tiles {
  static constexpr int64_t BQ = 64;
  static constexpr int64_t BK = sizeof(T) == 4 ? 128 : 64;
};

// e^x for a row of x, |error| < 2 ulp, written without branches so the loop vectorizes: range
// reduction x = n ln2 + r with |r| <= ln2/2 (Cody-Waite, two-part ln2), a Taylor polynomial in r
// (degree 7 for float: r^8/8! < 6e-9; degree 13 for double: < 5e-18), and 2^n built in the
// exponent bits. Inputs below the smallest normal result (including -inf) give exactly 0.
template <typename T>
struct ExpConsts;
template <>
struct ExpConsts<float> {
  using I = int32_t;
  static constexpr float lo = -87.3f, hi = 88.3f, shifter = 12582912.0f;
  static constexpr float ln2_hi = 0.693145751953125f, ln2_lo = 1.428606765330187e-06f;
  static constexpr int mant = 23, bias = 127, degree = 7;
};
template <>
struct ExpConsts<double> {
  using I = int64_t;
  static constexpr double lo = -708.3, hi = 709.0, shifter = 6755399441055744.0;
  static constexpr double ln2_hi = 0.6931471803691238, ln2_lo = 1.9082149292705877e-10;
  static constexpr int mant = 52, bias = 1023, degree = 13;
};

template <typename T>
[[gnu::always_inline]] inline T exp_fast(T x) {
  using C = ExpConsts<T>;
  using I = typename C::I;
  const T xc = x < C::lo ? C::lo : (x > C::hi ? C::hi : x);
  const T t = xc * T(1.4426950408889634) + C::shifter;
  const T n = t - C::shifter;
  T r = xc - n * C::ln2_hi;
  r = r - n * C::ln2_lo;
  // Horner with 1/k! coefficients
  T p = T(1);
  for (int d = C::degree; d >= 1; --d) p = T(1) + p * r / T(d);
  const I bits = (I(n) + C::bias) << C::mant;
  T scale;
  std::memcpy(&scale, &bits, sizeof(T));
  const T y = p * scale;
  return x < C::lo ? T(0) : y;
}

// y[j] = exp(x[j] - shift) for j < n, returns the sum.
template <typename T>
T exp_row(T* __restrict x, int64_t n, T shift) {
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; ++j) {
    const T e = exp_fast<T>(x[j] - shift);
    x[j] = e;
    sum += e;
  }
  return sum;
}

template <typename T>
T row_max(const T* __restrict x, int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t j = 0; j < n; ++j) m = std::max(m, x[j]);
  return m;
}

constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The mask and causal rule applied to a score tile S[r, c] = score of (i0 + r, j0 + c).
template <typename T>
void apply_mask(const AttentionShape& s, int64_t b, int64_t h, int64_t i0, int64_t mq,
                int64_t j0, int64_t nk, T* tile, int64_t ld) {
  constexpr T ninf = -std::numeric_limits<T>::infinity();
  if (s.mask_kind != MaskKind::none) {
    const int64_t si = s.mask_strides[2], sj = s.mask_strides[3];
    const int64_t base = b * s.mask_strides[0] + h * s.mask_strides[1] + i0 * si + j0 * sj;
    if (s.mask_kind == MaskKind::boolean) {
      const uint8_t* m = static_cast<const uint8_t*>(s.mask) + base;
      for (int64_t r = 0; r < mq; ++r) {
        T* row = tile + r * ld;
        const uint8_t* mr = m + r * si;
        if (sj == 1) {
#pragma omp simd
          for (int64_t c = 0; c < nk; ++c) row[c] = mr[c] ? row[c] : ninf;
        } else {
          for (int64_t c = 0; c < nk; ++c) row[c] = mr[c * sj] ? row[c] : ninf;
        }
      }
    } else {
      const T* m = static_cast<const T*>(s.mask) + base;
      for (int64_t r = 0; r < mq; ++r) {
        T* row = tile + r * ld;
        const T* mr = m + r * si;
        if (sj == 1) {
#pragma omp simd
          for (int64_t c = 0; c < nk; ++c) row[c] += mr[c];
        } else {
          for (int64_t c = 0; c < nk; ++c) row[c] += mr[c * sj];
        }
      }
    }
  }
  if (s.causal && j0 + nk - 1 > i0) {  // some key of the tile lies above the diagonal
    for (int64_t r = 0; r < mq; ++r) {
      const int64_t first_masked = std::max<int64_t>(0, i0 + r + 1 - j0);
      T* row = tile + r * ld;
      for (int64_t c = first_masked; c < nk; ++c) row[c] = ninf;
    }
  }
}

// dst (cols x rows, leading dimension ld_dst) = src (rows x cols)^T.
template <typename T>
void transpose(int64_t rows, int64_t cols, const T* src, int64_t ld_src, T* dst, int64_t ld_dst) {
  constexpr int64_t kB = 16;
  for (int64_t r0 = 0; r0 < rows; r0 += kB)
    for (int64_t c0 = 0; c0 < cols; c0 += kB) {
      const int64_t r1 = std::min(rows, r0 + kB), c1 = std::min(cols, c0 + kB);
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t r = r0; r < r1; ++r) dst[c * ld_dst + r] = src[r * ld_src + c];
    }
}

// Each (batch, kv head) matrix (rows x cols) transposed into dst: (B*H, cols, rows).
template <typename T>
void transpose_heads(int64_t heads, int64_t rows, int64_t cols, const T* src, T* dst,
                     int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t bh = 0; bh < heads; ++bh)
    transpose(rows, cols, src + bh * rows * cols, cols, dst + bh * rows * cols, rows);
}

// An exception may not leave an OpenMP region: the first is carried out and rethrown.
struct ErrorSlot {
  std::exception_ptr error;
  void capture() {
#pragma omp critical(fastdl_attention_error)
    if (!error) error = std::current_exception();
  }
  void rethrow() {
    if (error) std::rethrow_exception(error);
  }
};

template <typename T>
void gemm1(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
           int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (beta == T(0))
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T(0));
    return;
  }
  gemm<T>(m, n, k, alpha, ConstMatrix<T>{a, lda, 1}, ConstMatrix<T>{b, ldb, 1}, beta,
          MutMatrix<T>{c, ldc, 1}, 1);
}

}  // namespace

template <typename T>
void attention_forward(const AttentionShape& s, const T* q, const T* k, const T* v, T* out,
                       T* lse, int threads) {
  constexpr int64_t BQ = Tiles<T>::BQ, BK = Tiles<T>::BK;
  constexpr T inf = std::numeric_limits<T>::infinity();
  const int64_t B = s.batch, Hq = s.heads_q, Hk = s.heads_kv, L = s.len_q, S = s.len_kv;
  const int64_t D = s.dim_qk, Dv = s.dim_v, group = Hq / Hk;
  if (B * Hq * L == 0) return;
  if (S == 0 || Dv == 0) {  // no keys: every row is fully masked
    std::fill(out, out + B * Hq * L * Dv, T(0));
    std::fill(lse, lse + B * Hq * L, inf);
    return;
  }
  const T scale = T(s.scale);
  std::vector<T> kt(size_t(B * Hk * S * D));  // K^T per head: (D, S), read in place by the GEMM
  transpose_heads(B * Hk, S, D, k, kt.data(), threads);

  const int64_t nqb = ceil_div(L, BQ);
  const int64_t tasks = B * Hq * nqb;
  ErrorSlot err;
#pragma omp parallel num_threads(threads)
  {
    try {
      std::vector<T> tile(size_t(BQ * BK)), m(BQ), l(BQ);
#pragma omp for schedule(dynamic, 1)
      for (int64_t task = 0; task < tasks; ++task) {
        // Causal: later query blocks have more keys; hand them out first.
        const int64_t qb = s.causal ? nqb - 1 - task % nqb : task % nqb;
        const int64_t bh = task / nqb, b = bh / Hq, h = bh % Hq, hk = h / group;
        const int64_t i0 = qb * BQ, mq = std::min(BQ, L - i0);
        const T* qblk = q + (bh * L + i0) * D;
        const T* ktb = kt.data() + (b * Hk + hk) * D * S;
        const T* vb = v + (b * Hk + hk) * S * Dv;
        T* acc = out + (bh * L + i0) * Dv;
        std::fill(acc, acc + mq * Dv, T(0));
        std::fill(m.begin(), m.end(), -inf);
        std::fill(l.begin(), l.end(), T(0));
        const int64_t kv_end = s.causal ? std::min(S, i0 + mq) : S;
        for (int64_t j0 = 0; j0 < kv_end; j0 += BK) {
          const int64_t nk = std::min(BK, kv_end - j0);
          gemm1<T>(mq, nk, D, scale, qblk, D, ktb + j0, S, T(0), tile.data(), BK);
          apply_mask<T>(s, b, h, i0, mq, j0, nk, tile.data(), BK);
          for (int64_t r = 0; r < mq; ++r) {
            T* row = tile.data() + r * BK;
            const T m_new = std::max(m[r], row_max(row, nk));
            if (m_new == -inf) {  // nothing takes part yet: P = 0 on this row
              std::fill(row, row + nk, T(0));
              continue;
            }
            const T sum = exp_row(row, nk, m_new);
            const T alpha = m[r] == -inf ? T(0) : exp_fast<T>(m[r] - m_new);
            if (alpha != T(1)) {
              T* o = acc + r * Dv;
#pragma omp simd
              for (int64_t c = 0; c < Dv; ++c) o[c] *= alpha;
            }
            l[r] = l[r] * alpha + sum;
            m[r] = m_new;
          }
          gemm1<T>(mq, Dv, nk, T(1), tile.data(), BK, vb + j0 * Dv, Dv, T(1), acc, Dv);
        }
        T* lse_blk = lse + bh * L + i0;
        for (int64_t r = 0; r < mq; ++r) {
          T* o = acc + r * Dv;
          if (l[r] > T(0)) {
            const T inv = T(1) / l[r];
#pragma omp simd
            for (int64_t c = 0; c < Dv; ++c) o[c] *= inv;
            lse_blk[r] = m[r] + std::log(l[r]);
          } else {
            std::fill(o, o + Dv, T(0));
            lse_blk[r] = inf;
          }
        }
      }
    } catch (...) {
      err.capture();
    }
  }
  err.rethrow();
}

// FlashAttention-2's backward: one task per (batch, kv head) walks the key blocks; for each it
// meets every query block (of every query head of the group) that can see it, recomputing
// P = exp(S - lse), and accumulates dV = P^T dO, dK = scale dS^T Q in place and
// dQ += scale dS K, where dS = P * (dO V^T - rowsum(dO * O)). Each gradient element is written by
// one task in a fixed order: deterministic.
template <typename T>
void attention_backward(const AttentionShape& s, const T* q, const T* k, const T* v,
                        const T* out, const T* grad_out, const T* lse, T* grad_q, T* grad_k,
                        T* grad_v, T* grad_mask, int threads) {
  constexpr int64_t BQ = Tiles<T>::BQ, BK = Tiles<T>::BK;
  const int64_t B = s.batch, Hq = s.heads_q, Hk = s.heads_kv, L = s.len_q, S = s.len_kv;
  const int64_t D = s.dim_qk, Dv = s.dim_v, group = Hq / Hk;
  std::fill(grad_q, grad_q + B * Hq * L * D, T(0));
  std::fill(grad_k, grad_k + B * Hk * S * D, T(0));
  std::fill(grad_v, grad_v + B * Hk * S * Dv, T(0));
  if (grad_mask) std::fill(grad_mask, grad_mask + B * Hq * L * S, T(0));
  if (B * Hq * L == 0 || S == 0) return;
  const T scale = T(s.scale);

  std::vector<T> kt(size_t(B * Hk * S * D)), vt(size_t(B * Hk * S * Dv)), delta(size_t(B * Hq * L));
  transpose_heads(B * Hk, S, D, k, kt.data(), threads);
  transpose_heads(B * Hk, S, Dv, v, vt.data(), threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t row = 0; row < B * Hq * L; ++row) {
    const T* o = out + row * Dv;
    const T* g = grad_out + row * Dv;
    T acc = 0;
    for (int64_t c = 0; c < Dv; ++c) acc += o[c] * g[c];
    delta[row] = acc;
  }

  const int64_t tasks = B * Hk;
  ErrorSlot err;
#pragma omp parallel num_threads(threads)
  {
    try {
      std::vector<T> p(size_t(BQ * BK)), pt(size_t(BK * BQ)), dp(size_t(BQ * BK));
#pragma omp for schedule(dynamic, 1)
      for (int64_t task = 0; task < tasks; ++task) {
        const int64_t b = task / Hk, hk = task % Hk;
        const T* kb = k + task * S * D;
        const T* ktb = kt.data() + task * D * S;
        const T* vtb = vt.data() + task * Dv * S;
        for (int64_t j0 = 0; j0 < S; j0 += BK) {
          const int64_t nk = std::min(BK, S - j0);
          T* dk = grad_k + (task * S + j0) * D;
          T* dv = grad_v + (task * S + j0) * Dv;
          // Causal: query rows i >= j0 see this block.
          const int64_t first_qb = s.causal ? j0 / BQ : 0;
          for (int64_t h = hk * group; h < (hk + 1) * group; ++h) {
            const int64_t bh = b * Hq + h;
            for (int64_t i0 = first_qb * BQ; i0 < L; i0 += BQ) {
              const int64_t mq = std::min(BQ, L - i0);
              const T* qblk = q + (bh * L + i0) * D;
              const T* doblk = grad_out + (bh * L + i0) * Dv;
              const T* lse_blk = lse + bh * L + i0;
              const T* delta_blk = delta.data() + bh * L + i0;
              gemm1<T>(mq, nk, D, scale, qblk, D, ktb + j0, S, T(0), p.data(), BK);
              apply_mask<T>(s, b, h, i0, mq, j0, nk, p.data(), BK);
              for (int64_t r = 0; r < mq; ++r) exp_row(p.data() + r * BK, nk, lse_blk[r]);
              transpose(mq, nk, p.data(), BK, pt.data(), BQ);
              gemm1<T>(nk, Dv, mq, T(1), pt.data(), BQ, doblk, Dv, T(1), dv, Dv);
              gemm1<T>(mq, nk, Dv, T(1), doblk, Dv, vtb + j0, S, T(0), dp.data(), BK);
              for (int64_t r = 0; r < mq; ++r) {
                T* dpr = dp.data() + r * BK;
                const T* pr = p.data() + r * BK;
                const T dr = delta_blk[r];
#pragma omp simd
                for (int64_t c = 0; c < nk; ++c) dpr[c] = pr[c] * (dpr[c] - dr);
              }
              if (grad_mask) {
                T* gm = grad_mask + (bh * L + i0) * S + j0;
                for (int64_t r = 0; r < mq; ++r)
                  std::copy(dp.data() + r * BK, dp.data() + r * BK + nk, gm + r * S);
              }
              gemm1<T>(mq, D, nk, scale, dp.data(), BK, kb + j0 * D, D, T(1),
                       grad_q + (bh * L + i0) * D, D);
              transpose(mq, nk, dp.data(), BK, pt.data(), BQ);
              gemm1<T>(nk, D, mq, scale, pt.data(), BQ, qblk, D, T(1), dk, D);
            }
          }
        }
      }
    } catch (...) {
      err.capture();
    }
  }
  err.rethrow();
}

#define FASTDL_INSTANTIATE_ATTENTION_KERNELS(T)                                                 \
  template void attention_forward<T>(const AttentionShape&, const T*, const T*, const T*, T*,  \
                                     T*, int);                                                 \
  template void attention_backward<T>(const AttentionShape&, const T*, const T*, const T*,     \
                                      const T*, const T*, const T*, T*, T*, T*, T*, int);
FASTDL_INSTANTIATE_ATTENTION_KERNELS(float)
FASTDL_INSTANTIATE_ATTENTION_KERNELS(double)
#undef FASTDL_INSTANTIATE_ATTENTION_KERNELS

}  // namespace fastdl::cpu::FASTDL_ISA
