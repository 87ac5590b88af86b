#pragma once
// The float forward on AVX-512 (v3, bench/NOTES.md "Attention"): both tile products on their own
// register-blocked micro-kernels with the softmax fused between them, for one group of MR = 6 query
// rows at a time, so S, P and the running statistics of the group never leave L1:
//   S = (scale log2 e) Q K^T   6 rows x 64 keys per call (24 zmm accumulators, k = D); K packed
//                              by each task into slivers of 64 keys (D x 64, contiguous)
//   row max fused into the store (lanes of keys that do not take part are -inf), then per row
//   P = 2^(S - m) with a degree-5 polynomial and vscalefps, the sum l kept as 16 lanes
//   O = alpha O + P V          6 rows x 64 columns of Dv per call (24 accumulators, k = keys),
//                              V read in place, the rescale alpha applied to the loaded O tile;
//                              a group's first key block starts from 0, its last writes the
//                              output rows (times 1 / l) instead of the O tile.
// A task is one kv head: its K packed into the thread's buffer (written to and read from L2, not
// memory), then every query block of BQ rows of the group's query heads (with few heads, the
// blocks are dealt to several tasks, each packing the keys it reads). Per block: key blocks of
// BK keys outside (their K and V, 2 x BK x D floats, stay in L2 while the BQ / 6 row groups meet
// them), row groups inside.
// Causal: a row group visits only the keys up to its last row (whole 64-key slivers skipped, the
// rest masked in the store), so the triangle costs (L + 1) / 2L of the work plus < 64 keys per
// row group. Only compiled into the AVX-512 copy of attention_kernels.cpp.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <utility>

#include "cpu/attention/attention.h"
#include "cpu/attention/attention_common.h"

