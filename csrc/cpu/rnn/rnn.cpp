// Sequence drivers of the recurrent kernels (rnn.h): GEMMs on our GEMM (cpu/gemm/gemm.h), the
// per-ISA fused gate kernels (rnn_gates.h) chosen at run time, threads splitting each step's gate
// work by rows or by hidden columns.
#include "cpu/rnn/rnn.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <utility>
#include <vector>

#include "common/cpu_features.h"
#include "common/rnn_lengths.h"
#include "common/threading.h"
#include "cpu/gemm/gemm.h"
#include "cpu/rnn/rnn_gates.h"
#include "cpu/rnn/rnn_loops.h"

namespace fastdl::cpu {
namespace {

template <typename T>
struct GateKernels {
  decltype(&scalar::lstm_gates_forward<T>) lstm_fwd;
  decltype(&scalar::lstm_gates_backward<T>) lstm_bwd;
  decltype(&scalar::gru_gates_forward<T>) gru_fwd;
  decltype(&scalar::gru_gates_backward<T>) gru_bwd;
  decltype(&scalar::rnn_gates_forward<T>) rnn_fwd;
  decltype(&scalar::rnn_gates_backward<T>) rnn_bwd;
};

#define FASTDL_GATES(ns)                                                                \
  GateKernels<T> {                                                                      \
    ns::lstm_gates_forward<T>, ns::lstm_gates_backward<T>, ns::gru_gates_forward<T>,    \
        ns::gru_gates_backward<T>, ns::rnn_gates_forward<T>, ns::rnn_gates_backward<T>  \
  }

template <typename T>
GateKernels<T> gates_for(Isa isa) {
  switch (isa) {
#ifdef FASTDL_HAVE_ISA_avx512
    case Isa::avx512: return FASTDL_GATES(avx512);
#endif
#ifdef FASTDL_HAVE_ISA_avx2
    case Isa::avx2: return FASTDL_GATES(avx2);
#endif
    default: return FASTDL_GATES(scalar);
  }
}
#undef FASTDL_GATES

template <typename T>
struct LoopKernels {
  decltype(&scalar::lstm_loop_forward<T>) lstm_fwd;
  decltype(&scalar::lstm_loop_backward<T>) lstm_bwd;
  decltype(&scalar::gru_loop_forward<T>) gru_fwd;
  decltype(&scalar::gru_loop_backward<T>) gru_bwd;
  decltype(&scalar::rnn_loop_forward<T>) rnn_fwd;
  decltype(&scalar::rnn_loop_backward<T>) rnn_bwd;
};

#define FASTDL_LOOPS(ns)                                                              \
  LoopKernels<T> {                                                                    \
    ns::lstm_loop_forward<T>, ns::lstm_loop_backward<T>, ns::gru_loop_forward<T>,     \
        ns::gru_loop_backward<T>, ns::rnn_loop_forward<T>, ns::rnn_loop_backward<T>   \
  }

template <typename T>
LoopKernels<T> loops_for(Isa isa) {
  switch (isa) {
#ifdef FASTDL_HAVE_ISA_avx512
    case Isa::avx512: return FASTDL_LOOPS(avx512);
#endif
#ifdef FASTDL_HAVE_ISA_avx2
    case Isa::avx2: return FASTDL_LOOPS(avx2);
#endif
    default: return FASTDL_LOOPS(scalar);
  }
}
#undef FASTDL_LOOPS

std::vector<int64_t> active_rows(const RnnShape& s, const int64_t* lengths) {
  return rnn_active_rows(s.steps, s.batch, lengths);
}

// Threads for a time loop: each step ends in a barrier, so a step must carry enough work
// (here >= 4 MFLOP of recurrent product, ~0.1 ms on one core) for a second thread to pay; small
// layers (and a loaded machine, where a barrier waits for a descheduled thread) run on one.
// A thin batch is the exception when its recurrent weights are large (>= 2 MiB, e.g. hidden 512
// at batch 1: 2 MFLOP but 3-4 MiB of W_hh per step): such a step is bound by streaming W_hh from
// L3, and each thread streams only its share (2 threads measured 21 vs 40 ms for the LSTM's
// batch-1 forward at the quietest moments of a loaded VM). FASTDL_RNN_MIN_STEP_FLOPS and
// FASTDL_RNN_MIN_STEP_BYTES override the thresholds (read per call: measurements, tuning).
int loop_threads(const RnnShape& s, int64_t gates, size_t elem_bytes) {
  const char* env = std::getenv("FASTDL_RNN_MIN_STEP_FLOPS");
  const double min_flops = env && *env ? std::atof(env) : 4e6;
  const char* env_bytes = std::getenv("FASTDL_RNN_MIN_STEP_BYTES");
  const double min_bytes = env_bytes && *env_bytes ? std::atof(env_bytes) : double(2 << 20);
  const double step_flops = 2.0 * double(s.batch) * double(gates * s.hidden) * double(s.out);
  const double weight_bytes = double(gates * s.hidden) * double(s.out) * double(elem_bytes);
  return step_flops >= min_flops || weight_bytes >= min_bytes ? num_threads() : 1;
}

// Whether a time loop on `threads` threads projects the inputs itself, a chunk of steps ahead
// (rnn_loops.h), or gets them from one GEMM over all steps beforehand: the loop when it runs on
// every thread the GEMM would (the projections then meet their step in cache), the GEMM when
// the loop runs on fewer (a small layer, one thread: the GEMM still uses them all).
// FASTDL_RNN_PROJECT_IN_LOOP=0/1 forces either (read per call: measurements).
bool project_in_loop(int threads) {
  if (const char* env = std::getenv("FASTDL_RNN_PROJECT_IN_LOOP"); env && *env)
    return env[0] == '1';
  return threads >= num_threads();
}

// Per-step GEMM calls (and the gate kernels) instead of the fused per-ISA time loop. The loop
// packs W_hh once per call to reuse it every step; a single step (a cell call: incremental
// decoding) would pack the whole 4H x H matrix to use it once, where the GEMM streams it
// unpacked for a thin batch (<= 8 rows, cpu/gemm/gemv.h) and packs no more than the loop for a
// wide one. FASTDL_RNN_STEPWISE=0/1 forces the loop / the per-step path (read per call, so a
// benchmark can alternate them).
bool stepwise(const RnnShape& s) {
  if (const char* env = std::getenv("FASTDL_RNN_STEPWISE"); env && *env)
    return env[0] == '1';
  return s.steps == 1;
}

// Runs fn(r0, r1, j0, j1) over rows [0, rows) x columns [0, cols): one call when the work is
// small, else split by rows (enough of them) or by column blocks (batch 1, few rows).
template <typename Fn>
void parallel_gates(int64_t rows, int64_t cols, Fn&& fn) {
  const int threads = num_threads();
  if (threads <= 1 || rows * cols < 4096) {
    fn(int64_t(0), rows, int64_t(0), cols);
    return;
  }
  if (rows >= 2 * threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int t = 0; t < threads; ++t) {
      const int64_t r0 = rows * t / threads, r1 = rows * (t + 1) / threads;
      if (r1 > r0) fn(r0, r1, int64_t(0), cols);
    }
    return;
  }
  // Columns in blocks that are whole 64-byte lines (16 floats): no false sharing.
  const int64_t blocks = (cols + 15) / 16;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int t = 0; t < threads; ++t) {
    const int64_t b0 = blocks * t / threads, b1 = blocks * (t + 1) / threads;
    const int64_t j0 = b0 * 16, j1 = std::min(cols, b1 * 16);
    if (j1 > j0) fn(int64_t(0), rows, j0, j1);
  }
}

