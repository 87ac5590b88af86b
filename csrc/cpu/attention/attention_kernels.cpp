// Flash-style attention, compiled once per ISA (cmake/isa.cmake) and instantiated for float and
// double. The tile products run on this ISA's GEMM (gemm_kernels.cpp) with one thread each: the
// operands are laid out row-major so it reads them in place without packing (K and V are
// transposed once per call, P and dS per tile). The softmax's exponentials use a branch-free
// polynomial the compiler vectorizes (exp_fast below). bench/NOTES.md "Attention" has the counts.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <exception>
#include <limits>
#include <type_traits>
#include <vector>

#include "cpu/attention/attention_kernels.h"
#include "cpu/attention/attention_common.h"
#include "cpu/gemm/gemm_kernels.h"
#include "cpu/gemm/gemv_one_vector.h"

#if defined(FASTDL_ISA_avx512)
#include "cpu/attention/attention_flash_backward_avx512.h"
#endif

namespace fastdl::cpu::FASTDL_ISA {
namespace {

// Query rows and keys per tile. A (BQ x BK) score tile and the K^T / V blocks it meets stay in
// L1/L2; the GEMM's in-place path takes B blocks up to 48 KiB (D = 64 float: 64 x 128 x 4).
template <typename T>
struct Tiles {
  static constexpr int64_t BQ = sizeof(T) == 4 ? 96 : 48;
  static constexpr int64_t BK = sizeof(T) == 4 ? 96 : 48;
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

inline constexpr double kInvFactorial[] = {
    1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
    1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0};

template <typename T>
[[gnu::always_inline]] inline T exp_fast(T x) {
  using C = ExpConsts<T>;
  using I = typename C::I;
  const T xc = x < C::lo ? C::lo : (x > C::hi ? C::hi : x);
  const T t = xc * T(1.4426950408889634) + C::shifter;
  const T n = t - C::shifter;
  T r = xc - n * C::ln2_hi;
  r = r - n * C::ln2_lo;
  // Horner on the Taylor coefficients 1/k! (constants: no division in the loop)
  T p = T(kInvFactorial[C::degree]);
  for (int d = C::degree - 1; d >= 0; --d) p = p * r + T(kInvFactorial[d]);
  const I bits = (I(n) + C::bias) << C::mant;
  T scale;
  std::memcpy(&scale, &bits, sizeof(T));
  const T y = p * scale;
  return x < C::lo ? T(0) : y;
}

// y[j] = exp((x[j] - shift) - shift_lo) for j < n, returns the sum.
template <typename T>
T exp_row(T* __restrict x, int64_t n, T shift, T shift_lo = T(0)) {
#if defined(FASTDL_ISA_avx512)
  if constexpr (std::is_same_v<T, float>) {  // the forward's exp2 (2 ulp): 2^((x - shift) log2 e)
    const __m512 vs = _mm512_set1_ps(shift), vlo = _mm512_set1_ps(shift_lo);
    const __m512 l2e = _mm512_set1_ps(flash::kLog2e);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j += 16) {
      const __mmask16 lanes = flash::first_lanes(n - j);
      const __m512 x0 = _mm512_sub_ps(_mm512_maskz_loadu_ps(lanes, x + j), vs);
      const __m512 e = _mm512_maskz_mov_ps(
          lanes, flash::exp2_ps(_mm512_mul_ps(_mm512_sub_ps(x0, vlo), l2e)));
      _mm512_mask_storeu_ps(x + j, lanes, e);
      acc = _mm512_add_ps(acc, e);
    }
    return _mm512_reduce_add_ps(acc);
  }
#endif
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; ++j) {
    const T e = exp_fast<T>((x[j] - shift) - shift_lo);
    x[j] = e;
    sum += e;
  }
  return sum;
}

// Largest x[j]: kLanes independent maxima over full chunks (a fixed-length inner loop the
// compiler turns into vector max instructions), then the tail.
template <typename T>
T row_max(const T* __restrict x, int64_t n) {
  constexpr int kLanes = 64 / sizeof(T);
  T lanes[kLanes];
  for (int c = 0; c < kLanes; ++c) lanes[c] = -std::numeric_limits<T>::infinity();
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int c = 0; c < kLanes; ++c) lanes[c] = x[j + c] > lanes[c] ? x[j + c] : lanes[c];
  T m = -std::numeric_limits<T>::infinity();
  for (int c = 0; c < kLanes; ++c) m = lanes[c] > m ? lanes[c] : m;
  for (; j < n; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The mask and causal rule applied to a score tile S[r, c] = score of (i0 + r, j0 + c).
template <typename T>
void apply_mask(const AttentionShape& s, int64_t b, int64_t h, int64_t i0, int64_t mq,
                int64_t j0, int64_t nk, T* tile, int64_t ld) {
  constexpr T ninf = -std::numeric_limits<T>::infinity();
  apply_user_mask<T>(s, b, h, i0, j0, mq, nk, false, tile, ld);
  if (s.causal && j0 + nk - 1 > i0) {  // some key of the tile lies above the diagonal
    for (int64_t r = 0; r < mq; ++r) {
      const int64_t first_masked = std::max<int64_t>(0, i0 + r + 1 - j0);
      T* row = tile + r * ld;
      for (int64_t c = first_masked; c < nk; ++c) row[c] = ninf;
    }
  }
}

// The same for a transposed tile St[r, c] = score of (query i0 + c, key j0 + r).
template <typename T>
void apply_mask_transposed(const AttentionShape& s, int64_t b, int64_t h, int64_t i0, int64_t mq,
                           int64_t j0, int64_t nk, T* tile, int64_t ld) {
  constexpr T ninf = -std::numeric_limits<T>::infinity();
  apply_user_mask<T>(s, b, h, i0, j0, nk, mq, true, tile, ld);
  if (s.causal && j0 + nk - 1 > i0) {  // key j0 + r is masked for queries i0 + c < j0 + r
    for (int64_t r = 0; r < nk; ++r) {
      const int64_t masked = std::min<int64_t>(mq, j0 + r - i0);
      T* row = tile + r * ld;
      for (int64_t c = 0; c < masked; ++c) row[c] = ninf;
    }
  }
}

// dst (cols x rows, leading dimension ld_dst) = src (rows x cols)^T.
template <typename T>
void transpose(int64_t rows, int64_t cols, const T* src, int64_t ld_src, T* dst, int64_t ld_dst) {
  constexpr int64_t kB = 16;
#if defined(FASTDL_ISA_avx512)
  if constexpr (std::is_same_v<T, float>) {  // 16 rows at a time: one gather per column
    if (ld_src < (int64_t(1) << 26)) {
      const __m512i index = _mm512_mullo_epi32(
          _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
          _mm512_set1_epi32(int32_t(ld_src)));
      for (int64_t r0 = 0; r0 < rows; r0 += 16) {
        const __mmask16 lanes = flash::first_lanes(rows - r0);
        const T* block = src + r0 * ld_src;
        for (int64_t c = 0; c < cols; ++c)
          _mm512_mask_storeu_ps(dst + c * ld_dst + r0, lanes,
                                _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, index,
                                                         block + c, 4));
      }
      return;
    }
  }
#endif
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

// Rows of a (B, H, rows, cols) operand placed by `layout` into C order, and back.
template <typename T>
std::vector<T> packed_copy(const T* a, RowLayout layout, int64_t B, int64_t H, int64_t rows,
                           int64_t cols) {
  std::vector<T> out(size_t(B * H * rows * cols));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < rows; ++i)
        std::copy_n(a + layout.at(b, h, i), cols, out.data() + ((b * H + h) * rows + i) * cols);
  return out;
}

template <typename T>
void unpack_into(const std::vector<T>& packed, T* a, RowLayout layout, int64_t B, int64_t H,
                 int64_t rows, int64_t cols) {
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < rows; ++i)
        std::copy_n(packed.data() + ((b * H + h) * rows + i) * cols, cols, a + layout.at(b, h, i));
}