namespace fastdl::cpu::FASTDL_ISA::flash {

constexpr int MR = 6;           // query rows per micro-kernel call
constexpr int64_t KS = 64;      // keys per packed K sliver (4 zmm)
constexpr int64_t BQ = 96;      // query rows per task (16 row groups)
constexpr int64_t BK = 512;     // keys per block (K and V blocks 128 KiB each at D = 64)
constexpr float kLog2e = 1.4426950408889634f;

struct AlignedFree {
  void operator()(float* p) const { ::operator delete[](p, std::align_val_t(64)); }
};
using Buffer = std::unique_ptr<float[], AlignedFree>;
inline Buffer make_buffer(int64_t n) {
  return Buffer(static_cast<float*>(::operator new[](size_t(std::max<int64_t>(n, 16)) * sizeof(float),
                                                     std::align_val_t(64))));
}

// Scratch kept by each thread between calls and grown when a call needs more (a fresh
// allocation of a few MiB is a fresh mmap whose pages the kernel zeroes on first touch):
// a task's packed K and V and its dQ and row dots (per OpenMP thread, O(S D + L D)), and the
// backward's per-split dQ sums (calling thread, O(splits B H L D), only when heads are split).
enum class Scratch : int { task_k = 0, task_v, task_dq, task_delta, split_dq, count };
inline float* scratch(Scratch slot, int64_t n) {
  thread_local Buffer buffers[int(Scratch::count)];
  thread_local int64_t sizes[int(Scratch::count)] = {};
  const int i = int(slot);
  if (sizes[i] < n) {
    buffers[i].reset();
    buffers[i] = make_buffer(n);
    sizes[i] = n;
  }
  return buffers[i].get();
}

// 2^t for 16 lanes, |relative error| < 2.5e-7 (2 ulp; float32 emulation over 3M points of
// [-126.9, 0], bench/NOTES.md "Attention"): f = t - floor(t) by vreduceps, 2^f on [0, 1) by a
// degree-5 polynomial fitted for relative error with p(0) = 1 (so integer t -- the online
// softmax's rescale 2^0 where a row's maximum did not move -- are exact; IRLS on 4001 Chebyshev
// nodes, fit error 8.2e-8), and 2^floor(t) applied by vscalefps, which takes the floor of t
// itself. t <= -127 (-inf included) gives exactly 0; NaN stays NaN.
[[gnu::always_inline]] inline __m512 exp2_ps(__m512 t) {
  const __m512 f = _mm512_reduce_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m512 p = _mm512_set1_ps(0.0018671300495043397f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.009017030708491802f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.05579991266131401f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.24016444385051727f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.6931512951850891f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  const __mmask16 keep = _mm512_cmp_ps_mask(t, _mm512_set1_ps(-127.0f), _CMP_NLE_UQ);
  return _mm512_maskz_scalef_ps(keep, p, t);
}

// Lanes [0, n) of a vector, n clamped to [0, 16].
[[gnu::always_inline]] inline __mmask16 first_lanes(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// What score_tile stores for row r from its finished sums x (keys c >= valid[r] take no part):
//   scores         x, -inf where not taking part; max[r] = max(max[r], stored row) lane-wise
//   probabilities  P = 2^(x - shift[r]), 0 where not taking part (the backward's S, lse known)
//   score_grads    dS = P (x - shift[r]), P read from probs (same layout) (the backward's dP,
//                  shift = delta)
enum class Epilogue { scores, probabilities, score_grads };

// The per-row state an epilogue reads or updates (MR rows).
struct RowState {
  __m512* max = nullptr;
  const float* shift = nullptr;
  const float* shift_lo = nullptr;  // probabilities: P = 2^((x - shift[r]) - shift_lo[r])
  const float* probs = nullptr;
};

// Rows r < R, keys [0, 16 NV) of one packed sliver: x[r][c] = sum_d q[r][d] kp[d * 64 + c],
// stored at s[r * lds + c] as the epilogue E says.
template <int NV, Epilogue E, int R = MR>
[[gnu::noinline]] void score_tile(int64_t D, const float* const* q, const float* kp, float* s,
                                  int64_t lds, const int64_t* valid, const RowState& rs) {
  __m512 acc[R][NV];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  const float* qr[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) qr[r] = q[r];
#pragma GCC unroll 2
  for (int64_t d = 0; d < D; ++d) {
    __m512 b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = _mm512_load_ps(kp + 16 * v);
    kp += KS;
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(qr[r][d]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);
    }
  }
  // Lanes past a row's valid keys are masked; where every row has all 16 NV keys (every sliver
  // off the causal diagonal) the epilogue runs without the R NV lane masks and their branches,
  // ~15% of a 6 x 64 call's instructions (Intel Xeon, session 15: the L1-resident tile +2-6%,
  // the forward +1-2%; bench/NOTES.md, attention).
  bool whole = true;
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) whole &= valid[r] >= 16 * NV;
  const auto store = [&]<bool kWhole>() [[gnu::always_inline]] {
    const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      if constexpr (E == Epilogue::scores) {
        __m512 m = rs.max[r];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          const __m512 x = kWhole ? acc[r][v]
                                  : _mm512_mask_mov_ps(ninf, first_lanes(valid[r] - 16 * v),
                                                       acc[r][v]);
          _mm512_store_ps(s + r * lds + 16 * v, x);
          m = _mm512_max_ps(m, x);
        }
        rs.max[r] = m;
      } else {
        const __m512 t = _mm512_set1_ps(rs.shift[r]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          float* out = s + r * lds + 16 * v;
          if constexpr (E == Epilogue::probabilities) {
            const __m512 p = exp2_ps(
                _mm512_sub_ps(_mm512_sub_ps(acc[r][v], t), _mm512_set1_ps(rs.shift_lo[r])));
            _mm512_store_ps(
                out, kWhole ? p : _mm512_maskz_mov_ps(first_lanes(valid[r] - 16 * v), p));
          } else {
            const __m512 p = _mm512_load_ps(rs.probs + r * lds + 16 * v);
            _mm512_store_ps(out, _mm512_mul_ps(p, _mm512_sub_ps(acc[r][v], t)));
          }
        }
      }
    }
  };
  if (whole)
    store.template operator()<true>();
  else
    store.template operator()<false>();
}

