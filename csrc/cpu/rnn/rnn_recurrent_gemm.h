#pragma once
// The products inside the recurrent time loops (rnn_loops_kernels.cpp), per ISA: included only by
// that source, after the ISA's micro-kernel header, so everything here lives in the ISA's
// namespace. RecurrentGemm multiplies a per-step packed A by a B packed once per call;
// StepProjection computes the input projections a chunk of steps ahead with it; Share says which
// part of a step one thread of the loop's team computes.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "cpu/gemm/gemm_buffer.h"
#include "cpu/gemm/gemm_config.h"
#include "cpu/gemm/gemm_pack.h"
#include "cpu/rnn/rnn.h"
#include "cpu/rnn/rnn_loops.h"

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

// One thread's part of a time loop. By units: slivers [s0, s1) of every block (units [j0, j1)),
// all rows, one barrier per step (each step's product needs every unit of the previous state).
// By rows: every unit of batch rows [r0, r1), whose A panels start at `panel`: rows do not mix
// through time, so a thread runs its rows' whole sequence without a barrier, reading the W_hh
// packed once for all; each thread's rows are a whole number of panels.
struct Share {
  int64_t s0, s1, j0, j1, r0, r1, panel;
  bool by_rows;
  // The thread's rows among the first `active` rows of a step.
  int64_t rows(int64_t active) const { return std::clamp<int64_t>(active - r0, 0, r1 - r0); }
};

// Rows of a product that are not one block: rows [0, m) come in groups of `group` consecutive
// rows (row stride ld), the groups `stride` elements apart (a thread's batch rows of each step of
// a chunk); group 0: one block.
struct RowGroups {
  int64_t group = 0, stride = 0;
  int64_t offset(int64_t row, int64_t ld) const {
    return group ? row / group * stride + row % group * ld : row * ld;
  }
};

// The recurrent product C (rows x blocks*cols) (+)= A (rows x k) B (k x blocks*cols) with B packed
// once (per block, slivers of NR columns, in k blocks of at most KC rows so a packed A panel of
// one k block stays in L1 while B slivers stream from L2) and A packed per step by the threads
// into one of two buffers (the one the current product does not read): by units each thread packs
// its k range of every row, by rows each its own panels.
template <typename T>
class RecurrentGemm {
 public:
  static constexpr int MR = gemm_config::Blocking<T>::MR, NR = gemm_config::Blocking<T>::NR;
  static constexpr int64_t KC = gemm_config::Blocking<T>::KC;

  // B element (p, g * cols + j) at b[p * rs + (g * cols + j) * cs]. `parts`: threads that will
  // split the columns (by units); `slots`: the first of the three cached buffers it uses (0 or 3:
  // two instances at once).
  RecurrentGemm(int64_t k, int64_t blocks, int64_t cols, const T* b, int64_t rs, int64_t cs,
                int64_t max_rows, int threads, int parts, int slots = 0)
      : k_(k), blocks_(blocks), cols_(cols), parts_(std::max(parts, 1)),
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
  int panel_rows() const { return mr_; }

  // Slivers per group (multiply_tiles): NC / NR; FASTDL_RNN_SLIVER_GROUP overrides it (read per
  // call; 1 = the sliver-by-sliver order, for measurements).
  static int64_t sliver_group() {
    if (const char* env = std::getenv("FASTDL_RNN_SLIVER_GROUP"); env && *env)
      return std::max<int64_t>(1, std::atoll(env));
    return std::max<int64_t>(1, gemm_config::Blocking<T>::NC / NR);
  }

  // Thread t of nt's share of `rows` rows. By units: the parts of the column partition that fall
  // to it; by rows: whole panels, as equal as panels allow.
  Share share(int t, int nt, bool by_rows, int64_t rows) const {
    if (by_rows) {
      const int64_t panels = ceil_div(rows, int64_t(mr_));
      const int64_t q0 = panels * t / nt, q1 = panels * (t + 1) / nt;
      return {0, slivers_, 0, cols_, std::min(rows, q0 * mr_), std::min(rows, q1 * mr_), q0, true};
    }
    const int64_t p0 = int64_t(parts_) * t / nt, p1 = int64_t(parts_) * (t + 1) / nt;
    const int64_t s0 = first_[size_t(p0)], s1 = first_[size_t(p1)];
    return {s0, s1, start_[size_t(s0)], start_[size_t(s1)], 0, rows, 0, false};
  }

