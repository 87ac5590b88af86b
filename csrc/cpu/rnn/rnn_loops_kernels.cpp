// Per-ISA time loops of the recurrent kernels (rnn_loops.h): the GEMM's packing and micro-kernel
// (cpu/gemm) driven step by step with the fused gate kernels (rnn_gates.h) on each thread's units.
#include "cpu/rnn/rnn_loops.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu/gemm/gemm_buffer.h"
#include "cpu/gemm/gemm_config.h"
#include "cpu/gemm/gemm_pack.h"
#include "cpu/rnn/rnn_gates.h"

#if defined(FASTDL_ISA_avx512)
#include "cpu/gemm/gemm_ukernel_avx512.h"
#elif defined(FASTDL_ISA_avx2)
#include "cpu/gemm/gemm_ukernel_avx2.h"
#else
#include "cpu/gemm/gemm_ukernel_portable.h"
#endif

namespace fastdl::cpu::FASTDL_ISA {
namespace {

// A 64-byte aligned array (packed slivers are read with aligned vector loads).
template <typename T>
class Aligned {
 public:
  explicit Aligned(int64_t n) {
    const size_t bytes = size_t(round_up(std::max<int64_t>(n, 1) * int64_t(sizeof(T)), 64));
    p_ = static_cast<T*>(std::aligned_alloc(64, bytes));
    if (!p_) throw std::bad_alloc();
  }
  ~Aligned() { std::free(p_); }
  Aligned(const Aligned&) = delete;
  Aligned& operator=(const Aligned&) = delete;
  T* get() const { return p_; }

 private:
  T* p_;
};

// The calling thread's 64-byte aligned buffer `slot`, of at least n elements, kept across calls
// (grown on demand): the packed weights (4 MiB for an LSTM at hidden 512) were a fresh
// allocation per call, and the kernel's page clearing of it took ~5% of a backward (perf).
// One sequence kernel runs per calling thread at a time; its team only reads and writes them.
template <typename T>
T* cached_buffer(int slot, int64_t n) {
  static thread_local std::unique_ptr<Aligned<T>> buffers[6];
  static thread_local int64_t sizes[6] = {0, 0, 0, 0, 0, 0};
  if (sizes[slot] < n) {
    buffers[slot].reset();
    buffers[slot] = std::make_unique<Aligned<T>>(n);
    sizes[slot] = n;
  }
  return buffers[slot]->get();
}

// The recurrent product C (rows x blocks*cols) (+)= A (rows x k) B (k x blocks*cols) with B packed
// once (per block, slivers of NR columns, in k blocks of at most KC rows so a packed A panel of
// one k block stays in L1 while B slivers stream from L2) and A packed per step by the threads,
// each its own k range, into one of two buffers (the one the current product does not read).
template <typename T>
class RecurrentGemm {
 public:
  static constexpr int MR = gemm_config::Blocking<T>::MR, NR = gemm_config::Blocking<T>::NR;
  static constexpr int64_t KC = gemm_config::Blocking<T>::KC;

  // B element (p, g * cols + j) at b[p * rs + (g * cols + j) * cs].
  // `slots`: the first of the three cached buffers it uses (0 or 3: two instances at once).
  RecurrentGemm(int64_t k, int64_t blocks, int64_t cols, const T* b, int64_t rs, int64_t cs,
                int64_t max_rows, int threads, int slots = 0)
      : k_(k), blocks_(blocks), cols_(cols), parts_(std::max(threads, 1)),
        kblocks_(ceil_div(k, KC)), kc_(ceil_div(k, kblocks_)),
        sstride_(packed_b_sliver_stride<T, NR>(kc_)), mr_(rows_per_panel(max_rows)),
        panel_(int64_t(mr_) * kc_), apanels_(ceil_div(max_rows, mr_)) {
    partition();
    packed_b_ = cached_buffer<T>(slots, blocks * slivers_ * kblocks_ * sstride_);
    packed_a_[0] = cached_buffer<T>(slots + 1, kblocks_ * apanels_ * panel_);
    packed_a_[1] = cached_buffer<T>(slots + 2, kblocks_ * apanels_ * panel_);
    T* dst = packed_b_;
    const int64_t total = blocks * slivers_ * kblocks_;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t i = 0; i < total; ++i) {
      const int64_t kb = i % kblocks_, sl = i / kblocks_ % slivers_, g = i / kblocks_ / slivers_;
      const int64_t j0 = start_[size_t(sl)], nc = start_[size_t(sl) + 1] - j0;
      const int64_t p0 = kb * kc_, kc = std::min(kc_, k - p0);
      pack_b<T, NR>(kc, nc, b + p0 * rs + (g * cols + j0) * cs, rs, cs, dst + i * sstride_);
    }
  }