// score_tile over the first `ncols` keys of the sliver (rounded up to 16: the causal diagonal's
// sliver computes only the vectors some row of the group needs).
template <Epilogue E = Epilogue::scores, int R = MR>
void score_sliver(int64_t D, const float* const* q, const float* kp, float* s, int64_t lds,
                  const int64_t* valid, int64_t ncols, const RowState& rs) {
  switch ((std::min<int64_t>(ncols, KS) + 15) / 16) {
    case 4: return score_tile<4, E, R>(D, q, kp, s, lds, valid, rs);
    case 3: return score_tile<3, E, R>(D, q, kp, s, lds, valid, rs);
    case 2: return score_tile<2, E, R>(D, q, kp, s, lds, valid, rs);
    default: return score_tile<1, E, R>(D, q, kp, s, lds, valid, rs);
  }
}

// Rows per micro-kernel call for a group whose rows past `real` are padding: MR, or a smaller
// tile when that leaves fewer padding rows (L = 512 = 85 x 6 + 2: the last group of a head
// computed 4 padding rows, 0.8% of the work).
inline int tile_rows(int64_t real) { return real >= MR - 1 ? MR : real > 2 ? 4 : 2; }

// Where a forward row group's last P V goes instead of its O accumulator: the user's output
// rows r < rows (ld apart), times 1 / l[r] (0 where l[r] = 0: no key took part), l[r] the sum
// of sums[r]'s lanes; whole cache lines by streaming stores when `stream` (the rows are written
// once, and a plain store would first read the line it overwrites). The sums are read after the
// products, not before: the rows' reductions then overlap the FMAs instead of delaying them.
struct FinalRows {
  float* out;
  int64_t ld;
  const __m512* sums;
  int rows;
  bool stream;
};

// O rows r < R, columns [0, 16 NV) (the last vector masked by `tail`):
// o[r] = alpha[r] o[r] + sum_{j < nk} P(r, j) v[j * ldv + .], P(r, j) = p[r * ldp + j], or
// p[j * ldp + r] when kTransposed (the backward's P^T dO and dS^T Q); alpha null: 1. kFresh:
// o's old rows are not read (taken as 0: a forward row group's first key block). With `final`
// the sums go to final->out instead of o.
template <int NV, bool kTransposed = false, bool kFresh = false, int R = MR>
[[gnu::noinline]] void pv_tile(int64_t nk, const float* p, int64_t ldp, const float* v,
                               int64_t ldv, __mmask16 tail, float* o, int64_t ldo,
                               const float* alpha, const FinalRows* final = nullptr) {
  __m512 acc[R][NV];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    if constexpr (kFresh) {
#pragma GCC unroll 4
      for (int c = 0; c < NV; ++c) acc[r][c] = _mm512_setzero_ps();
      continue;
    }
#pragma GCC unroll 4
    for (int c = 0; c < NV; ++c) acc[r][c] = _mm512_load_ps(o + r * ldo + 16 * c);
    if (alpha) {
      const __m512 a = _mm512_set1_ps(alpha[r]);
#pragma GCC unroll 4
      for (int c = 0; c < NV; ++c) acc[r][c] = _mm512_mul_ps(a, acc[r][c]);
    }
  }
#pragma GCC unroll 2
  for (int64_t j = 0; j < nk; ++j) {
    __m512 b[NV];
#pragma GCC unroll 4
    for (int c = 0; c < NV; ++c)
      b[c] = c + 1 < NV ? _mm512_loadu_ps(v + 16 * c) : _mm512_maskz_loadu_ps(tail, v + 16 * c);
    v += ldv;
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(kTransposed ? p[j * ldp + r] : p[r * ldp + j]);
#pragma GCC unroll 4
      for (int c = 0; c < NV; ++c) acc[r][c] = _mm512_fmadd_ps(a, b[c], acc[r][c]);
    }
  }
  if (final) {
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      if (r >= final->rows) break;
      const float l = _mm512_reduce_add_ps(final->sums[r]);
      const __m512 scale = _mm512_set1_ps(l > 0.0f ? 1.0f / l : 0.0f);
      float* row = final->out + r * final->ld;
#pragma GCC unroll 4
      for (int c = 0; c < NV; ++c) {
        const __m512 x = _mm512_mul_ps(acc[r][c], scale);
        if (final->stream)
          _mm512_stream_ps(row + 16 * c, x);
        else
          _mm512_mask_storeu_ps(row + 16 * c, c + 1 < NV ? __mmask16(0xFFFF) : tail, x);
      }
    }
    return;
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < NV; ++c) _mm512_store_ps(o + r * ldo + 16 * c, acc[r][c]);
}