  // Pack A's columns [p0, p1) for rows [0, m) (A element (i, p) at a[rows.offset(i, lda) + p])
  // into buffer `which` from panel `panel` on; rows past m of the last panel are zeros.
  void pack_columns(int which, int64_t m, const T* a, int64_t lda, int64_t p0, int64_t p1,
                    int64_t panel = 0, RowGroups rows = {}) {
    T* dst = packed_a_[which];
    while (p0 < p1) {  // one k block at a time
      const int64_t kb = p0 / kc_, q1 = std::min(p1, (kb + 1) * kc_), base = kb * kc_;
      T* blk = dst + (kb * apanels_ + panel) * panel_;
      for (int64_t i0 = 0; i0 < m; i0 += mr_) {
        T* pn = blk + (i0 / mr_) * panel_;
        const int mr = int(std::min<int64_t>(mr_, m - i0));
        int64_t p = p0;
#if defined(FASTDL_ISA_avx512)
        // A full panel of 8 rows at one stride: a transposing copy 16 columns at a time (the
        // scalar stores at stride 8 were ~1% of an LSTM forward, perf).
        if constexpr (std::is_same_v<T, float> && MR == 8) {
          const T* first = a + rows.offset(i0, lda);
          if (mr == 8 && mr_ == 8 && a + rows.offset(i0 + 7, lda) == first + 7 * lda)
            for (; p + 16 <= q1; p += 16) transpose_8x16(first + p, lda, pn + (p - base) * 8, 8);
        }
#endif
        for (int i = 0; i < mr; ++i) {
          const T* row = a + rows.offset(i0 + i, lda);
          for (int64_t q = p; q < q1; ++q) pn[(q - base) * mr_ + i] = row[q];
        }
        for (int i = mr; i < mr_; ++i)
          for (int64_t q = p; q < q1; ++q) pn[(q - base) * mr_ + i] = T(0);
      }
      p0 = q1;
    }
  }