// Whether the fused AVX-512 kernels (attention_flash*_avx512.h) are this call's path: float on
// the AVX-512 copy, unless `variable` (FASTDL_ATTENTION_FORWARD / _BACKWARD, read per call) is
// "v2", which runs the GEMM-tile versions below instead, for A/B measurements and tests. Only
// they read row-strided operands in place; the others are given C-ordered copies.
template <typename T>
bool fused_path(const char* variable) {
#if defined(FASTDL_ISA_avx512)
  if constexpr (std::is_same_v<T, float>) {
    const char* choice = std::getenv(variable);
    return !(choice && std::strcmp(choice, "v2") == 0);
  }
#endif
  (void)variable;
  return false;
}

// A decoding step (a new token or a few against the cached keys, no mask, no gradient wanted:
// no row statistics asked for) has too little work for the tiled path: its per-task setup and K
// packing cost ~20x the flops (20 us for 6 heads of 1 query x 100 keys, bench/NOTES.md "GPT
// step"). Here each query row takes its scores as dot products with K's rows read in place,
// then the softmax and P V (the GEMV's one-vector loops); one thread per row, in a fixed order. (Its scores round differently
// from the backward's recomputed ones, which the backward's row statistics must match: so only
// without them.)
constexpr int64_t kFewQueryRows = 4;