// G (rows, ng) = x (rows, in) @ w^T + b1 + b2 (either bias may be null).
template <typename T>
void project_inputs(int64_t rows, int64_t ng, int64_t in, const T* x, const T* w, const T* b1,
                    const T* b2, T* g) {
  T beta = T(0);
  if (b1 || b2) {
    std::vector<T> b(size_t(ng), T(0));
    for (int64_t j = 0; j < ng; ++j) b[size_t(j)] = (b1 ? b1[j] : T(0)) + (b2 ? b2[j] : T(0));
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (rows * ng > 65536)
    for (int64_t r = 0; r < rows; ++r) std::memcpy(g + r * ng, b.data(), sizeof(T) * size_t(ng));
    beta = T(1);
  }
  gemm<T>(rows, ng, in, T(1), {x, in, 1}, {w, 1, in}, beta, {g, ng, 1});
}

// b1 + b2 (either may be null; empty when both are): the biases the fused loops add per step.
template <typename T>
std::vector<T> summed_bias(int64_t ng, const T* b1, const T* b2) {
  std::vector<T> b;
  if (b1 || b2) {
    b.resize(size_t(ng));
    for (int64_t j = 0; j < ng; ++j) b[size_t(j)] = (b1 ? b1[j] : T(0)) + (b2 ? b2[j] : T(0));
  }
  return b;
}