// pv_tile over all Dv columns (rows of v, Dv long, ldv apart), in chunks of 64.
template <bool kTransposed = false, bool kFresh = false, int R = MR>
void pv_group(int64_t nk, const float* p, int64_t ldp, const float* v, int64_t ldv, int64_t Dv,
              float* o, int64_t ldo, const float* alpha, const FinalRows* final = nullptr) {
  for (int64_t c0 = 0; c0 < Dv; c0 += 64) {
    const int64_t w = std::min<int64_t>(64, Dv - c0);
    const __mmask16 tail = first_lanes(w - 16 * ((w - 1) / 16));
    FinalRows chunk;
    if (final) chunk = *final, chunk.out += c0;
    const FinalRows* f = final ? &chunk : nullptr;
    switch ((w + 15) / 16) {
      case 4: pv_tile<4, kTransposed, kFresh, R>(nk, p, ldp, v + c0, ldv, tail, o + c0, ldo, alpha, f); break;
      case 3: pv_tile<3, kTransposed, kFresh, R>(nk, p, ldp, v + c0, ldv, tail, o + c0, ldo, alpha, f); break;
      case 2: pv_tile<2, kTransposed, kFresh, R>(nk, p, ldp, v + c0, ldv, tail, o + c0, ldo, alpha, f); break;
      default: pv_tile<1, kTransposed, kFresh, R>(nk, p, ldp, v + c0, ldv, tail, o + c0, ldo, alpha, f); break;
    }
  }
}

// r[i] (16 x 16 floats, rows i) transposed in registers: r[i] lane j <- old r[j] lane i.
[[gnu::always_inline]] inline void transpose16(__m512 (&r)[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}

// Keys [j0, j0 + nkeys) of one head (rows of D floats ldk apart, S of them) times `factor` into
// nkeys / KS consecutive slivers: kp[(sl * D + d) * KS + c] = factor k[j0 + KS sl + c, d] (zero
// past S), 16 keys x 16 dims at a time through a register transpose. A task packs what it reads
// into its own buffer, so the slivers are written to, and later read from, L2 rather than memory.
inline void pack_keys(const float* k, int64_t ldk, int64_t S, int64_t D, int64_t j0,
                      int64_t nkeys, float factor, float* kp) {
  const __m512 f = _mm512_set1_ps(factor);
  for (int64_t sl = 0; sl < nkeys / KS; ++sl) {
    const int64_t first = j0 + sl * KS, nk = std::clamp<int64_t>(S - first, 0, KS);
    const float* src = k + first * ldk;
    float* dst = kp + sl * D * KS;
    for (int64_t c0 = 0; c0 < KS; c0 += 16) {
      for (int64_t d0 = 0; d0 < D; d0 += 16) {
        const __mmask16 cols = first_lanes(D - d0);
        __m512 r[16];
        for (int i = 0; i < 16; ++i)
          r[i] = c0 + i < nk ? _mm512_maskz_loadu_ps(cols, src + (c0 + i) * ldk + d0)
                             : _mm512_setzero_ps();
        transpose16(r);
        const int64_t rows = std::min<int64_t>(16, D - d0);
        for (int64_t i = 0; i < rows; ++i)
          _mm512_store_ps(dst + (d0 + i) * KS + c0, _mm512_mul_ps(f, r[i]));
      }
    }
  }
}

// Tasks per kv head when its query blocks are dealt out: one (the head's K packed once for all
// of them) unless there are too few heads to keep every thread busy to the end.
inline int64_t parts_per_head(int64_t heads, int64_t blocks, int threads) {
  if (threads == 1 || heads >= 4 * threads) return 1;
  return std::clamp<int64_t>((4 * threads + heads - 1) / heads, 1, blocks);
}

// The user's mask on rows r < rows of the group's tile (log2 units), then the rows' lane maxima
// recomputed.
inline void mask_group(const AttentionShape& s, int64_t b, int64_t h, int64_t i, int64_t j0,
                       int64_t nk, int64_t rows, float* tile, int64_t ld, __m512* rmax) {
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  apply_user_mask<float>(s, b, h, i, j0, rows, nk, false, tile, ld, kLog2e);
  for (int64_t r = 0; r < rows; ++r) {
    __m512 mx = ninf;
    for (int64_t c = 0; c < nk; c += 16)
      mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(ninf, first_lanes(nk - c), tile + r * ld + c));
    rmax[r] = mx;
  }
}

