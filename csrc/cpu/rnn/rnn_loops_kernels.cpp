// Per-ISA time loops of the recurrent kernels (rnn_loops.h): the GEMM's packing and micro-kernel
// (cpu/gemm) driven step by step with the fused gate kernels (rnn_gates.h) on each thread's share
// of a step (rnn_recurrent_gemm.h).
#include "cpu/rnn/rnn_loops.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu/rnn/rnn_gates.h"

#if defined(FASTDL_ISA_avx512)
#include "cpu/gemm/gemm_ukernel_avx512.h"
#elif defined(FASTDL_ISA_avx2)
#include "cpu/gemm/gemm_ukernel_avx2.h"
#else
#include "cpu/gemm/gemm_ukernel_portable.h"
#endif

#include "cpu/rnn/rnn_recurrent_gemm.h"

namespace fastdl::cpu::FASTDL_ISA {
namespace {

template <typename Body>
void team(int threads, Body&& body) {
  if (threads <= 1) {
    body(0, 1);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
#ifdef _OPENMP
    body(omp_get_thread_num(), omp_get_num_threads());
#else
    body(0, 1);
#endif
  }
}

inline void barrier() {
#pragma omp barrier
}

inline int64_t time_of(const RnnShape& s, int64_t step, bool reverse) {
  return reverse ? s.steps - 1 - step : step;
}

// dst[r, j0:j1] = src[r, j0:j1] for rows < n, 0 for rows [n, rows) (row stride ld for both).
template <typename T>
void copy_cols(int64_t n, int64_t rows, int64_t ld, int64_t j0, int64_t j1, const T* src,
               T* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    T* d = dst + r * ld;
    if (r < n) {
      const T* a = src + r * ld;
      for (int64_t j = j0; j < j1; ++j) d[j] = a[j];
    } else {
      for (int64_t j = j0; j < j1; ++j) d[j] = T(0);
    }
  }
}

// Zero rows [n, rows) of columns [j0, j1) in each of `blocks` blocks of `cols` columns.
template <typename T>
void zero_tail(int64_t n, int64_t rows, int64_t ld, int64_t blocks, int64_t cols, int64_t j0,
               int64_t j1, T* p) {
  for (int64_t r = n; r < rows; ++r)
    for (int64_t g = 0; g < blocks; ++g) {
      T* d = p + r * ld + g * cols;
      for (int64_t j = j0; j < j1; ++j) d[j] = T(0);
    }
}

// sums[g * cols + j] += p[r, g * cols + j] over rows r < n, for j in [j0, j1) of each block.
template <typename T>
void add_column_sums(int64_t n, int64_t ld, int64_t blocks, int64_t cols, int64_t j0, int64_t j1,
                     const T* p, T* __restrict sums) {
  for (int64_t g = 0; g < blocks; ++g) {
    T* __restrict s = sums + g * cols;
    for (int64_t r = 0; r < n; ++r) {
      const T* __restrict row = p + r * ld + g * cols;
      for (int64_t j = j0; j < j1; ++j) s[j] += row[j];
    }
  }
}

// Whether a loop's threads split the batch rows (each runs its rows' whole sequence, no barrier)
// or the hidden units (a barrier per step). Rows when every row is active at every step (no
// lengths: with sorted lengths the first rows would carry most of the work) and each thread gets
// at least two whole panels of MR rows. Each thread then streams all of W_hh (4 MiB at H=512)
// from L3 per step instead of its half, but waits for nobody: LSTM T=128, B=32, H=512 at 2
// threads, interleaved medians, forward 67 vs 77 ms and fwd+bwd 212 vs 246 ms (bench/NOTES.md).
// FASTDL_RNN_SPLIT=rows/units forces either where rows are possible (whole panels per thread;
// read per call: measurements and tests).
template <typename T>
bool split_by_rows(const RnnShape& s, const int64_t* act, int threads) {
  constexpr int64_t MR = RecurrentGemm<T>::MR;
  if (threads <= 1 || s.batch % (MR * threads) != 0) return false;
  const char* env = std::getenv("FASTDL_RNN_SPLIT");
  if (env && *env) return env[0] == 'r';
  if (s.batch / threads < 2 * MR) return false;
  for (int64_t t = 0; t < s.steps; ++t)
    if (act[t] != s.batch) return false;
  return true;
}

// Each thread's bias-gradient sums (by rows every thread sums every unit), added in thread order
// after the loop: the result does not depend on which thread finishes first.
template <typename T>
class PartialSums {
 public:
  PartialSums(int threads, int64_t n, T* out, bool by_rows)
      : n_(n), out_(out), parts_(by_rows ? size_t(threads * n) : 0, T(0)) {}
  T* of(int t) { return parts_.empty() ? out_ : parts_.data() + t * n_; }
  void finish() {
    if (parts_.empty()) return;
    for (size_t t = 0; t < parts_.size() / size_t(n_); ++t)
      for (int64_t j = 0; j < n_; ++j) out_[j] += parts_[t * size_t(n_) + size_t(j)];
  }