template <typename T>
const T* data_or_null(const std::vector<T>& v) {
  return v.empty() ? nullptr : v.data();
}

// c (m, n) (+)= a (m, k) @ b (k, n), all row-major contiguous with the given row strides; bt:
// b is stored transposed (n, k).
template <typename T>
void mm(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
        bool bt, T beta, T* c, int64_t ldc) {
  const ConstMatrix<T> bm = bt ? ConstMatrix<T>{b, 1, ldb} : ConstMatrix<T>{b, ldb, 1};
  gemm<T>(m, n, k, T(1), {a, lda, 1}, bm, beta, {c, ldc, 1});
}

// c (m, n) = a^T b with a (k, m) and b (k, n) row-major: a weight gradient summed over steps.
template <typename T>
void mm_tn(int64_t m, int64_t n, int64_t k, const T* a, const T* b, T* c) {
  gemm<T>(m, n, k, T(1), {a, 1, m}, {b, n, 1}, T(0), {c, n, 1});
}

// out (cols,) = column sums of a (rows, cols): threads take column blocks of 1024 (4 KiB of
// float accumulators), each walks the rows once with a vectorized inner loop.
template <typename T>
void column_sums(int64_t rows, int64_t cols, const T* a, T* out) {
  constexpr int64_t kBlock = 1024;
  const int64_t blocks = (cols + kBlock - 1) / kBlock;
  const int threads = num_threads();
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows * cols > 65536)
  for (int64_t bk = 0; bk < blocks; ++bk) {
    const int64_t j0 = bk * kBlock, n = std::min(cols, j0 + kBlock) - j0;
    T* acc = out + j0;
    for (int64_t j = 0; j < n; ++j) acc[j] = T(0);
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = a + r * cols + j0;
      for (int64_t j = 0; j < n; ++j) acc[j] += row[j];
    }
  }
}

// Scratch arrays of the backward kernels (pre-activation gradients of every step, tens of MiB at
// training sizes), kept per thread and grown on demand: a fresh allocation each call cost page
// faults and zeroing worth ~10% of an LSTM backward. Never read before written.
template <typename T>
T* scratch(int slot, int64_t count) {
  static thread_local std::vector<T> buffers[3];
  std::vector<T>& b = buffers[slot];
  if (int64_t(b.size()) < count) {
    b = std::vector<T>();
    b.resize(size_t(count));
  }
  return b.data();
}

// The gates array of an inference call's time loop (no workspace given: nothing is saved), in
// scratch slot 2: one chunk of steps in a ring when the loop projects its own inputs (they then
// stay in cache), else every step (one GEMM fills them beforehand). Returns the ring (0: none).
template <typename T>
int64_t unsaved_loop_gates(const RnnShape& s, int64_t gate_cols, bool in_loop, T** gates) {
  const int64_t ring = in_loop ? rnn_chunk_steps(s) : 0;
  *gates = scratch<T>(2, (ring ? ring : s.steps) * s.batch * gate_cols);
  return ring;
}