// Memory the thread reads next, brought into L2 a few cache lines per step() while the current
// work computes: at L = 512 the forward spent ~5% waiting for the next head's K, V and Q rows
// from memory (L2-resident inputs ran at 104 GFLOP/s, in-memory ones at 99).
class Prefetcher {
 public:
  // `rows` rows of `bytes` each, `stride` bytes apart (one row: a plain range)
  void add(const void* p, int64_t bytes, int64_t rows = 1, int64_t stride = 0) {
    if (n_ == kRegions || bytes <= 0 || rows <= 0) return;
    const uintptr_t first = reinterpret_cast<uintptr_t>(p) & ~uintptr_t(63);
    const uintptr_t end = reinterpret_cast<uintptr_t>(p) + uintptr_t(bytes);
    regions_[n_++] = {reinterpret_cast<const char*>(first), int64_t((end - first + 63) / 64),
                      rows, stride};
  }
  // lines per step(): the forward steps after each score sliver and each P V (~1500 and ~6000
  // cycles of FMAs), and 24 lines a step ran 2% faster than 96 after each P V alone: a burst of
  // 96 prefetches filled the core's miss buffers and stalled it (bench/NOTES.md, "Session 11")
  explicit Prefetcher(int64_t lines_per_step) : lines_per_step_(lines_per_step) {}
  void step() {
    for (int64_t left = lines_per_step_; left > 0 && region_ < n_;) {
      Region& r = regions_[region_];
      const int64_t take = std::min(left, r.lines - line_);
      const char* row = r.p + row_ * r.stride;
      for (int64_t i = 0; i < take; ++i) _mm_prefetch(row + (line_ + i) * 64, _MM_HINT_T1);
      line_ += take, left -= take;
      if (line_ == r.lines) {
        line_ = 0;
        if (++row_ == r.rows) ++region_, row_ = 0;
      }
    }
    if (region_ == n_) n_ = region_ = 0;  // drained: room for the next regions
  }

 private:
  static constexpr int kRegions = 8;
  struct Region {
    const char* p;
    int64_t lines, rows, stride;  // lines per row
  };
  Region regions_[kRegions];
  int64_t lines_per_step_;
  int n_ = 0, region_ = 0;
  int64_t line_ = 0, row_ = 0;
};

// Rows [i0, i0 + rows) of head (b, h) of an operand placed by `layout`, cols floats each, for a
// Prefetcher (one range when the rows are packed).
inline void prefetch_rows(Prefetcher& prefetch, const float* a, RowLayout layout, int64_t b,
                          int64_t h, int64_t i0, int64_t rows, int64_t cols) {
  const float* first = a + layout.at(b, h, i0);
  if (layout.row == cols)
    prefetch.add(first, rows * cols * 4);
  else
    prefetch.add(first, cols * 4, rows, layout.row * 4);
}