 private:
  int64_t n_;
  T* out_;
  std::vector<T> parts_;
};

inline void sync(const Share& sh) {
  if (!sh.by_rows) barrier();
}

}  // namespace

// ---- LSTM ------------------------------------------------------------------------------------
template <typename T>
void lstm_loop_forward(const RnnShape& s, const int64_t* act, bool reverse, const T* w_hh,
                       const T* x, const T* w_ih, const T* bias, T* gates, int64_t ring, T* h,
                       T* c, T* y, T* cprev, T* hprev, int threads) {
  const int64_t B = s.batch, H = s.hidden, NG = 4 * H;
  const bool by_rows = split_by_rows<T>(s, act, threads);
  const int parts = by_rows ? 1 : threads;
  RecurrentGemm<T> rg(H, 4, H, w_hh, 1, H, B, threads, parts);
  StepProjection<T> proj(s, reverse, 4, x, w_ih, threads, parts, ring);
  team(threads, [&](int t, int nt) {
    const Share sh = rg.share(t, nt, by_rows, B);
    const int64_t j0 = sh.j0, j1 = sh.j1, r0 = sh.r0, rows = sh.r1 - sh.r0;
    rg.pack_columns(0, sh.rows(act[time_of(s, 0, reverse)]), h + r0 * H, H, j0, j1, sh.panel);
    if (proj.active() && !by_rows) proj.pack(0, sh, t, nt);
    barrier();
    for (int64_t step = 0; step < s.steps; ++step) {
      const int64_t tt = time_of(s, step, reverse), nb = sh.rows(act[tt]);
      const int buf = int(step & 1);
      const int64_t at = tt * B + r0;  // this thread's first row of step tt
      T* g = gates + ((ring ? tt % ring : tt) * B + r0) * NG;
      T* cp = cprev ? cprev + at * H : nullptr;
      if (proj.active() && proj.starts_chunk(step)) {
        if (by_rows) proj.pack(step, sh, t, nt);
        proj.project(step, sh, bias, gates);
      }
      if (hprev) copy_cols(nb, rows, H, j0, j1, h + r0 * H, hprev + at * H);
      if (!proj.active()) add_bias(nb, NG, 4, H, j0, j1, bias, g);
      rg.multiply(buf, nb, sh.s0, sh.s1, g, NG, T(1), sh.panel);
      if (j1 > j0) lstm_gates_forward<T>(nb, j0, j1, H, g, c + r0 * H, cp, h + r0 * H);
      if (cp) zero_tail(nb, rows, H, 1, H, j0, j1, cp);
      copy_cols(nb, rows, H, j0, j1, h + r0 * H, y + at * H);
      if (step + 1 < s.steps)
        rg.pack_columns(buf ^ 1, sh.rows(act[time_of(s, step + 1, reverse)]), h + r0 * H, H, j0,
                        j1, sh.panel);
      if (proj.active() && !by_rows && proj.starts_chunk(step + 1)) proj.pack(step + 1, sh, t, nt);
      sync(sh);
    }
  });
}