// The workspace of an inference call on the per-step path, whole (the path reads every step):
// `kept` is carved into the arrays named, each `rows x cols` of the call.
template <typename T>
void carve_unsaved(std::vector<T>& kept, std::initializer_list<std::pair<T**, int64_t>> parts,
                   int64_t rows) {
  int64_t total = 0;
  for (const auto& part : parts) total += part.second;
  kept.resize(size_t(total * rows));
  T* next = kept.data();
  for (const auto& part : parts) {
    *part.first = next;
    next += part.second * rows;
  }
}

template <typename T>
void zero_rows(T* p, int64_t from, int64_t to, int64_t cols) {
  if (to > from) std::memset(p + from * cols, 0, sizeof(T) * size_t((to - from) * cols));
}

inline int64_t time_of(const RnnShape& s, int64_t step, bool reverse) {
  return reverse ? s.steps - 1 - step : step;
}

// The backward time loop of the per-step path: per step, last to first, din = dh + dy_t on the
// active rows (P = the state size), then the cell's step(t, nb, din): its gate backward and the
// recurrent product into dh.
template <typename T, typename Step>
void stepwise_backward(const RnnShape& s, const std::vector<int64_t>& act, bool reverse,
                       int64_t P, const T* dy, const T* dh, Step step_fn) {
  std::vector<T> din(size_t(s.batch * P));
  for (int64_t step = s.steps - 1; step >= 0; --step) {
    const int64_t t = time_of(s, step, reverse), nb = act[size_t(t)];
    const T* dyt = dy + t * s.batch * P;
    for (int64_t i = 0; i < nb * P; ++i) din[size_t(i)] = dh[i] + dyt[i];
    step_fn(t, nb, static_cast<const T*>(din.data()));
  }
}

}  // namespace

// ---- LSTM ------------------------------------------------------------------------------------
// With a projection the state fed back is h W_hr^T, a second product per step after all of the
// step's gates: that variant runs here on whole-step GEMM calls; without one, in the per-ISA loop.
template <typename T>
void lstm_forward(const RnnShape& s, const T* x, const T* w_ih, const T* w_hh, const T* b_ih,
                  const T* b_hh, const T* w_hr, const T* h0, const T* c0, const int64_t* lengths,
                  bool reverse, T* y, T* hT, T* cT, T* gates, T* cprev, T* hprev, T* hpre) {
  const int64_t B = s.batch, H = s.hidden, P = s.out, NG = 4 * H;
  const std::vector<int64_t> act = active_rows(s, lengths);
  std::memcpy(hT, h0, sizeof(T) * size_t(B * P));  // the running states live in hT and cT
  std::memcpy(cT, c0, sizeof(T) * size_t(B * H));
  if (!w_hr && !stepwise(s)) {
    // The loop adds the biases in cache: filling the (steps, batch, 4H) buffer with them first
    // and projecting with beta = 1 cost a write and a read of all of it.
    const int threads = loop_threads(s, 4, sizeof(T));
    const bool in_loop = project_in_loop(threads);
    // Inference (no workspace given): c_{t-1} and h_{t-1} not kept, the gates in a ring (48 MiB
    // fewer written per call at T=128, B=32, H=512).
    const int64_t ring = gates ? 0 : unsaved_loop_gates(s, NG, in_loop, &gates);
    if (!in_loop) project_inputs<T>(s.steps * B, NG, s.input, x, w_ih, nullptr, nullptr, gates);
    const std::vector<T> bias = summed_bias(NG, b_ih, b_hh);
    loops_for<T>(active_isa()).lstm_fwd(s, act.data(), reverse, w_hh, in_loop ? x : nullptr,
                                        in_loop ? w_ih : nullptr, data_or_null(bias), gates, ring,
                                        hT, cT, y, cprev, hprev, threads);
    return;
  }
  std::vector<T> kept;
  if (!gates) carve_unsaved<T>(kept, {{&gates, NG}, {&cprev, H}, {&hprev, P}}, s.steps * B);
  project_inputs(s.steps * B, NG, s.input, x, w_ih, b_ih, b_hh, gates);
  const GateKernels<T> k = gates_for<T>(active_isa());
  for (int64_t step = 0; step < s.steps; ++step) {
    const int64_t t = time_of(s, step, reverse), nb = act[size_t(t)];
    T* g = gates + t * B * NG;
    T* hp = hprev + t * B * P;
    T* cp = cprev + t * B * H;
    T* yt = y + t * B * P;
    T* hout = w_hr ? hpre + t * B * H : hT;  // o * tanh(c): the state, or projected into it
    std::memcpy(hp, hT, sizeof(T) * size_t(nb * P));
    mm<T>(nb, NG, P, hT, P, w_hh, P, true, T(1), g, NG);
    parallel_gates(nb, H, [&](int64_t r0, int64_t r1, int64_t j0, int64_t j1) {
      k.lstm_fwd(r1 - r0, j0, j1, H, g + r0 * NG, cT + r0 * H, cp + r0 * H, hout + r0 * H);
    });
    if (w_hr) {
      mm<T>(nb, P, H, hout, H, w_hr, H, true, T(0), hT, P);
      zero_rows(hout, nb, B, H);
    }
    std::memcpy(yt, hT, sizeof(T) * size_t(nb * P));
    zero_rows(yt, nb, B, P);
    zero_rows(hp, nb, B, P);
    zero_rows(cp, nb, B, H);
  }
}