// One query block (BQ rows from i0 of head h) against keys [0, kv_end) of the packed K kph,
// which carries the scale (times log2 e): Q rows are read in place.
struct ForwardBlock {
  const AttentionShape& s;
  const float* kph;   // the kv head's packed, scaled K (slivers)
  const float* vh;    // the kv head's V, rows of Dv, ldv apart
  int64_t ldv, ldo;
  float *ob, *st;  // the thread's O accumulator and score tile

  // The group's keys [j0, j0 + kmax): S stored (the user's mask applied), the rows' maxima
  // taken, then P = 2^(S - m_new) in place; alpha = 2^(m_old - m_new) for O and l. R rows.
  template <int R>
  void softmax_block(const float* const* qrow, const float* kblk, const int64_t* valid,
                     int64_t kmax, int64_t b, int64_t h, int64_t i, int64_t j0, int64_t real,
                     float* m, __m512* lsum, float* alpha, Prefetcher& prefetch) const {
    constexpr float inf = std::numeric_limits<float>::infinity();
    __m512 rmax[MR];
    for (int r = 0; r < MR; ++r) rmax[r] = _mm512_set1_ps(-inf);
    for (int64_t c0 = 0; c0 < kmax; c0 += KS) {
      int64_t vs[MR];
      for (int r = 0; r < MR; ++r) vs[r] = valid[r] - c0;
      score_sliver<Epilogue::scores, R>(s.dim_qk, qrow, kblk + c0 / KS * s.dim_qk * KS, st + c0,
                                        BK, vs, kmax - c0, {.max = rmax});
      prefetch.step();
    }
    if (s.mask_kind != MaskKind::none) mask_group(s, b, h, i, j0, kmax, real, st, BK, rmax);
    // the rows' new maxima (a row without a key yet shifts by 0: P = 2^-inf = 0) and the
    // rescale alpha = 2^(m_old - shift) of the six rows in one vector (0 where m_old = -inf)
    alignas(64) float shift[16] = {};
    const __m512 mold = _mm512_maskz_loadu_ps(first_lanes(R), m);
    for (int r = 0; r < R; ++r) {
      const float mnew = std::max(m[r], _mm512_reduce_max_ps(rmax[r]));
      shift[r] = mnew == -inf ? 0.0f : mnew;
      m[r] = mnew;
    }
    _mm512_store_ps(alpha, exp2_ps(_mm512_sub_ps(mold, _mm512_load_ps(shift))));
    for (int r = 0; r < R; ++r) {
      float* row = st + r * BK;
      const __m512 vsh = _mm512_set1_ps(shift[r]);
      __m512 acc = _mm512_mul_ps(lsum[r], _mm512_set1_ps(alpha[r]));
      for (int64_t c = 0; c < kmax; c += 16) {
        const __m512 e = exp2_ps(_mm512_sub_ps(_mm512_load_ps(row + c), vsh));
        _mm512_store_ps(row + c, e);
        acc = _mm512_add_ps(acc, e);
      }
      lsum[r] = acc;
    }
  }