// The time loop every recurrent backward shares: per step, last to first, each thread adds the
// output's gradient to the carried hidden gradient for its share (din = dh + dy_t), runs the
// cell's gate backward and packs its gate-gradient columns (`gates_step`), then (by units after
// a barrier) the recurrent product dh = beta * dh + dgates W_hh for its share of dh. Bias sums go
// to sums.of(t).
template <typename T, typename GatesStep>
void backward_through_time(const RnnShape& s, const int64_t* act, bool reverse, bool by_rows,
                           RecurrentGemm<T>& rg, const T* dy, T* dh, T beta, int threads,
                           GatesStep gates_step) {
  const int64_t B = s.batch, H = s.hidden;
  Aligned<T> dh_in(B * H);
  team(threads, [&](int t, int nt) {
    const Share sh = rg.share(t, nt, by_rows, B);
    const int64_t j0 = sh.j0, j1 = sh.j1, r0 = sh.r0;
    T* din = dh_in.get() + r0 * H;
    T* dhr = dh + r0 * H;
    for (int64_t step = s.steps - 1; step >= 0; --step) {
      const int64_t tt = time_of(s, step, reverse), nb = sh.rows(act[tt]);
      const int buf = int(step & 1);
      const T* dyt = dy + (tt * B + r0) * H;
      for (int64_t r = 0; r < nb; ++r)
        for (int64_t j = j0; j < j1; ++j) din[r * H + j] = dhr[r * H + j] + dyt[r * H + j];
      gates_step(t, sh, tt, nb, buf, static_cast<const T*>(din));
      sync(sh);
      rg.multiply(buf, nb, sh.s0, sh.s1, dhr, H, beta, sh.panel);
    }
  });
}

template <typename T>
void lstm_loop_backward(const RnnShape& s, const int64_t* act, bool reverse, const T* w_hh,
                        const T* gates, const T* cprev, const T* dy, T* dh, T* dc, T* dg, T* db,
                        int threads) {
  const int64_t B = s.batch, H = s.hidden, NG = 4 * H;
  const bool by_rows = split_by_rows<T>(s, act, threads);
  RecurrentGemm<T> rg(NG, 1, H, w_hh, H, 1, B, threads, by_rows ? 1 : threads);
  PartialSums<T> sums(threads, NG, db, by_rows);
  backward_through_time<T>(
      s, act, reverse, by_rows, rg, dy, dh, T(0), threads,
      [&](int t, const Share& sh, int64_t tt, int64_t nb, int buf, const T* din) {
        const int64_t j0 = sh.j0, j1 = sh.j1, at = tt * B + sh.r0;
        T* dgt = dg + at * NG;
        if (j1 > j0)
          lstm_gates_backward<T>(nb, j0, j1, H, gates + at * NG, cprev + at * H, din,
                                 dc + sh.r0 * H, dgt);
        zero_tail(nb, sh.r1 - sh.r0, NG, 4, H, j0, j1, dgt);
        add_column_sums(nb, NG, 4, H, j0, j1, dgt, sums.of(t));
        for (int64_t g = 0; g < 4; ++g)
          rg.pack_columns(buf, nb, dgt, NG, g * H + j0, g * H + j1, sh.panel);
      });
  sums.finish();
}

// ---- GRU -------------------------------------------------------------------------------------
template <typename T>
void gru_loop_forward(const RnnShape& s, const int64_t* act, bool reverse, const T* w_hh,
                      const T* x, const T* w_ih, const T* b_ih, const T* b_hh, T* gates,
                      int64_t ring, T* hn, T* h, T* y, T* hprev, int threads) {
  const int64_t B = s.batch, H = s.hidden, NG = 3 * H;
  const bool by_rows = split_by_rows<T>(s, act, threads);
  const int parts = by_rows ? 1 : threads;
  RecurrentGemm<T> rg(H, 3, H, w_hh, 1, H, B, threads, parts);
  StepProjection<T> proj(s, reverse, 3, x, w_ih, threads, parts, ring);
  Aligned<T> gh_buf(B * NG);
  team(threads, [&](int t, int nt) {
    const Share sh = rg.share(t, nt, by_rows, B);
    const int64_t j0 = sh.j0, j1 = sh.j1, r0 = sh.r0, rows = sh.r1 - sh.r0;
    T* gh = gh_buf.get() + r0 * NG;
    rg.pack_columns(0, sh.rows(act[time_of(s, 0, reverse)]), h + r0 * H, H, j0, j1, sh.panel);
    if (proj.active() && !by_rows) proj.pack(0, sh, t, nt);
    barrier();
    for (int64_t step = 0; step < s.steps; ++step) {
      const int64_t tt = time_of(s, step, reverse), nb = sh.rows(act[tt]);
      const int buf = int(step & 1);
      const int64_t at = tt * B + r0;
      T* g = gates + ((ring ? tt % ring : tt) * B + r0) * NG;
      if (proj.active() && proj.starts_chunk(step)) {
        if (by_rows) proj.pack(step, sh, t, nt);
        proj.project(step, sh, b_ih, gates);
      }
      if (b_hh)
        for (int64_t r = 0; r < nb; ++r)
          for (int64_t g = 0; g < 3; ++g)
            std::memcpy(gh + r * NG + g * H + j0, b_hh + g * H + j0, sizeof(T) * size_t(j1 - j0));
      rg.multiply(buf, nb, sh.s0, sh.s1, gh, NG, b_hh ? T(1) : T(0), sh.panel);
      if (!proj.active()) add_bias(nb, NG, 3, H, j0, j1, b_ih, g);
      T* hp = hprev ? hprev + at * H : nullptr;
      T* hnt = hn ? hn + at * H : nullptr;
      if (j1 > j0) gru_gates_forward<T>(nb, j0, j1, H, g, gh, hnt, h + r0 * H, hp);
      if (hp) zero_tail(nb, rows, H, 1, H, j0, j1, hp);
      if (hnt) zero_tail(nb, rows, H, 1, H, j0, j1, hnt);
      copy_cols(nb, rows, H, j0, j1, h + r0 * H, y + at * H);
      if (step + 1 < s.steps)
        rg.pack_columns(buf ^ 1, sh.rows(act[time_of(s, step + 1, reverse)]), h + r0 * H, H, j0,
                        j1, sh.panel);
      if (proj.active() && !by_rows && proj.starts_chunk(step + 1)) proj.pack(step + 1, sh, t, nt);
      sync(sh);
    }
  });
}