  // C[0:m, block g's slivers [s0, s1)] = A B (+ C when beta is 1), for every block g, A from
  // panel `panel` on, C row i at c + rows.offset(i, ldc) (a group holds whole panels).
  void multiply(int which, int64_t m, int64_t s0, int64_t s1, T* c, int64_t ldc, T beta,
                int64_t panel = 0, RowGroups rows = {}) const {
    switch (mr_) {
      case 1: return multiply_tiles<1>(which, m, s0, s1, c, ldc, beta, panel, rows);
      case 2: return multiply_tiles<2>(which, m, s0, s1, c, ldc, beta, panel, rows);
      case 4: return multiply_tiles<4 < MR ? 4 : MR>(which, m, s0, s1, c, ldc, beta, panel, rows);
      default: return multiply_tiles<MR>(which, m, s0, s1, c, ldc, beta, panel, rows);
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
  void multiply_tiles(int which, int64_t m, int64_t s0, int64_t s1, T* c, int64_t ldc, T beta,
                      int64_t panel, RowGroups rows) const {
    const T* pa = packed_a_[which];
    const int64_t group = std::max<int64_t>(1, sliver_group_);
    for (int64_t g = 0; g < blocks_; ++g)
      for (int64_t q0 = s0; q0 < s1; q0 += group) {
        const int64_t q1 = std::min(s1, q0 + group);
        for (int64_t kb = 0; kb < kblocks_; ++kb) {
          const int64_t kc = std::min(kc_, k_ - kb * kc_);
          const T* pk = pa + (kb * apanels_ + panel) * panel_;
          const T b_kb = kb == 0 ? beta : T(1);
          for (int64_t i0 = 0; i0 < m; i0 += R) {
            const int mr = int(std::min<int64_t>(R, m - i0));
            T* ci = c + rows.offset(i0, ldc) + g * cols_;
            for (int64_t sl = q0; sl < q1; ++sl) {
              const int64_t j0 = start_[size_t(sl)];
              const T* pb = packed_b_ + ((g * slivers_ + sl) * kblocks_ + kb) * sstride_;
              micro_kernel<T, R, NR>(kc, pk + (i0 / R) * panel_, pb, ci + j0, ldc, 1, mr,
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

// The input projections x_t W_ih^T (+ bias) of the loop's steps, computed by the loop's own
// threads a chunk of steps at a time, each on its own share (W_ih packed once per call and split
// like W_hh), just before the steps read them. One GEMM over all steps before the loop wrote the
// whole (steps, batch, gates) array (32 MiB for an LSTM at T=128, B=32, H=512) long before each
// step read it back from memory: with each thread's 2 MiB of W_hh streaming through its L2
// every step, those reads (the per-step bias add) stalled ~2.5 ms of a 70 ms forward. A chunk
// is ~128 rows (steps x batch), enough rows for the micro-kernel to reuse each W_ih sliver. By
// units, the chunk's x rows are packed by all threads (each a range of input columns) at the end
// of the previous chunk, before that step's barrier, so no barrier is added; by rows, each thread
// packs its own rows of the chunk's steps. Inactive (x null): the caller projected every step
// beforehand and the loop adds the bias per step.
template <typename T>
class StepProjection {
 public:
  // ring: the gates array holds the steps of `ring` times (t mod ring), or all of them (0).
  StepProjection(const RnnShape& s, bool reverse, int64_t blocks, const T* x, const T* w_ih,
                 int threads, int parts, int64_t ring = 0)
      : s_(s), reverse_(reverse), blocks_(blocks), x_(x), chunk_(rnn_chunk_steps(s)), ring_(ring) {
    if (x_)
      rg_.emplace(s.input, blocks, s.hidden, w_ih, 1, s.input, chunk_ * s.batch, threads, parts,
                  3);
  }

  bool active() const { return x_ != nullptr; }
  // Whether the chunk of the time `step` reaches is first reached at that step.
  bool starts_chunk(int64_t step) const {
    if (step >= s_.steps) return false;
    if (!reverse_) return step % chunk_ == 0;
    const int64_t tt = s_.steps - 1 - step;
    return tt == s_.steps - 1 || (tt + 1) % chunk_ == 0;
  }

  // Packs this thread's part of the x rows of the chunk starting at step: by units its range of
  // input columns of every row, by rows all columns of its rows.
  void pack(int64_t step, const Share& sh, int t, int nt) {
    const auto [t0, n] = times(step);
    const int64_t I = s_.input, B = s_.batch;
    if (sh.by_rows) {
      rg_->pack_columns(buffer(step), n * (sh.r1 - sh.r0), x_ + (t0 * B + sh.r0) * I, I, 0, I,
                        first_panel(sh), groups(sh, I));
      return;
    }
    rg_->pack_columns(buffer(step), n * B, x_ + t0 * B * I, I, I * t / nt, I * (t + 1) / nt);
  }

  // gates of the chunk starting at step = x W_ih^T + bias, on this thread's share.
  void project(int64_t step, const Share& sh, const T* bias, T* gates) const {
    const auto [t0, n] = times(step);
    const int64_t ld = blocks_ * s_.hidden, B = s_.batch, b = sh.r1 - sh.r0;
    T* g = gates + ((ring_ ? t0 % ring_ : t0) * B + sh.r0) * ld;
    rg_->multiply(buffer(step), n * b, sh.s0, sh.s1, g, ld, T(0), first_panel(sh),
                  groups(sh, ld));
    for (int64_t i = 0; i < (sh.by_rows ? n : 1); ++i)
      add_bias(sh.by_rows ? b : n * B, ld, blocks_, s_.hidden, sh.j0, sh.j1, bias,
               g + i * B * ld);
  }

 private:
  int buffer(int64_t step) const { return int(times(step).first / chunk_ & 1); }
  // The first time and the number of steps of the chunk the time `step` reaches lies in: times
  // [k chunk, (k + 1) chunk) clipped to the sequence (so a ring of one chunk never wraps).
  std::pair<int64_t, int64_t> times(int64_t step) const {
    const int64_t tt = reverse_ ? s_.steps - 1 - step : step;
    const int64_t t0 = tt / chunk_ * chunk_;
    return {t0, std::min(chunk_, s_.steps - t0)};
  }
  // By rows, a thread's panels of every chunk: the same ones whatever the chunk's length, since
  // without barriers one thread may pack a later chunk while another still reads an earlier one.
  int64_t first_panel(const Share& sh) const { return sh.by_rows ? sh.panel * chunk_ : 0; }
  // By rows, a thread's rows of consecutive steps are groups one step's rows apart.
  RowGroups groups(const Share& sh, int64_t ld) const {
    if (!sh.by_rows) return {};
    return {sh.r1 - sh.r0, s_.batch * ld};
  }

  const RnnShape& s_;
  bool reverse_;
  int64_t blocks_;
  const T* x_;
  int64_t chunk_, ring_;
  std::optional<RecurrentGemm<T>> rg_;
};

}  // namespace
}  // namespace fastdl::cpu::FASTDL_ISA