  void run(const float* q, float* out, float* lse, int64_t b, int64_t h, int64_t i0,
           Prefetcher& prefetch) const {
    constexpr float inf = std::numeric_limits<float>::infinity();
    const int64_t L = s.len_q, S = s.len_kv, Dv = s.dim_v;
    const int64_t bh = b * s.heads_q + h, mq = std::min(BQ, L - i0);
    // padded to whole groups (the last one's tile may be smaller: tile_rows)
    const int64_t rows = (mq + MR - 1) / MR * MR;
    alignas(64) float m[BQ];
    alignas(64) __m512 lsum[BQ];
    const float* qsrc = q + s.q_rows.at(b, h, i0);
    const int64_t ldq = s.q_rows.row;
    for (int64_t r = 0; r < rows; ++r) m[r] = -inf, lsum[r] = _mm512_setzero_ps();
    float* lse_blk = lse + bh * L + i0;
    float* stats = s.row_stats ? static_cast<float*>(s.row_stats) + 2 * (bh * L + i0) : nullptr;
    float* o = out + s.out_rows.at(b, h, i0);
    const int64_t ldout = s.out_rows.row;
    const bool stream = Dv % 16 == 0 && reinterpret_cast<uintptr_t>(o) % 64 == 0 &&
                        ldout % 16 == 0;
    const int64_t kv_end = s.causal ? std::min(S, i0 + rows) : S;
    if (kv_end == 0) {  // no keys: rows of 0
      for (int64_t r = 0; r < mq; ++r) {
        lse_blk[r] = inf;
        if (stats) stats[2 * r] = inf, stats[2 * r + 1] = 0.0f;
        std::fill(o + r * ldout, o + r * ldout + Dv, 0.0f);
      }
      return;
    }
    for (int64_t j0 = 0; j0 < kv_end; j0 += BK)
      for (int64_t r0 = 0; r0 < rows; r0 += MR) {
        const int real = int(std::min<int64_t>(MR, mq - r0));
        const Group g{qsrc + r0 * ldq, ldq, real, i0 + r0, j0, b, h, m + r0, lsum + r0,
                      lse_blk + r0, stats ? stats + 2 * r0 : nullptr, o + r0 * ldout, ldout,
                      ob + r0 * ldo, stream};
        switch (tile_rows(real)) {
          case MR: group<MR>(g, prefetch); break;
          case 4: group<4>(g, prefetch); break;
          default: group<2>(g, prefetch); break;
        }
      }
  }

  // One row group of a query block against one key block.
  struct Group {
    const float* q;  // its first query row (ldq apart; `real` of them)
    int64_t ldq;
    int real;
    int64_t i, j0, b, h;  // its first row's index, the key block's first key, batch, head
    float* m;
    __m512* lsum;
    float *lse, *stats, *out;  // stats: null, or (m, log2 l) per row
    int64_t ldout;
    float* orows;  // its rows of the O accumulator
    bool stream;
  };

  template <int R>
  void group(const Group& g, Prefetcher& prefetch) const {
    constexpr float inf = std::numeric_limits<float>::infinity();
    const int64_t S = s.len_kv, D = s.dim_qk, Dv = s.dim_v, nk = std::min(BK, S - g.j0);
    int64_t valid[MR];
    for (int r = 0; r < R; ++r)
      valid[r] = s.causal ? std::clamp<int64_t>(g.i + r + 1 - g.j0, 0, nk) : nk;
    const int64_t kmax = valid[R - 1];  // causal: the last row sees the most keys
    if (kmax == 0) return;
    const float* qrow[MR];  // padding rows repeat the last query, their results unused
    for (int r = 0; r < R; ++r) qrow[r] = g.q + std::min(r, g.real - 1) * g.ldq;
    alignas(64) float alpha[16];
    softmax_block<R>(qrow, kph + g.j0 / KS * D * KS, valid, kmax, g.b, g.h, g.i, g.j0, g.real,
                     g.m, g.lsum, alpha, prefetch);
    // the group's first key block starts O from 0; its last writes the output rows
    const bool first = g.j0 == 0;
    const bool last = g.j0 + BK >= (s.causal ? std::min(S, g.i + R) : S);
    const FinalRows final{g.out, g.ldout, g.lsum, g.real, g.stream};
    const float* vblk = vh + g.j0 * ldv;
    if (first)
      pv_group<false, true, R>(kmax, st, BK, vblk, ldv, Dv, g.orows, ldo, alpha,
                               last ? &final : nullptr);
    else
      pv_group<false, false, R>(kmax, st, BK, vblk, ldv, Dv, g.orows, ldo, alpha,
                                last ? &final : nullptr);
    if (last)
      for (int r = 0; r < g.real; ++r) {
        const float l = _mm512_reduce_add_ps(g.lsum[r]);
        // in double: m and lse may be large (float32 spacing at 300 is 3e-5, and the
        // backward's P carries lse's error)
        g.lse[r] = l > 0.0f ? float((double(g.m[r]) + std::log2(double(l))) * 0.6931471805599453)
                            : inf;
        if (g.stats) g.stats[2 * r] = l > 0.0f ? g.m[r] : inf,
                     g.stats[2 * r + 1] = l > 0.0f ? std::log2(l) : 0.0f;
      }
    prefetch.step();
  }
};