template <typename T>
void gru_loop_backward(const RnnShape& s, const int64_t* act, bool reverse, const T* w_hh,
                       const T* gates, const T* hn, const T* hprev, const T* dy, T* dh, T* dgx,
                       T* dgh, T* db_ih, T* db_hh, int threads) {
  const int64_t B = s.batch, H = s.hidden, NG = 3 * H;
  const bool by_rows = split_by_rows<T>(s, act, threads);
  RecurrentGemm<T> rg(NG, 1, H, w_hh, H, 1, B, threads, by_rows ? 1 : threads);
  PartialSums<T> sums_ih(threads, NG, db_ih, by_rows), sums_hh(threads, NG, db_hh, by_rows);
  // gru_gates_backward writes the direct part of dh_{t-1} into dh; the product adds to it
  backward_through_time<T>(
      s, act, reverse, by_rows, rg, dy, dh, T(1), threads,
      [&](int t, const Share& sh, int64_t tt, int64_t nb, int buf, const T* din) {
        const int64_t j0 = sh.j0, j1 = sh.j1, at = tt * B + sh.r0;
        T* gx = dgx + at * NG;
        T* ghh = dgh + at * NG;
        if (j1 > j0)
          gru_gates_backward<T>(nb, j0, j1, H, gates + at * NG, hn + at * H, hprev + at * H, din,
                                dh + sh.r0 * H, gx, ghh);
        zero_tail(nb, sh.r1 - sh.r0, NG, 3, H, j0, j1, gx);
        zero_tail(nb, sh.r1 - sh.r0, NG, 3, H, j0, j1, ghh);
        add_column_sums(nb, NG, 3, H, j0, j1, gx, sums_ih.of(t));
        add_column_sums(nb, NG, 3, H, j0, j1, ghh, sums_hh.of(t));
        for (int64_t g = 0; g < 3; ++g)
          rg.pack_columns(buf, nb, ghh, NG, g * H + j0, g * H + j1, sh.panel);
      });
  sums_ih.finish();
  sums_hh.finish();
}