template <typename T>
RowStats forward_few_queries(const AttentionShape& s, const T* q, const T* k, const T* v, T* out,
                             T* lse, int threads) {
  const int64_t Hq = s.heads_q, L = s.len_q, S = s.len_kv, D = s.dim_qk, Dv = s.dim_v;
  const int64_t group = Hq / s.heads_kv, rows = s.batch * Hq * L;
  const T scale = T(s.scale);
  // one thread below ~100k multiply-adds: waking the others costs more than it saves
  const int used = rows * S * (D + Dv) >= (int64_t(1) << 17) ? threads : 1;
  ErrorSlot err;
#pragma omp parallel num_threads(used)
  {
    try {
      std::vector<T> p(static_cast<size_t>(S)), acc(static_cast<size_t>(Dv));
#pragma omp for schedule(static)
      for (int64_t row = 0; row < rows; ++row) {
        const int64_t i = row % L, b = row / L / Hq, h = row / L % Hq, hk = h / group;
        const int64_t n = s.causal ? std::min(S, i + 1) : S;
        const T* qi = q + s.q_rows.at(b, h, i);
        dot_rows_one_vector(n, D, k + s.k_rows.at(b, hk, 0), s.k_rows.row, qi, p.data());
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) p[j] *= scale;
        const T m = row_max(p.data(), n);
        T l = 0;
#pragma omp simd reduction(+ : l)
        for (int64_t j = 0; j < n; ++j) {
          p[j] = exp_fast<T>(p[j] - m);
          l += p[j];
        }
        sum_weighted_rows_one_vector(Dv, n, v + s.v_rows.at(b, hk, 0), s.v_rows.row, p.data(),
                                     acc.data());
        T* o = out + s.out_rows.at(b, h, i);
        const T inv = T(1) / l;
        for (int64_t d = 0; d < Dv; ++d) o[d] = acc[d] * inv;
        // in double: m may be large next to log l (the flash kernels' reason too)
        lse[row] = T(double(m) + std::log(double(l)));
      }
    } catch (...) {
      err.capture();
    }
  }
  err.rethrow();
  return RowStats::none;
}

}  // namespace