inline RowStats forward(const AttentionShape& s, const float* q, const float* k,
                        const float* v, float* out, float* lse, int threads) {
  const int64_t B = s.batch, Hq = s.heads_q, Hk = s.heads_kv, L = s.len_q, S = s.len_kv;
  const int64_t D = s.dim_qk, Dv = s.dim_v, group = Hq / Hk;
  const int64_t nqb = (L + BQ - 1) / BQ, heads = B * Hk;
  // A task: one kv head's K packed into the thread's buffer, then the query blocks of its part
  // (blocks part, part + parts, ...) of every query head of its group.
  const int64_t parts = parts_per_head(heads, nqb, threads), tasks = heads * parts;
  const int64_t ldo = (Dv + 15) / 16 * 16;

  // Tasks are handed out in order (dynamic), and a thread takes its next one when two blocks of
  // the current one are left, so that it can prefetch the next one's K, V and first Q rows.
  std::atomic<int64_t> next_task{0};
  std::exception_ptr error;  // an exception may not leave an OpenMP region: carried out
#pragma omp parallel num_threads(threads)
  {
    try {
    Buffer ob = make_buffer(BQ * ldo), st = make_buffer(MR * BK);
    Prefetcher prefetch(24);
    for (int64_t task = next_task.fetch_add(1), ahead; task < tasks;
         task = ahead >= 0 ? ahead : next_task.fetch_add(1)) {
      ahead = -1;
      const int64_t head = task / parts, part = task % parts, b = head / Hk, hk = head % Hk;
      const int64_t last = part + (nqb - 1 - part) / parts * parts;  // the part's last block
      const int64_t kv_end = s.causal ? std::min(S, std::min(L, last * BQ + BQ) + MR) : S;
      const int64_t packed = (kv_end + KS - 1) / KS * KS;
      float* kpt = scratch(Scratch::task_k, packed * D);
      pack_keys(k + s.k_rows.at(b, hk, 0), s.k_rows.row, S, D, 0, packed,
                float(s.scale) * kLog2e, kpt);
      const ForwardBlock block{s, kpt, v + s.v_rows.at(b, hk, 0), s.v_rows.row, ldo, ob.get(),
                               st.get()};
      int64_t blocks_left = group * ((nqb - 1 - part) / parts + 1);
      for (int64_t h = hk * group; h < (hk + 1) * group; ++h)
        for (int64_t qb = part; qb < nqb; qb += parts, --blocks_left) {
          if (ahead < 0 && blocks_left <= 2) {
            ahead = next_task.fetch_add(1);
            if (ahead < tasks) {
              const int64_t nb = ahead / parts / Hk, nhk = ahead / parts % Hk;
              const int64_t i1 = ahead % parts * BQ;  // its first block
              prefetch_rows(prefetch, k, s.k_rows, nb, nhk, 0, S, D);
              prefetch_rows(prefetch, v, s.v_rows, nb, nhk, 0, S, Dv);
              prefetch_rows(prefetch, q, s.q_rows, nb, nhk * group, i1, std::min(BQ, L - i1), D);
            }
          }
          if (qb + parts < nqb) {  // the next block's Q rows (same head)
            const int64_t i1 = (qb + parts) * BQ;
            prefetch_rows(prefetch, q, s.q_rows, b, h, i1, std::min(BQ, L - i1), D);
          }
          block.run(q, out, lse, b, h, qb * BQ, prefetch);
        }
    }
    _mm_sfence();  // the streamed rows visible before the region ends
    } catch (...) {
#pragma omp critical(fastdl_flash_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return s.row_stats ? RowStats::log2_units : RowStats::none;
}

}  // namespace fastdl::cpu::FASTDL_ISA::flash