  // Rows per A panel (and micro-kernel tile): MR, or 1, 2 or 4 for batches smaller than MR
  // (at batch 1 an MR-row tile would spend 7/8 of its FMAs on zero rows).
  static int rows_per_panel(int64_t max_rows) {
    return max_rows >= MR ? MR : max_rows <= 1 ? 1 : max_rows <= 2 ? 2 : 4;
  }

  // Slivers per group (multiply_tiles): NC / NR; FASTDL_RNN_SLIVER_GROUP overrides it (read per
  // call; 1 = the sliver-by-sliver order, for measurements).
  static int64_t sliver_group() {
    if (const char* env = std::getenv("FASTDL_RNN_SLIVER_GROUP"); env && *env)
      return std::max<int64_t>(1, std::atoll(env));
    return std::max<int64_t>(1, gemm_config::Blocking<T>::NC / NR);
  }

  // Thread t's slivers [s0, s1) of each block (and units [unit(s0), unit(s1))): the parts of
  // the partition (one per thread the weights were packed for) that fall to thread t of nt.
  std::pair<int64_t, int64_t> share(int t, int nt) const {
    const int64_t p0 = int64_t(parts_) * t / nt, p1 = int64_t(parts_) * (t + 1) / nt;
    return {first_[size_t(p0)], first_[size_t(p1)]};
  }
  int64_t unit(int64_t sliver) const { return start_[size_t(sliver)]; }

  // Pack A's columns [p0, p1) (A element (i, p) at a[i * lda + p]) for rows [0, m) into buffer
  // `which`; rows past m of the last panel are zeros.
  void pack_columns(int which, int64_t m, const T* a, int64_t lda, int64_t p0, int64_t p1) {
    T* dst = packed_a_[which];
    while (p0 < p1) {  // one k block at a time
      const int64_t kb = p0 / kc_, q1 = std::min(p1, (kb + 1) * kc_), base = kb * kc_;
      T* blk = dst + kb * apanels_ * panel_;
      for (int64_t i0 = 0; i0 < m; i0 += mr_) {
        T* panel = blk + (i0 / mr_) * panel_;
        const int mr = int(std::min<int64_t>(mr_, m - i0));
        for (int i = 0; i < mr; ++i) {
          const T* row = a + (i0 + i) * lda;
          for (int64_t p = p0; p < q1; ++p) panel[(p - base) * mr_ + i] = row[p];
        }
        for (int i = mr; i < mr_; ++i)
          for (int64_t p = p0; p < q1; ++p) panel[(p - base) * mr_ + i] = T(0);
      }
      p0 = q1;
    }
  }

  // C[0:m, block g's slivers [s0, s1)] = A B (+ C when beta is 1), for every block g.
  void multiply(int which, int64_t m, int64_t s0, int64_t s1, T* c, int64_t ldc, T beta) const {
    switch (mr_) {
      case 1: return multiply_tiles<1>(which, m, s0, s1, c, ldc, beta);
      case 2: return multiply_tiles<2>(which, m, s0, s1, c, ldc, beta);
      case 4: return multiply_tiles<4 < MR ? 4 : MR>(which, m, s0, s1, c, ldc, beta);
      default: return multiply_tiles<MR>(which, m, s0, s1, c, ldc, beta);
    }
  }