// Forward, one task per (batch, query head, block of BQ query rows), computed transposed so
// that every tile product has a multiple of the micro-kernel's width as its n (BQ or BK, never
// the head dimension): S^T = K_blk Q_blk^T (nk x mq), then per query (a column, so the online
// softmax's statistics are vector lanes) the running max m, the sum l and the rescale factor,
// P^T = exp(S^T - m), and O^T (Dv x mq) = alpha * O^T + V_blk^T P^T. K is read in place, Q's
// block is transposed once per task, V once per call.
template <typename T>
RowStats attention_forward(const AttentionShape& s, const T* q, const T* k, const T* v, T* out,
                           T* lse, int threads) {
  constexpr int64_t BQ = Tiles<T>::BQ, BK = Tiles<T>::BK;
  constexpr T inf = std::numeric_limits<T>::infinity();
  const int64_t B = s.batch, Hq = s.heads_q, Hk = s.heads_kv, L = s.len_q, S = s.len_kv;
  const int64_t D = s.dim_qk, Dv = s.dim_v, group = Hq / Hk;
  const bool fused = fused_path<T>("FASTDL_ATTENTION_FORWARD");
  const bool empty = B * Hq * L == 0 || S == 0 || Dv == 0;  // handled below, in C order
  if (!empty && L <= kFewQueryRows && s.mask_kind == MaskKind::none && !s.row_stats)
    return forward_few_queries(s, q, k, v, out, lse, threads);
  if (!s.packed() && (!fused || empty)) {
    AttentionShape p = s;
    p.set_packed_layouts();
    std::vector<T> o(size_t(B * Hq * L * Dv));
    const RowStats kind = attention_forward<T>(
        p, packed_copy(q, s.q_rows, B, Hq, L, D).data(), packed_copy(k, s.k_rows, B, Hk, S, D).data(),
        packed_copy(v, s.v_rows, B, Hk, S, Dv).data(), o.data(), lse, threads);
    unpack_into(o, out, s.out_rows, B, Hq, L, Dv);
    return kind;
  }
  if (B * Hq * L == 0) return RowStats::none;
  if (S == 0 || Dv == 0) {  // no keys: every row is fully masked
    std::fill(out, out + B * Hq * L * Dv, T(0));
    std::fill(lse, lse + B * Hq * L, S == 0 ? inf : T(0));
    return RowStats::none;
  }
#if defined(FASTDL_ISA_avx512)
  if constexpr (std::is_same_v<T, float>)
    if (fused) return flash::forward(s, q, k, v, out, lse, threads);
#endif
  const T scale = T(s.scale);
  std::vector<T> vt(size_t(B * Hk * S * Dv));  // V^T per head: (Dv, S), read in place
  transpose_heads(B * Hk, S, Dv, v, vt.data(), threads);

  const int64_t nqb = ceil_div(L, BQ);
  const int64_t tasks = B * Hq * nqb;
  ErrorSlot err;
#pragma omp parallel num_threads(threads)
  {
    try {
      std::vector<T> st(size_t(BK * BQ)), qt(size_t(D * BQ)), ot(size_t(Dv * BQ));
      alignas(64) T m[BQ], l[BQ], shift[BQ], alpha[BQ];
#pragma omp for schedule(dynamic, 1)
      for (int64_t task = 0; task < tasks; ++task) {
        // Causal: later query blocks have more keys; hand them out first.
        const int64_t qb = s.causal ? nqb - 1 - task % nqb : task % nqb;
        const int64_t bh = task / nqb, b = bh / Hq, h = bh % Hq, hk = h / group;
        const int64_t i0 = qb * BQ, mq = std::min(BQ, L - i0);
        const T* kb = k + (b * Hk + hk) * S * D;
        const T* vtb = vt.data() + (b * Hk + hk) * Dv * S;
        transpose(mq, D, q + (bh * L + i0) * D, D, qt.data(), BQ);
        std::fill(ot.begin(), ot.end(), T(0));
        for (int64_t c = 0; c < BQ; ++c) m[c] = -inf, l[c] = T(0);
        const int64_t kv_end = s.causal ? std::min(S, i0 + mq) : S;
        for (int64_t j0 = 0; j0 < kv_end; j0 += BK) {
          const int64_t nk = std::min(BK, kv_end - j0);
          gemm1<T>(nk, mq, D, scale, kb + j0 * D, D, qt.data(), BQ, T(0), st.data(), BQ);
          apply_mask_transposed<T>(s, b, h, i0, mq, j0, nk, st.data(), BQ);
          T* mn = shift;  // the new maxima, then the shifts
          for (int64_t c = 0; c < mq; ++c) mn[c] = m[c];
          for (int64_t r = 0; r < nk; ++r) {
            const T* row = st.data() + r * BQ;
#pragma omp simd
            for (int64_t c = 0; c < mq; ++c) mn[c] = row[c] > mn[c] ? row[c] : mn[c];
          }
#pragma omp simd
          for (int64_t c = 0; c < mq; ++c) {
            const T sh = mn[c] == -inf ? T(0) : mn[c];  // no key yet: P = exp(-inf) = 0
            alpha[c] = exp_fast<T>(m[c] - sh);
            l[c] *= alpha[c];
            m[c] = mn[c];
            shift[c] = sh;
          }
          for (int64_t r = 0; r < nk; ++r) {
            T* row = st.data() + r * BQ;
#pragma omp simd
            for (int64_t c = 0; c < mq; ++c) {
              const T e = exp_fast<T>(row[c] - shift[c]);
              row[c] = e;
              l[c] += e;
            }
          }
          for (int64_t d = 0; d < Dv; ++d) {
            T* o = ot.data() + d * BQ;
#pragma omp simd
            for (int64_t c = 0; c < mq; ++c) o[c] *= alpha[c];
          }
          gemm1<T>(Dv, mq, nk, T(1), vtb + j0, S, st.data(), BQ, T(1), ot.data(), BQ);
        }
        T* lse_blk = lse + bh * L + i0;
        T* stats = s.row_stats ? static_cast<T*>(s.row_stats) + 2 * (bh * L + i0) : nullptr;
        for (int64_t c = 0; c < mq; ++c) {
          const bool any = l[c] > T(0);
          lse_blk[c] = any ? m[c] + std::log(l[c]) : inf;
          alpha[c] = any ? T(1) / l[c] : T(0);
          if (stats) stats[2 * c] = any ? m[c] : inf, stats[2 * c + 1] = any ? std::log(l[c]) : T(0);
        }
        T* o = out + (bh * L + i0) * Dv;
        for (int64_t c = 0; c < mq; ++c)
          for (int64_t d = 0; d < Dv; ++d) o[c * Dv + d] = ot[d * BQ + c] * alpha[c];
      }
    } catch (...) {
      err.capture();
    }
  }
  err.rethrow();
  return s.row_stats ? RowStats::natural : RowStats::none;
}