template <typename T>
void lstm_backward(const RnnShape& s, const T* x, const T* w_ih, const T* w_hh, const T* w_hr,
                   const int64_t* lengths, bool reverse, const T* gates, const T* cprev,
                   const T* hprev, const T* hpre, const T* dy, const T* dhT, const T* dcT, T* dx,
                   T* dw_ih, T* dw_hh, T* db, T* dw_hr, T* dh0, T* dc0) {
  const int64_t B = s.batch, H = s.hidden, P = s.out, NG = 4 * H, TB = s.steps * B;
  const std::vector<int64_t> act = active_rows(s, lengths);
  T* dg = scratch<T>(0, TB * NG);
  std::memcpy(dh0, dhT, sizeof(T) * size_t(B * P));  // running gradients of the states
  std::memcpy(dc0, dcT, sizeof(T) * size_t(B * H));
  std::vector<T> dhp(w_hr ? size_t(TB * P) : 0);
  const bool loop = !w_hr && !stepwise(s);
  if (loop) {
    std::memset(db, 0, sizeof(T) * size_t(NG));  // the loop adds each step's sums
    loops_for<T>(active_isa()).lstm_bwd(s, act.data(), reverse, w_hh, gates, cprev, dy, dh0, dc0,
                                        dg, db, loop_threads(s, 4, sizeof(T)));
  } else {
    const GateKernels<T> k = gates_for<T>(active_isa());
    std::vector<T> dpre(w_hr ? size_t(B * H) : 0);
    stepwise_backward<T>(s, act, reverse, P, dy, dh0, [&](int64_t t, int64_t nb, const T* dh) {
      T* dgt = dg + t * B * NG;
      const T* dout = dh;  // the gradient of o * tanh(c)
      if (w_hr) {
        std::memcpy(dhp.data() + t * B * P, dh, sizeof(T) * size_t(nb * P));
        zero_rows(dhp.data() + t * B * P, nb, B, P);
        mm<T>(nb, H, P, dh, P, w_hr, H, false, T(0), dpre.data(), H);
        dout = dpre.data();
      }
      const T* g = gates + t * B * NG;
      const T* cp = cprev + t * B * H;
      parallel_gates(nb, H, [&](int64_t r0, int64_t r1, int64_t j0, int64_t j1) {
        k.lstm_bwd(r1 - r0, j0, j1, H, g + r0 * NG, cp + r0 * H, dout + r0 * H, dc0 + r0 * H,
                   dgt + r0 * NG);
      });
      zero_rows(dgt, nb, B, NG);
      mm<T>(nb, P, NG, dgt, NG, w_hh, P, false, T(0), dh0, P);
    });
  }
  if (dx) mm<T>(TB, s.input, NG, dg, NG, w_ih, s.input, false, T(0), dx, s.input);
  mm_tn<T>(NG, s.input, TB, dg, x, dw_ih);
  mm_tn<T>(NG, P, TB, dg, hprev, dw_hh);
  if (!loop) column_sums<T>(TB, NG, dg, db);
  if (w_hr) mm_tn<T>(P, H, TB, dhp.data(), hpre, dw_hr);
}