 private:
  // The columns split into one part per thread at vector boundaries (as equal as vectors allow),
  // each part cut into slivers of NR from its own start, the last one narrower: with hidden 512
  // and 2 threads, 256 units each (5 x 48 + 16) instead of 5 and 6 whole slivers of the matrix
  // (240 / 272 units, the second thread's 32-wide edge sliver costing a full one): the threads
  // meet at each step's barrier at the same time.
  void partition() {
    constexpr int64_t kLanes = Simd<T>::kLanes;
    const int64_t vectors = ceil_div(cols_, kLanes);
    for (int64_t p = 0; p < parts_; ++p) {
      first_.push_back(int64_t(start_.size()));
      const int64_t u0 = std::min(cols_, kLanes * (vectors * p / parts_));
      const int64_t u1 = std::min(cols_, kLanes * (vectors * (p + 1) / parts_));
      for (int64_t j = u0; j < u1; j += NR) start_.push_back(j);
    }
    first_.push_back(int64_t(start_.size()));
    slivers_ = int64_t(start_.size());
    start_.push_back(cols_);  // sliver sl spans [start_[sl], start_[sl + 1])
  }

  // BLIS's order within a step: slivers in groups of the GEMM's NC block (KC x NC packed B, the
  // part of L2 the GEMM gives it), and per group and k block every A panel (R x KC, in L1) meets
  // the whole group while the group stays in L2. (Sliver by sliver, the row panels took turns and
  // each micro-kernel call read its A panel from L2 as well as its B sliver.)
  template <int R>
  void multiply_tiles(int which, int64_t m, int64_t s0, int64_t s1, T* c, int64_t ldc,
                      T beta) const {
    const T* pa = packed_a_[which];
    const int64_t group = std::max<int64_t>(1, sliver_group_);
    for (int64_t g = 0; g < blocks_; ++g)
      for (int64_t q0 = s0; q0 < s1; q0 += group) {
        const int64_t q1 = std::min(s1, q0 + group);
        for (int64_t kb = 0; kb < kblocks_; ++kb) {
          const int64_t kc = std::min(kc_, k_ - kb * kc_);
          const T* pk = pa + kb * apanels_ * panel_;
          const T b_kb = kb == 0 ? beta : T(1);
          for (int64_t i0 = 0; i0 < m; i0 += R) {
            const int mr = int(std::min<int64_t>(R, m - i0));
            for (int64_t sl = q0; sl < q1; ++sl) {
              const int64_t j0 = start_[size_t(sl)];
              const T* pb = packed_b_ + ((g * slivers_ + sl) * kblocks_ + kb) * sstride_;
              micro_kernel<T, R, NR>(kc, pk + (i0 / R) * panel_, pb,
                                     c + i0 * ldc + g * cols_ + j0, ldc, 1, mr,
                                     int(start_[size_t(sl) + 1] - j0), T(1), b_kb);
            }
          }
        }
      }
  }