// FlashAttention-2's backward: one task per (batch, kv head) walks the key blocks; for each it
// meets every query block (of every query head of the group) that can see it, recomputing
// P = exp(S - lse) with S = scale Q K^T (+ mask), and dS = P * (dO V^T - rowsum(dO * O)). Products
// are arranged so that n is a tile size (BQ or BK), never the head dimension:
//   dV^T += dO^T P,  dK^T += scale Q^T dS,  dQ^T += scale K^T dS^T
// with K^T, V^T, Q^T, dO^T transposed once per call and dS once per tile; dK^T, dV^T live in a
// tile buffer per key block, dQ^T in a (D, L) buffer per head, transposed into place at the end.
// Each gradient element is written by one task in a fixed order: deterministic.
template <typename T>
void attention_backward(const AttentionShape& s, const T* q, const T* k, const T* v,
                        const T* out, const T* grad_out, const T* lse, T* grad_q, T* grad_k,
                        T* grad_v, T* grad_mask, int threads) {
  constexpr int64_t BQ = Tiles<T>::BQ, BK = Tiles<T>::BK;
  const int64_t B = s.batch, Hq = s.heads_q, Hk = s.heads_kv, L = s.len_q, S = s.len_kv;
  const int64_t D = s.dim_qk, Dv = s.dim_v, group = Hq / Hk;
  const bool fused = fused_path<T>("FASTDL_ATTENTION_BACKWARD");
  const bool empty = B * Hq * L == 0 || S == 0 || Dv == 0;  // handled in C order
  if (!s.packed() && (!fused || empty)) {
    AttentionShape p = s;
    p.set_packed_layouts();
    std::vector<T> gq(size_t(B * Hq * L * D)), gk(size_t(B * Hk * S * D)),
        gv(size_t(B * Hk * S * Dv));
    attention_backward<T>(p, packed_copy(q, s.q_rows, B, Hq, L, D).data(),
                          packed_copy(k, s.k_rows, B, Hk, S, D).data(),
                          packed_copy(v, s.v_rows, B, Hk, S, Dv).data(),
                          packed_copy(out, s.out_rows, B, Hq, L, Dv).data(),
                          packed_copy(grad_out, s.grad_out_rows, B, Hq, L, Dv).data(), lse,
                          gq.data(), gk.data(), gv.data(), grad_mask, threads);
    unpack_into(gq, grad_q, s.grad_q_rows, B, Hq, L, D);
    unpack_into(gk, grad_k, s.grad_k_rows, B, Hk, S, D);
    return unpack_into(gv, grad_v, s.grad_v_rows, B, Hk, S, Dv);
  }
  if (grad_mask) std::fill(grad_mask, grad_mask + B * Hq * L * S, T(0));
  if (B * Hq * L == 0 || S == 0) {
    std::fill(grad_q, grad_q + B * Hq * L * D, T(0));
    std::fill(grad_k, grad_k + B * Hk * S * D, T(0));
    std::fill(grad_v, grad_v + B * Hk * S * Dv, T(0));
    return;
  }
#if defined(FASTDL_ISA_avx512)
  if constexpr (std::is_same_v<T, float>)
    if (fused)
      return flash::backward(s, q, k, v, out, grad_out, lse, grad_q, grad_k, grad_v, grad_mask,
                             threads);
#endif
  const T scale = T(s.scale);
  const T* stats =
      s.stats_kind == RowStats::natural ? static_cast<const T*>(s.row_stats) : nullptr;

  std::vector<T> kt(size_t(B * Hk * S * D)), vt(size_t(B * Hk * S * Dv)),
      qt(size_t(B * Hq * L * D)), dot(size_t(B * Hq * L * Dv)), delta(size_t(B * Hq * L));
  // With fewer (batch, kv head) pairs than threads (one head of a long sequence), each pair's
  // key blocks are dealt round-robin to `splits` tasks; each split accumulates dQ^T in its own
  // (D, L) buffer and the buffers are added in split order afterwards (deterministic for a given
  // thread count; splits = 1, and then no extra buffer, whenever pairs >= threads).
  const int64_t pairs = B * Hk, key_blocks = ceil_div(S, BK);
  const int64_t splits = std::max<int64_t>(
      1, std::min<int64_t>(key_blocks, pairs >= threads ? 1 : ceil_div(threads, pairs)));
  std::vector<T> dqt(size_t(splits * B * Hq * L * D));
  transpose_heads(B * Hk, S, D, k, kt.data(), threads);
  transpose_heads(B * Hk, S, Dv, v, vt.data(), threads);
  transpose_heads(B * Hq, L, D, q, qt.data(), threads);
  transpose_heads(B * Hq, L, Dv, grad_out, dot.data(), threads);
  row_dots<T>(B * Hq * L, Dv, out, grad_out, delta.data(), threads);

  const int64_t tasks = pairs * splits;
  ErrorSlot err;
#pragma omp parallel num_threads(threads)
  {
    try {
      std::vector<T> p(size_t(BQ * BK)), dp(size_t(BQ * BK)), dst(size_t(BK * BQ)),
          dkt(size_t(D * BK)), dvt(size_t(Dv * BK));
#pragma omp for schedule(dynamic, 1)
      for (int64_t t = 0; t < tasks; ++t) {
        const int64_t task = t / splits, split = t % splits;
        const int64_t b = task / Hk, hk = task % Hk;
        const T* ktb = kt.data() + task * D * S;
        const T* vtb = vt.data() + task * Dv * S;
        T* dqt_split = dqt.data() + split * B * Hq * L * D;
        for (int64_t h = hk * group; h < (hk + 1) * group; ++h)
          std::fill(dqt_split + (b * Hq + h) * D * L, dqt_split + (b * Hq + h + 1) * D * L, T(0));
        for (int64_t j0 = split * BK; j0 < S; j0 += splits * BK) {
          const int64_t nk = std::min(BK, S - j0);
          std::fill(dkt.begin(), dkt.end(), T(0));
          std::fill(dvt.begin(), dvt.end(), T(0));
          // Causal: query rows i >= j0 see this block.
          const int64_t first_qb = s.causal ? j0 / BQ : 0;
          for (int64_t h = hk * group; h < (hk + 1) * group; ++h) {
            const int64_t bh = b * Hq + h;
            const T* qtb = qt.data() + bh * D * L;
            const T* dotb = dot.data() + bh * Dv * L;
            T* dqtb = dqt_split + bh * D * L;
            for (int64_t i0 = first_qb * BQ; i0 < L; i0 += BQ) {
              const int64_t mq = std::min(BQ, L - i0);
              const T* lse_blk = lse + bh * L + i0;
              const T* delta_blk = delta.data() + bh * L + i0;
              gemm1<T>(mq, nk, D, scale, q + (bh * L + i0) * D, D, ktb + j0, S, T(0), p.data(),
                       BK);
              apply_mask<T>(s, b, h, i0, mq, j0, nk, p.data(), BK);
              if (stats)  // (S - m) - log l: exact where S and m are large and close
                for (int64_t r = 0; r < mq; ++r)
                  exp_row(p.data() + r * BK, nk, stats[2 * (bh * L + i0 + r)],
                          stats[2 * (bh * L + i0 + r) + 1]);
              else
                for (int64_t r = 0; r < mq; ++r) exp_row(p.data() + r * BK, nk, lse_blk[r]);
              gemm1<T>(Dv, nk, mq, T(1), dotb + i0, L, p.data(), BK, T(1), dvt.data(), BK);
              gemm1<T>(mq, nk, Dv, T(1), grad_out + (bh * L + i0) * Dv, Dv, vtb + j0, S, T(0),
                       dp.data(), BK);
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
              gemm1<T>(D, nk, mq, scale, qtb + i0, L, dp.data(), BK, T(1), dkt.data(), BK);
              transpose(mq, nk, dp.data(), BK, dst.data(), BQ);
              gemm1<T>(D, mq, nk, scale, ktb + j0, S, dst.data(), BQ, T(1), dqtb + i0, L);
            }
          }
          transpose(D, nk, dkt.data(), BK, grad_k + (task * S + j0) * D, D);
          transpose(Dv, nk, dvt.data(), BK, grad_v + (task * S + j0) * Dv, Dv);
        }
      }
    } catch (...) {
      err.capture();
    }
  }
  err.rethrow();
  if (splits > 1) {
    const int64_t n = B * Hq * L * D;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t x = 0; x < n; ++x)
      for (int64_t sp = 1; sp < splits; ++sp) dqt[size_t(x)] += dqt[size_t(sp * n + x)];
  }
  transpose_heads(B * Hq, D, L, dqt.data(), grad_q, threads);
}

#define FASTDL_INSTANTIATE_ATTENTION_KERNELS(T)                                                 \
  template RowStats attention_forward<T>(const AttentionShape&, const T*, const T*, const T*,  \
                                         T*, T*, int);                                         \
  template void attention_backward<T>(const AttentionShape&, const T*, const T*, const T*,     \
                                      const T*, const T*, const T*, T*, T*, T*, T*, int);
FASTDL_INSTANTIATE_ATTENTION_KERNELS(float)
FASTDL_INSTANTIATE_ATTENTION_KERNELS(double)
#undef FASTDL_INSTANTIATE_ATTENTION_KERNELS

}  // namespace fastdl::cpu::FASTDL_ISA