// ---- GRU -------------------------------------------------------------------------------------
template <typename T>
void gru_forward(const RnnShape& s, const T* x, const T* w_ih, const T* w_hh, const T* b_ih,
                 const T* b_hh, const T* h0, const int64_t* lengths, bool reverse, T* y, T* hT,
                 T* gates, T* hn, T* hprev) {
  const std::vector<int64_t> act = active_rows(s, lengths);
  std::memcpy(hT, h0, sizeof(T) * size_t(s.batch * s.hidden));
  if (!stepwise(s)) {  // b_ih added by the loop (see lstm_forward)
    const int threads = loop_threads(s, 3, sizeof(T));
    const bool in_loop = project_in_loop(threads);
    const int64_t ring = gates ? 0 : unsaved_loop_gates(s, 3 * s.hidden, in_loop, &gates);
    if (!in_loop)
      project_inputs<T>(s.steps * s.batch, 3 * s.hidden, s.input, x, w_ih, nullptr, nullptr,
                        gates);
    loops_for<T>(active_isa()).gru_fwd(s, act.data(), reverse, w_hh, in_loop ? x : nullptr,
                                       in_loop ? w_ih : nullptr, b_ih, b_hh, gates, ring, hn, hT,
                                       y, hprev, threads);
    return;
  }
  std::vector<T> kept;
  if (!gates)
    carve_unsaved<T>(kept, {{&gates, 3 * s.hidden}, {&hn, s.hidden}, {&hprev, s.hidden}},
                     s.steps * s.batch);
  project_inputs(s.steps * s.batch, 3 * s.hidden, s.input, x, w_ih, b_ih,
                 static_cast<const T*>(nullptr), gates);
  const int64_t B = s.batch, H = s.hidden, NG = 3 * H;
  const GateKernels<T> k = gates_for<T>(active_isa());
  std::vector<T> gh(size_t(B * NG));  // hidden side: h W_hh^T + b_hh
  for (int64_t step = 0; step < s.steps; ++step) {
    const int64_t t = time_of(s, step, reverse), nb = act[size_t(t)];
    T* g = gates + t * B * NG;
    T* hp = hprev + t * B * H;
    T* hnt = hn + t * B * H;
    T* yt = y + t * B * H;
    if (b_hh)
      for (int64_t r = 0; r < nb; ++r)
        std::memcpy(gh.data() + r * NG, b_hh, sizeof(T) * size_t(NG));
    mm<T>(nb, NG, H, hT, H, w_hh, H, true, b_hh ? T(1) : T(0), gh.data(), NG);
    parallel_gates(nb, H, [&](int64_t r0, int64_t r1, int64_t j0, int64_t j1) {
      k.gru_fwd(r1 - r0, j0, j1, H, g + r0 * NG, gh.data() + r0 * NG, hnt + r0 * H, hT + r0 * H,
                hp + r0 * H);
    });
    zero_rows(hp, nb, B, H);
    zero_rows(hnt, nb, B, H);
    std::memcpy(yt, hT, sizeof(T) * size_t(nb * H));
    zero_rows(yt, nb, B, H);
  }
}