// ---- Elman RNN -------------------------------------------------------------------------------
template <typename T>
void rnn_loop_forward(const RnnShape& s, bool relu, const int64_t* act, bool reverse,
                      const T* w_hh, const T* x, const T* w_ih, const T* bias, T* acts, T* h,
                      T* y, T* hprev, int threads) {
  const int64_t B = s.batch, H = s.hidden;
  const bool by_rows = split_by_rows<T>(s, act, threads);
  const int parts = by_rows ? 1 : threads;
  RecurrentGemm<T> rg(H, 1, H, w_hh, 1, H, B, threads, parts);
  StepProjection<T> proj(s, reverse, 1, x, w_ih, threads, parts);
  team(threads, [&](int t, int nt) {
    const Share sh = rg.share(t, nt, by_rows, B);
    const int64_t j0 = sh.j0, j1 = sh.j1, r0 = sh.r0, rows = sh.r1 - sh.r0;
    rg.pack_columns(0, sh.rows(act[time_of(s, 0, reverse)]), h + r0 * H, H, j0, j1, sh.panel);
    if (proj.active() && !by_rows) proj.pack(0, sh, t, nt);
    barrier();
    for (int64_t step = 0; step < s.steps; ++step) {
      const int64_t tt = time_of(s, step, reverse), nb = sh.rows(act[tt]);
      const int buf = int(step & 1);
      const int64_t at = tt * B + r0;
      T* a = acts + at * H;
      if (proj.active() && proj.starts_chunk(step)) {
        if (by_rows) proj.pack(step, sh, t, nt);
        proj.project(step, sh, bias, acts);
      }
      copy_cols(nb, rows, H, j0, j1, h + r0 * H, hprev + at * H);
      if (!proj.active()) add_bias(nb, H, 1, H, j0, j1, bias, a);
      rg.multiply(buf, nb, sh.s0, sh.s1, a, H, T(1), sh.panel);
      if (j1 > j0) rnn_gates_forward<T>(nb, j0, j1, H, relu, a, h + r0 * H);
      zero_tail(nb, rows, H, 1, H, j0, j1, a);
      copy_cols(nb, rows, H, j0, j1, h + r0 * H, y + at * H);
      if (step + 1 < s.steps)
        rg.pack_columns(buf ^ 1, sh.rows(act[time_of(s, step + 1, reverse)]), h + r0 * H, H, j0,
                        j1, sh.panel);
      if (proj.active() && !by_rows && proj.starts_chunk(step + 1)) proj.pack(step + 1, sh, t, nt);
      sync(sh);
    }
  });
}

template <typename T>
void rnn_loop_backward(const RnnShape& s, bool relu, const int64_t* act, bool reverse,
                       const T* w_hh, const T* acts, const T* dy, T* dh, T* dg, T* db,
                       int threads) {
  const int64_t B = s.batch, H = s.hidden;
  const bool by_rows = split_by_rows<T>(s, act, threads);
  RecurrentGemm<T> rg(H, 1, H, w_hh, H, 1, B, threads, by_rows ? 1 : threads);
  PartialSums<T> sums(threads, H, db, by_rows);
  backward_through_time<T>(
      s, act, reverse, by_rows, rg, dy, dh, T(0), threads,
      [&](int t, const Share& sh, int64_t tt, int64_t nb, int buf, const T* din) {
        const int64_t j0 = sh.j0, j1 = sh.j1, at = tt * B + sh.r0;
        T* dgt = dg + at * H;
        if (j1 > j0) rnn_gates_backward<T>(nb, j0, j1, H, relu, acts + at * H, din, dgt);
        zero_tail(nb, sh.r1 - sh.r0, H, 1, H, j0, j1, dgt);
        add_column_sums(nb, H, 1, H, j0, j1, dgt, sums.of(t));
        rg.pack_columns(buf, nb, dgt, H, j0, j1, sh.panel);
      });
  sums.finish();
}

#define FASTDL_INSTANTIATE_RNN_LOOPS(T)                                                        \
  template void lstm_loop_forward<T>(const RnnShape&, const int64_t*, bool, const T*,          \
                                     const T*, const T*, const T*, T*, int64_t, T*, T*, T*,    \
                                     T*, T*, int);                                             \
  template void lstm_loop_backward<T>(const RnnShape&, const int64_t*, bool, const T*,         \
                                      const T*, const T*, const T*, T*, T*, T*, T*, int);      \
  template void gru_loop_forward<T>(const RnnShape&, const int64_t*, bool, const T*, const T*, \
                                    const T*, const T*, const T*, T*, int64_t, T*, T*, T*, T*, \
                                    int);                                                      \
  template void gru_loop_backward<T>(const RnnShape&, const int64_t*, bool, const T*,          \
                                     const T*, const T*, const T*, const T*, T*, T*, T*, T*,   \
                                     T*, int);                                                 \
  template void rnn_loop_forward<T>(const RnnShape&, bool, const int64_t*, bool, const T*,     \
                                    const T*, const T*, const T*, T*, T*, T*, T*, int);        \
  template void rnn_loop_backward<T>(const RnnShape&, bool, const int64_t*, bool, const T*,    \
                                     const T*, const T*, T*, T*, T*, int);
FASTDL_INSTANTIATE_RNN_LOOPS(float)
FASTDL_INSTANTIATE_RNN_LOOPS(double)

}  // namespace fastdl::cpu::FASTDL_ISA