  int64_t k_, blocks_, cols_;
  int parts_;
  int64_t kblocks_, kc_, sstride_;
  int64_t sliver_group_ = sliver_group();
  int mr_;
  int64_t panel_, apanels_;
  int64_t slivers_ = 0;
  std::vector<int64_t> start_;  // first column of each sliver, then cols
  std::vector<int64_t> first_;  // first sliver of each part, then slivers_
  T* packed_b_;                 // cached_buffer slots + 0 (B), + 1 and + 2 (A, double buffered)
  T* packed_a_[2];
};

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

// p[r, g * cols + j] += bias[g * cols + j] for rows r < n, j in [j0, j1) of each block (bias may
// be null: nothing to add).
template <typename T>
void add_bias(int64_t n, int64_t ld, int64_t blocks, int64_t cols, int64_t j0, int64_t j1,
              const T* __restrict bias, T* p) {
  if (!bias) return;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t g = 0; g < blocks; ++g) {
      T* __restrict row = p + r * ld + g * cols;
      const T* __restrict b = bias + g * cols;
      for (int64_t j = j0; j < j1; ++j) row[j] += b[j];
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


// The input projections x_t W_ih^T (+ bias) of the loop's steps, computed by the loop's own
// threads a chunk of steps at a time, each on its own units (W_ih packed once per call and split
// like W_hh), just before the steps read them. One GEMM over all steps before the loop wrote the
// whole (steps, batch, gates) array (32 MiB for an LSTM at T=128, B=32, H=512) long before each
// step read it back from memory: with each thread's 2 MiB of W_hh streaming through its L2
// every step, those reads (the per-step bias add) stalled ~2.5 ms of a 70 ms forward. A chunk
// is ~128 rows (steps x batch), enough rows for the micro-kernel to reuse each W_ih sliver; its
// x rows are packed by all threads (each a range of input columns) at the end of the previous
// chunk, before that step's barrier, so no barrier is added. Inactive (x null): the caller
// projected every step beforehand and the loop adds the bias per step.
template <typename T>
class StepProjection {
 public:
  StepProjection(const RnnShape& s, bool reverse, int64_t blocks, const T* x, const T* w_ih,
                 int threads)
      : s_(s), reverse_(reverse), blocks_(blocks), x_(x), chunk_(chunk_steps(s)) {
    if (x_)
      rg_.emplace(s.input, blocks, s.hidden, w_ih, 1, s.input, chunk_ * s.batch, threads, 3);
  }

  bool active() const { return x_ != nullptr; }
  bool starts_chunk(int64_t step) const { return step % chunk_ == 0 && step < s_.steps; }

  // Thread t of nt packs its range of input columns of the x rows of the chunk starting at step.
  void pack(int64_t step, int t, int nt) {
    const auto [t0, n] = times(step);
    const int64_t I = s_.input;
    rg_->pack_columns(buffer(step), n * s_.batch, x_ + t0 * s_.batch * I, I, I * t / nt,
                      I * (t + 1) / nt);
  }

  // gates of the chunk starting at step = x W_ih^T + bias, for the slivers [s0, s1) (units
  // [j0, j1)) of every block.
  void project(int64_t step, int64_t s0, int64_t s1, int64_t j0, int64_t j1, const T* bias,
               T* gates) const {
    const auto [t0, n] = times(step);
    const int64_t ld = blocks_ * s_.hidden;
    T* g = gates + t0 * s_.batch * ld;
    rg_->multiply(buffer(step), n * s_.batch, s0, s1, g, ld, T(0));
    add_bias(n * s_.batch, ld, blocks_, s_.hidden, j0, j1, bias, g);
  }

 private:
  // Steps per chunk: ~128 rows; FASTDL_RNN_CHUNK_ROWS overrides (read per call, measurements).
  static int64_t chunk_steps(const RnnShape& s) {
    const char* env = std::getenv("FASTDL_RNN_CHUNK_ROWS");
    const int64_t rows = env && *env ? std::max<int64_t>(1, std::atoll(env)) : 128;
    return std::clamp<int64_t>(rows / std::max<int64_t>(s.batch, 1), 1,
                               std::max<int64_t>(s.steps, 1));
  }
  int buffer(int64_t step) const { return int(step / chunk_ & 1); }
  // The chunk's first time index and its number of steps (times run backward when reversed).
  std::pair<int64_t, int64_t> times(int64_t step) const {
    const int64_t n = std::min(chunk_, s_.steps - step);
    return {reverse_ ? s_.steps - step - n : step, n};
  }

  const RnnShape& s_;
  bool reverse_;
  int64_t blocks_;
  const T* x_;
  int64_t chunk_;
  std::optional<RecurrentGemm<T>> rg_;
};
}  // namespace

// ---- LSTM ------------------------------------------------------------------------------------
template <typename T>
void lstm_loop_forward(const RnnShape& s, const int64_t* act, bool reverse, const T* w_hh,
                       const T* x, const T* w_ih, const T* bias, T* gates, T* h, T* c, T* y,
                       T* cprev, T* hprev, int threads) {
  const int64_t B = s.batch, H = s.hidden, NG = 4 * H;
  RecurrentGemm<T> rg(H, 4, H, w_hh, 1, H, B, threads);
  StepProjection<T> proj(s, reverse, 4, x, w_ih, threads);
  team(threads, [&](int t, int nt) {
    const auto [s0, s1] = rg.share(t, nt);
    const int64_t j0 = rg.unit(s0), j1 = rg.unit(s1);
    rg.pack_columns(0, act[time_of(s, 0, reverse)], h, H, j0, j1);
    if (proj.active()) proj.pack(0, t, nt);
    barrier();
    for (int64_t step = 0; step < s.steps; ++step) {
      const int64_t tt = time_of(s, step, reverse), nb = act[tt];
      const int buf = int(step & 1);
      T* g = gates + tt * B * NG;
      if (proj.active() && proj.starts_chunk(step)) proj.project(step, s0, s1, j0, j1, bias, gates);
      copy_cols(nb, B, H, j0, j1, h, hprev + tt * B * H);
      if (!proj.active()) add_bias(nb, NG, 4, H, j0, j1, bias, g);
      rg.multiply(buf, nb, s0, s1, g, NG, T(1));
      if (j1 > j0) lstm_gates_forward<T>(nb, j0, j1, H, g, c, cprev + tt * B * H, h);
      zero_tail(nb, B, H, 1, H, j0, j1, cprev + tt * B * H);
      copy_cols(nb, B, H, j0, j1, h, y + tt * B * H);
      if (step + 1 < s.steps)
        rg.pack_columns(buf ^ 1, act[time_of(s, step + 1, reverse)], h, H, j0, j1);
      if (proj.active() && proj.starts_chunk(step + 1)) proj.pack(step + 1, t, nt);
      barrier();
    }
  });
}

// The time loop every recurrent backward shares: per step, last to first, each thread adds the
// output's gradient to the carried hidden gradient for its hidden units (din = dh + dy_t), runs
// the cell's gate backward and packs its gate-gradient columns (`gates_step`), then, after one
// barrier, the recurrent product dh = beta * dh + dgates W_hh for its share of dh.
template <typename T, typename GatesStep>
void backward_through_time(const RnnShape& s, const int64_t* act, bool reverse,
                           RecurrentGemm<T>& rg, const T* dy, T* dh, T beta, int threads,
                           GatesStep gates_step) {
  const int64_t B = s.batch, H = s.hidden;
  Aligned<T> dh_in(B * H);
  team(threads, [&](int t, int nt) {
    const auto [s0, s1] = rg.share(t, nt);
    const int64_t j0 = rg.unit(s0), j1 = rg.unit(s1);
    T* din = dh_in.get();
    for (int64_t step = s.steps - 1; step >= 0; --step) {
      const int64_t tt = time_of(s, step, reverse), nb = act[tt];
      const int buf = int(step & 1);
      const T* dyt = dy + tt * B * H;
      for (int64_t r = 0; r < nb; ++r)
        for (int64_t j = j0; j < j1; ++j) din[r * H + j] = dh[r * H + j] + dyt[r * H + j];
      gates_step(tt, nb, j0, j1, buf, din);
      barrier();
      rg.multiply(buf, nb, s0, s1, dh, H, beta);
    }
  });
}

template <typename T>
void lstm_loop_backward(const RnnShape& s, const int64_t* act, bool reverse, const T* w_hh,
                        const T* gates, const T* cprev, const T* dy, T* dh, T* dc, T* dg, T* db,
                        int threads) {
  const int64_t B = s.batch, H = s.hidden, NG = 4 * H;
  RecurrentGemm<T> rg(NG, 1, H, w_hh, H, 1, B, threads);
  backward_through_time<T>(
      s, act, reverse, rg, dy, dh, T(0), threads,
      [&](int64_t tt, int64_t nb, int64_t j0, int64_t j1, int buf, const T* din) {
        T* dgt = dg + tt * B * NG;
        if (j1 > j0)
          lstm_gates_backward<T>(nb, j0, j1, H, gates + tt * B * NG, cprev + tt * B * H, din,
                                 dc, dgt);
        zero_tail(nb, B, NG, 4, H, j0, j1, dgt);
        add_column_sums(nb, NG, 4, H, j0, j1, dgt, db);
        for (int64_t g = 0; g < 4; ++g)
          rg.pack_columns(buf, nb, dgt, NG, g * H + j0, g * H + j1);
      });
}

// ---- GRU -------------------------------------------------------------------------------------
template <typename T>
void gru_loop_forward(const RnnShape& s, const int64_t* act, bool reverse, const T* w_hh,
                      const T* x, const T* w_ih, const T* b_ih, const T* b_hh, T* gates, T* hn,
                      T* h, T* y, T* hprev, int threads) {
  const int64_t B = s.batch, H = s.hidden, NG = 3 * H;
  RecurrentGemm<T> rg(H, 3, H, w_hh, 1, H, B, threads);
  StepProjection<T> proj(s, reverse, 3, x, w_ih, threads);
  Aligned<T> gh_buf(B * NG);
  team(threads, [&](int t, int nt) {
    const auto [s0, s1] = rg.share(t, nt);
    const int64_t j0 = rg.unit(s0), j1 = rg.unit(s1);
    T* gh = gh_buf.get();
    rg.pack_columns(0, act[time_of(s, 0, reverse)], h, H, j0, j1);
    if (proj.active()) proj.pack(0, t, nt);
    barrier();
    for (int64_t step = 0; step < s.steps; ++step) {
      const int64_t tt = time_of(s, step, reverse), nb = act[tt];
      const int buf = int(step & 1);
      if (proj.active() && proj.starts_chunk(step)) proj.project(step, s0, s1, j0, j1, b_ih, gates);
      if (b_hh)
        for (int64_t r = 0; r < nb; ++r)
          for (int64_t g = 0; g < 3; ++g)
            std::memcpy(gh + r * NG + g * H + j0, b_hh + g * H + j0, sizeof(T) * size_t(j1 - j0));
      rg.multiply(buf, nb, s0, s1, gh, NG, b_hh ? T(1) : T(0));
      if (!proj.active()) add_bias(nb, NG, 3, H, j0, j1, b_ih, gates + tt * B * NG);
      T* hp = hprev + tt * B * H;
      T* hnt = hn + tt * B * H;
      if (j1 > j0) gru_gates_forward<T>(nb, j0, j1, H, gates + tt * B * NG, gh, hnt, h, hp);
      zero_tail(nb, B, H, 1, H, j0, j1, hp);
      zero_tail(nb, B, H, 1, H, j0, j1, hnt);
      copy_cols(nb, B, H, j0, j1, h, y + tt * B * H);
      if (step + 1 < s.steps)
        rg.pack_columns(buf ^ 1, act[time_of(s, step + 1, reverse)], h, H, j0, j1);
      if (proj.active() && proj.starts_chunk(step + 1)) proj.pack(step + 1, t, nt);
      barrier();
    }
  });
}

template <typename T>
void gru_loop_backward(const RnnShape& s, const int64_t* act, bool reverse, const T* w_hh,
                       const T* gates, const T* hn, const T* hprev, const T* dy, T* dh, T* dgx,
                       T* dgh, T* db_ih, T* db_hh, int threads) {
  const int64_t B = s.batch, H = s.hidden, NG = 3 * H;
  RecurrentGemm<T> rg(NG, 1, H, w_hh, H, 1, B, threads);
  // gru_gates_backward writes the direct part of dh_{t-1} into dh; the product adds to it
  backward_through_time<T>(
      s, act, reverse, rg, dy, dh, T(1), threads,
      [&](int64_t tt, int64_t nb, int64_t j0, int64_t j1, int buf, const T* din) {
        T* gx = dgx + tt * B * NG;
        T* ghh = dgh + tt * B * NG;
        if (j1 > j0)
          gru_gates_backward<T>(nb, j0, j1, H, gates + tt * B * NG, hn + tt * B * H,
                                hprev + tt * B * H, din, dh, gx, ghh);
        zero_tail(nb, B, NG, 3, H, j0, j1, gx);
        zero_tail(nb, B, NG, 3, H, j0, j1, ghh);
        add_column_sums(nb, NG, 3, H, j0, j1, gx, db_ih);
        add_column_sums(nb, NG, 3, H, j0, j1, ghh, db_hh);
        for (int64_t g = 0; g < 3; ++g)
          rg.pack_columns(buf, nb, ghh, NG, g * H + j0, g * H + j1);
      });
}

// ---- Elman RNN -------------------------------------------------------------------------------
template <typename T>
void rnn_loop_forward(const RnnShape& s, bool relu, const int64_t* act, bool reverse,
                      const T* w_hh, const T* x, const T* w_ih, const T* bias, T* acts, T* h,
                      T* y, T* hprev, int threads) {
  const int64_t B = s.batch, H = s.hidden;
  RecurrentGemm<T> rg(H, 1, H, w_hh, 1, H, B, threads);
  StepProjection<T> proj(s, reverse, 1, x, w_ih, threads);
  team(threads, [&](int t, int nt) {
    const auto [s0, s1] = rg.share(t, nt);
    const int64_t j0 = rg.unit(s0), j1 = rg.unit(s1);
    rg.pack_columns(0, act[time_of(s, 0, reverse)], h, H, j0, j1);
    if (proj.active()) proj.pack(0, t, nt);
    barrier();
    for (int64_t step = 0; step < s.steps; ++step) {
      const int64_t tt = time_of(s, step, reverse), nb = act[tt];
      const int buf = int(step & 1);
      T* a = acts + tt * B * H;
      if (proj.active() && proj.starts_chunk(step)) proj.project(step, s0, s1, j0, j1, bias, acts);
      copy_cols(nb, B, H, j0, j1, h, hprev + tt * B * H);
      if (!proj.active()) add_bias(nb, H, 1, H, j0, j1, bias, a);
      rg.multiply(buf, nb, s0, s1, a, H, T(1));
      if (j1 > j0) rnn_gates_forward<T>(nb, j0, j1, H, relu, a, h);
      zero_tail(nb, B, H, 1, H, j0, j1, a);
      copy_cols(nb, B, H, j0, j1, h, y + tt * B * H);
      if (step + 1 < s.steps)
        rg.pack_columns(buf ^ 1, act[time_of(s, step + 1, reverse)], h, H, j0, j1);
      if (proj.active() && proj.starts_chunk(step + 1)) proj.pack(step + 1, t, nt);
      barrier();
    }
  });
}

template <typename T>
void rnn_loop_backward(const RnnShape& s, bool relu, const int64_t* act, bool reverse,
                       const T* w_hh, const T* acts, const T* dy, T* dh, T* dg, T* db,
                       int threads) {
  const int64_t B = s.batch, H = s.hidden;
  RecurrentGemm<T> rg(H, 1, H, w_hh, H, 1, B, threads);
  backward_through_time<T>(
      s, act, reverse, rg, dy, dh, T(0), threads,
      [&](int64_t tt, int64_t nb, int64_t j0, int64_t j1, int buf, const T* din) {
        T* dgt = dg + tt * B * H;
        if (j1 > j0) rnn_gates_backward<T>(nb, j0, j1, H, relu, acts + tt * B * H, din, dgt);
        zero_tail(nb, B, H, 1, H, j0, j1, dgt);
        add_column_sums(nb, H, 1, H, j0, j1, dgt, db);
        rg.pack_columns(buf, nb, dgt, H, j0, j1);
      });
}

#define FASTDL_INSTANTIATE_RNN_LOOPS(T)                                                        \
  template void lstm_loop_forward<T>(const RnnShape&, const int64_t*, bool, const T*,          \
                                     const T*, const T*, const T*, T*, T*, T*, T*, T*, T*,     \
                                     int);                                                     \
  template void lstm_loop_backward<T>(const RnnShape&, const int64_t*, bool, const T*,         \
                                      const T*, const T*, const T*, T*, T*, T*, T*, int);      \
  template void gru_loop_forward<T>(const RnnShape&, const int64_t*, bool, const T*, const T*, \
                                    const T*, const T*, const T*, T*, T*, T*, T*, T*, int);    \
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