template <typename T>
void gru_backward(const RnnShape& s, const T* x, const T* w_ih, const T* w_hh,
                  const int64_t* lengths, bool reverse, const T* gates, const T* hn,
                  const T* hprev, const T* dy, const T* dhT, T* dx, T* dw_ih, T* dw_hh,
                  T* db_ih, T* db_hh, T* dh0) {
  const int64_t B = s.batch, H = s.hidden, NG = 3 * H, TB = s.steps * B;
  const std::vector<int64_t> act = active_rows(s, lengths);
  T* dgx = scratch<T>(0, TB * NG);
  T* dgh = scratch<T>(1, TB * NG);
  std::memcpy(dh0, dhT, sizeof(T) * size_t(B * H));
  const bool loop = !stepwise(s);
  if (loop) {
    std::memset(db_ih, 0, sizeof(T) * size_t(NG));  // the loop adds each step's sums
    std::memset(db_hh, 0, sizeof(T) * size_t(NG));
    loops_for<T>(active_isa()).gru_bwd(s, act.data(), reverse, w_hh, gates, hn, hprev, dy, dh0,
                                       dgx, dgh, db_ih, db_hh, loop_threads(s, 3, sizeof(T)));
  } else {
    const GateKernels<T> k = gates_for<T>(active_isa());
    stepwise_backward<T>(s, act, reverse, H, dy, dh0, [&](int64_t t, int64_t nb, const T* din) {
      T* gx = dgx + t * B * NG;
      T* ghh = dgh + t * B * NG;
      // the direct part of dh_{t-1} (dh * z) goes to dh0, then the product adds to it
      parallel_gates(nb, H, [&](int64_t r0, int64_t r1, int64_t j0, int64_t j1) {
        k.gru_bwd(r1 - r0, j0, j1, H, gates + t * B * NG + r0 * NG, hn + t * B * H + r0 * H,
                  hprev + t * B * H + r0 * H, din + r0 * H, dh0 + r0 * H, gx + r0 * NG,
                  ghh + r0 * NG);
      });
      zero_rows(gx, nb, B, NG);
      zero_rows(ghh, nb, B, NG);
      mm<T>(nb, H, NG, ghh, NG, w_hh, H, false, T(1), dh0, H);
    });
  }
  if (dx) mm<T>(TB, s.input, NG, dgx, NG, w_ih, s.input, false, T(0), dx, s.input);
  mm_tn<T>(NG, s.input, TB, dgx, x, dw_ih);
  mm_tn<T>(NG, H, TB, dgh, hprev, dw_hh);
  if (!loop) {
    column_sums<T>(TB, NG, dgx, db_ih);
    column_sums<T>(TB, NG, dgh, db_hh);
  }
}

// ---- Elman RNN -------------------------------------------------------------------------------
template <typename T>
void rnn_forward(const RnnShape& s, bool relu, const T* x, const T* w_ih, const T* w_hh,
                 const T* b_ih, const T* b_hh, const T* h0, const int64_t* lengths, bool reverse,
                 T* y, T* hT, T* acts, T* hprev) {
  const std::vector<int64_t> act = active_rows(s, lengths);
  std::memcpy(hT, h0, sizeof(T) * size_t(s.batch * s.hidden));
  if (!stepwise(s)) {  // the biases added by the loop (see lstm_forward)
    const int threads = loop_threads(s, 1, sizeof(T));
    const bool in_loop = project_in_loop(threads);
    if (!in_loop)
      project_inputs<T>(s.steps * s.batch, s.hidden, s.input, x, w_ih, nullptr, nullptr, acts);
    const std::vector<T> bias = summed_bias(s.hidden, b_ih, b_hh);
    loops_for<T>(active_isa()).rnn_fwd(s, relu, act.data(), reverse, w_hh, in_loop ? x : nullptr,
                                       in_loop ? w_ih : nullptr, data_or_null(bias), acts, hT, y,
                                       hprev, threads);
    return;
  }
  project_inputs(s.steps * s.batch, s.hidden, s.input, x, w_ih, b_ih, b_hh, acts);
  const int64_t B = s.batch, H = s.hidden;
  const GateKernels<T> k = gates_for<T>(active_isa());
  for (int64_t step = 0; step < s.steps; ++step) {
    const int64_t t = time_of(s, step, reverse), nb = act[size_t(t)];
    T* a = acts + t * B * H;
    T* hp = hprev + t * B * H;
    T* yt = y + t * B * H;
    std::memcpy(hp, hT, sizeof(T) * size_t(nb * H));
    zero_rows(hp, nb, B, H);
    mm<T>(nb, H, H, hT, H, w_hh, H, true, T(1), a, H);
    parallel_gates(nb, H, [&](int64_t r0, int64_t r1, int64_t j0, int64_t j1) {
      k.rnn_fwd(r1 - r0, j0, j1, H, relu, a + r0 * H, hT + r0 * H);
    });
    zero_rows(a, nb, B, H);
    std::memcpy(yt, hT, sizeof(T) * size_t(nb * H));
    zero_rows(yt, nb, B, H);
  }
}

template <typename T>
void rnn_backward(const RnnShape& s, bool relu, const T* x, const T* w_ih, const T* w_hh,
                  const int64_t* lengths, bool reverse, const T* acts, const T* hprev,
                  const T* dy, const T* dhT, T* dx, T* dw_ih, T* dw_hh, T* db, T* dh0) {
  const int64_t B = s.batch, H = s.hidden, TB = s.steps * B;
  const std::vector<int64_t> act = active_rows(s, lengths);
  T* dg = scratch<T>(0, TB * H);
  std::memcpy(dh0, dhT, sizeof(T) * size_t(B * H));
  const bool loop = !stepwise(s);
  if (loop) {
    std::memset(db, 0, sizeof(T) * size_t(H));  // the loop adds each step's sums
    loops_for<T>(active_isa()).rnn_bwd(s, relu, act.data(), reverse, w_hh, acts, dy, dh0, dg, db,
                                       loop_threads(s, 1, sizeof(T)));
  } else {
    const GateKernels<T> k = gates_for<T>(active_isa());
    stepwise_backward<T>(s, act, reverse, H, dy, dh0, [&](int64_t t, int64_t nb, const T* din) {
      T* dgt = dg + t * B * H;
      parallel_gates(nb, H, [&](int64_t r0, int64_t r1, int64_t j0, int64_t j1) {
        k.rnn_bwd(r1 - r0, j0, j1, H, relu, acts + t * B * H + r0 * H, din + r0 * H,
                  dgt + r0 * H);
      });
      zero_rows(dgt, nb, B, H);
      mm<T>(nb, H, H, dgt, H, w_hh, H, false, T(0), dh0, H);
    });
  }
  if (dx) mm<T>(TB, s.input, H, dg, H, w_ih, s.input, false, T(0), dx, s.input);
  mm_tn<T>(H, s.input, TB, dg, x, dw_ih);
  mm_tn<T>(H, H, TB, dg, hprev, dw_hh);
  if (!loop) column_sums<T>(TB, H, dg, db);
}

#define FASTDL_INSTANTIATE_RNN(T)                                                              \
  template void lstm_forward<T>(const RnnShape&, const T*, const T*, const T*, const T*,       \
                                const T*, const T*, const T*, const T*, const int64_t*, bool,  \
                                T*, T*, T*, T*, T*, T*, T*);                                   \
  template void lstm_backward<T>(const RnnShape&, const T*, const T*, const T*, const T*,      \
                                 const int64_t*, bool, const T*, const T*, const T*, const T*, \
                                 const T*, const T*, const T*, T*, T*, T*, T*, T*, T*, T*);    \
  template void gru_forward<T>(const RnnShape&, const T*, const T*, const T*, const T*,        \
                               const T*, const T*, const int64_t*, bool, T*, T*, T*, T*, T*);  \
  template void gru_backward<T>(const RnnShape&, const T*, const T*, const T*, const int64_t*, \
                                bool, const T*, const T*, const T*, const T*, const T*, T*,    \
                                T*, T*, T*, T*, T*);                                           \
  template void rnn_forward<T>(const RnnShape&, bool, const T*, const T*, const T*, const T*,  \
                               const T*, const T*, const int64_t*, bool, T*, T*, T*, T*);      \
  template void rnn_backward<T>(const RnnShape&, bool, const T*, const T*, const T*,           \
                                const int64_t*, bool, const T*, const T*, const T*, const T*,  \
                                T*, T*, T*, T*, T*);
FASTDL_INSTANTIATE_RNN(float)
FASTDL_INSTANTIATE_RNN(double)

}  // namespace fastdl::cpu
