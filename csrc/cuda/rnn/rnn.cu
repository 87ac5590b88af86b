// CUDA twins of the recurrent kernels (rnn.h): fused gate kernels (one thread per row and hidden
// unit) and the host-side sequence drivers, the same algorithm and workspace as the CPU's
// (cpu/rnn/rnn.cpp), with every product on our CUDA GEMM.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "cuda/common/kernel_utils.cuh"
#include "cuda/common/launch.cuh"
#include "common/rnn_lengths.h"
#include "cuda/gemm/sgemm.h"
#include "cuda/rnn/rnn.h"

namespace fastdl::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__device__ __forceinline__ T sigmoid_(T x) {
  using std::exp;
  return T(1) / (T(1) + exp(-x));
}
template <typename T>
__device__ __forceinline__ T tanh_(T x) {
  using std::tanh;
  return tanh(x);
}

__device__ __forceinline__ int64_t flat_index() {
  return int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
}

// ---- gate kernels (rows x H threads) ----------------------------------------------------------
template <typename T>
__global__ void lstm_gates_forward(int64_t rows, int64_t H, T* g, T* c, T* cprev, T* h) {
  const int64_t e = flat_index();
  if (e >= rows * H) return;
  const int64_t r = e / H, j = e % H;
  T* gr = g + r * 4 * H;
  const T i = sigmoid_(gr[j]), f = sigmoid_(gr[H + j]), gg = tanh_(gr[2 * H + j]),
          o = sigmoid_(gr[3 * H + j]);
  const T c0 = c[e];
  const T c1 = f * c0 + i * gg;
  gr[j] = i, gr[H + j] = f, gr[2 * H + j] = gg, gr[3 * H + j] = o;
  cprev[e] = c0;
  c[e] = c1;
  h[e] = o * tanh_(c1);
}

template <typename T>
__global__ void lstm_gates_backward(int64_t rows, int64_t H, const T* g, const T* cprev,
                                    const T* dh, T* dc, T* dg) {
  const int64_t e = flat_index();
  if (e >= rows * H) return;
  const int64_t r = e / H, j = e % H;
  const T* gr = g + r * 4 * H;
  T* dr = dg + r * 4 * H;
  const T i = gr[j], f = gr[H + j], gg = gr[2 * H + j], o = gr[3 * H + j];
  const T cp = cprev[e];
  const T tc = tanh_(f * cp + i * gg);
  const T d = dh[e];
  const T dct = dc[e] + d * o * (T(1) - tc * tc);
  dr[3 * H + j] = d * tc * o * (T(1) - o);
  dr[j] = dct * gg * i * (T(1) - i);
  dr[H + j] = dct * cp * f * (T(1) - f);
  dr[2 * H + j] = dct * i * (T(1) - gg * gg);
  dc[e] = dct * f;
}

template <typename T>
__global__ void gru_gates_forward(int64_t rows, int64_t H, T* gx, const T* gh, T* hn, T* h,
                                  T* hprev) {
  const int64_t e = flat_index();
  if (e >= rows * H) return;
  const int64_t r = e / H, j = e % H;
  T* xr = gx + r * 3 * H;
  const T* hr = gh + r * 3 * H;
  const T rg = sigmoid_(xr[j] + hr[j]);
  const T z = sigmoid_(xr[H + j] + hr[H + j]);
  const T n = tanh_(xr[2 * H + j] + rg * hr[2 * H + j]);
  const T h0 = h[e];
  xr[j] = rg, xr[H + j] = z, xr[2 * H + j] = n;
  hn[e] = hr[2 * H + j];
  hprev[e] = h0;
  h[e] = (T(1) - z) * n + z * h0;
}

template <typename T>
__global__ void gru_gates_backward(int64_t rows, int64_t H, const T* g, const T* hn,
                                   const T* hprev, const T* dh, T* dhprev, T* dgx, T* dgh) {
  const int64_t e = flat_index();
  if (e >= rows * H) return;
  const int64_t r = e / H, j = e % H;
  const T* gr = g + r * 3 * H;
  const T rg = gr[j], z = gr[H + j], n = gr[2 * H + j], d = dh[e];
  const T dnp = d * (T(1) - z) * (T(1) - n * n);
  const T dzp = d * (hprev[e] - n) * z * (T(1) - z);
  const T drp = dnp * hn[e] * rg * (T(1) - rg);
  T* xr = dgx + r * 3 * H;
  T* hr = dgh + r * 3 * H;
  xr[j] = drp, xr[H + j] = dzp, xr[2 * H + j] = dnp;
  hr[j] = drp, hr[H + j] = dzp, hr[2 * H + j] = dnp * rg;
  dhprev[e] = d * z;
}

template <typename T>
__global__ void rnn_gates_forward(int64_t rows, int64_t H, bool relu, T* a, T* h) {
  const int64_t e = flat_index();
  if (e >= rows * H) return;
  const T v = relu ? (a[e] > T(0) ? a[e] : T(0)) : tanh_(a[e]);
  a[e] = v;
  h[e] = v;
}

template <typename T>
__global__ void rnn_gates_backward(int64_t rows, int64_t H, bool relu, const T* a, const T* dh,
                                   T* dg) {
  const int64_t e = flat_index();
  if (e >= rows * H) return;
  dg[e] = relu ? (a[e] > T(0) ? dh[e] : T(0)) : dh[e] * (T(1) - a[e] * a[e]);
}

// ---- element-wise helpers ---------------------------------------------------------------------
// dst[i] = src[i] for i < n_copy, 0 for n_copy <= i < n (src may be null: zeros only).
template <typename T>
__global__ void copy_then_zero(int64_t n_copy, int64_t n, const T* src, T* dst) {
  const int64_t e = flat_index();
  if (e < n) dst[e] = e < n_copy ? src[e] : T(0);
}

template <typename T>
__global__ void add_into(int64_t n, const T* a, const T* b, T* out) {
  const int64_t e = flat_index();
  if (e < n) out[e] = a[e] + b[e];
}

// out (rows, cols) = b1 + b2 broadcast over rows (either may be null).
template <typename T>
__global__ void fill_bias(int64_t rows, int64_t cols, const T* b1, const T* b2, T* out) {
  const int64_t e = flat_index();
  if (e >= rows * cols) return;
  const int64_t j = e % cols;
  out[e] = (b1 ? b1[j] : T(0)) + (b2 ? b2[j] : T(0));
}

// out[j] = sum over rows of a[r, j] (one thread per column; the second output optional).
template <typename T>
__global__ void column_sums(int64_t rows, int64_t cols, const T* a, T* out, T* out2) {
  const int64_t j = flat_index();
  if (j >= cols) return;
  T acc = T(0);
  for (int64_t r = 0; r < rows; ++r) acc += a[r * cols + j];
  out[j] = acc;
  if (out2) out2[j] = acc;
}

dim3 blocks_for(int64_t n) { return dim3(unsigned((n + kThreads - 1) / kThreads)); }

template <typename Kernel, typename... Args>
void run(Kernel kernel, int64_t n, cudaStream_t stream, Args&&... args) {
  if (n <= 0) return;
  launch(kernel, blocks_for(n), dim3(kThreads), 0, stream, std::forward<Args>(args)...);
}

// c (m, n) = beta c + a (m, k) op(b) with row-major a, c and b (n, k) when bt, else (k, n).
template <typename T>
void mm(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
        bool bt, T beta, T* c, int64_t ldc, cudaStream_t stream) {
  if (m <= 0 || n <= 0) return;
  GemmProblem<T> p;
  p.m = m, p.n = n, p.k = k, p.alpha = T(1), p.beta = beta;
  p.a = {a, lda, 1};
  p.b = bt ? GemmMatrix<T>{b, 1, ldb} : GemmMatrix<T>{b, ldb, 1};
  p.c = c, p.c_rs = ldc, p.c_cs = 1;
  gemm<T>(p, stream);
}

// c (m, n) = a^T b with a (k, m) and b (k, n) row-major.
template <typename T>
void mm_tn(int64_t m, int64_t n, int64_t k, const T* a, const T* b, T* c, cudaStream_t stream) {
  GemmProblem<T> p;
  p.m = m, p.n = n, p.k = k, p.alpha = T(1), p.beta = T(0);
  p.a = {a, 1, m};
  p.b = {b, n, 1};
  p.c = c, p.c_rs = n, p.c_cs = 1;
  gemm<T>(p, stream);
}

std::vector<int64_t> active_rows(const RnnShape& s, const int64_t* lengths) {
  return rnn_active_rows(s.steps, s.batch, lengths);
}

}  // namespace

int64_t rnn_gates(RnnMode mode) {
  return mode == RnnMode::lstm ? 4 : mode == RnnMode::gru ? 3 : 1;
}

namespace {
int64_t backward_work_elements(RnnMode mode, const RnnShape& s) {
  const int64_t ng = rnn_gates(mode) * s.hidden, tb = s.steps * s.batch;
  // pre-activation gradients (two sides for the GRU) and the step's state gradient
  return tb * ng * (mode == RnnMode::gru ? 2 : 1) + s.batch * s.hidden;
}

int64_t forward_work_elements(RnnMode mode, const RnnShape& s) {
  return mode == RnnMode::gru ? s.batch * 3 * s.hidden : 0;  // the GRU's hidden-side products
}
}  // namespace

template <typename T>
void rnn_forward(RnnMode mode, const RnnShape& s, const T* x, const T* w_ih, const T* w_hh,
                 const T* b_ih, const T* b_hh, const T* h0, const T* c0, const int64_t* lengths,
                 bool reverse, T* y, T* hT, T* cT, T* ws0, T* ws1, T* hprev,
                 void* stream_handle) {
  auto stream = static_cast<cudaStream_t>(stream_handle);
  kutil::DeviceBuffer<T> work_buffer(size_t(std::max<int64_t>(1, forward_work_elements(mode, s))),
                                     stream);
  T* work = work_buffer.data();
  const int64_t B = s.batch, H = s.hidden, NG = rnn_gates(mode) * H, TB = s.steps * B;
  const bool gru = mode == RnnMode::gru, lstm = mode == RnnMode::lstm;
  const bool relu = mode == RnnMode::rnn_relu;
  const std::vector<int64_t> act = active_rows(s, lengths);
  const T* none = nullptr;
  // input projection of every step, biases folded in (the GRU keeps b_hh for the hidden side)
  const bool bias = b_ih || (b_hh && !gru);
  if (bias) run(fill_bias<T>, TB * NG, stream, TB, NG, b_ih, gru ? none : b_hh, ws0);
  mm<T>(TB, NG, s.input, x, s.input, w_ih, s.input, true, bias ? T(1) : T(0), ws0, NG, stream);
  run(copy_then_zero<T>, B * H, stream, B * H, B * H, h0, hT);
  if (lstm) run(copy_then_zero<T>, B * H, stream, B * H, B * H, c0, cT);
  for (int64_t step = 0; step < s.steps; ++step) {
    const int64_t t = reverse ? s.steps - 1 - step : step, nb = act[size_t(t)];
    const int64_t tail = (B - nb) * H;
    T* g = ws0 + t * B * NG;
    T* hp = hprev + t * B * H;
    if (gru) {
      T* gh = work;
      if (b_hh) run(fill_bias<T>, nb * NG, stream, nb, NG, b_hh, none, gh);
      mm<T>(nb, NG, H, hT, H, w_hh, H, true, b_hh ? T(1) : T(0), gh, NG, stream);
      run(gru_gates_forward<T>, nb * H, stream, nb, H, g, static_cast<const T*>(gh),
          ws1 + t * B * H, hT, hp);
      run(copy_then_zero<T>, tail, stream, int64_t(0), tail, none, hp + nb * H);
      run(copy_then_zero<T>, tail, stream, int64_t(0), tail, none, ws1 + t * B * H + nb * H);
    } else {
      run(copy_then_zero<T>, B * H, stream, nb * H, B * H, static_cast<const T*>(hT), hp);
      mm<T>(nb, NG, H, hT, H, w_hh, H, true, T(1), g, NG, stream);
      if (lstm) {
        run(lstm_gates_forward<T>, nb * H, stream, nb, H, g, cT, ws1 + t * B * H, hT);
        run(copy_then_zero<T>, tail, stream, int64_t(0), tail, none, ws1 + t * B * H + nb * H);
      } else {
        run(rnn_gates_forward<T>, nb * H, stream, nb, H, relu, g, hT);
        run(copy_then_zero<T>, tail, stream, int64_t(0), tail, none, g + nb * H);
      }
    }
    run(copy_then_zero<T>, B * H, stream, nb * H, B * H, static_cast<const T*>(hT),
        y + t * B * H);
  }
}

template <typename T>
void rnn_backward(RnnMode mode, const RnnShape& s, const T* x, const T* w_ih, const T* w_hh,
                  const int64_t* lengths, bool reverse, const T* ws0, const T* ws1,
                  const T* hprev, const T* dy, const T* dhT, const T* dcT, T* dx, T* dw_ih,
                  T* dw_hh, T* db_ih, T* db_hh, T* dh0, T* dc0, void* stream_handle) {
  auto stream = static_cast<cudaStream_t>(stream_handle);
  kutil::DeviceBuffer<T> work_buffer(size_t(backward_work_elements(mode, s)), stream);
  T* work = work_buffer.data();
  const int64_t B = s.batch, H = s.hidden, NG = rnn_gates(mode) * H, TB = s.steps * B;
  const bool gru = mode == RnnMode::gru, lstm = mode == RnnMode::lstm;
  const bool relu = mode == RnnMode::rnn_relu;
  const std::vector<int64_t> act = active_rows(s, lengths);
  const T* none = nullptr;
  T* dgx = work;                            // input-side pre-activation gradients
  T* dgh = gru ? work + TB * NG : work;     // hidden side (the same except for the GRU)
  T* din = work + (gru ? 2 : 1) * TB * NG;  // the step's state gradient
  run(copy_then_zero<T>, B * H, stream, B * H, B * H, dhT, dh0);
  if (lstm) run(copy_then_zero<T>, B * H, stream, B * H, B * H, dcT, dc0);
  for (int64_t step = s.steps - 1; step >= 0; --step) {
    const int64_t t = reverse ? s.steps - 1 - step : step, nb = act[size_t(t)];
    const int64_t tail = (B - nb) * NG;
    T* gx = dgx + t * B * NG;
    T* gh = dgh + t * B * NG;
    run(add_into<T>, nb * H, stream, nb * H, static_cast<const T*>(dh0), dy + t * B * H, din);
    if (lstm) {
      run(lstm_gates_backward<T>, nb * H, stream, nb, H, ws0 + t * B * NG, ws1 + t * B * H,
          static_cast<const T*>(din), dc0, gx);
    } else if (gru) {
      run(gru_gates_backward<T>, nb * H, stream, nb, H, ws0 + t * B * NG, ws1 + t * B * H,
          hprev + t * B * H, static_cast<const T*>(din), dh0, gx, gh);
      run(copy_then_zero<T>, tail, stream, int64_t(0), tail, none, gh + nb * NG);
    } else {
      run(rnn_gates_backward<T>, nb * H, stream, nb, H, relu, ws0 + t * B * NG,
          static_cast<const T*>(din), gx);
    }
    run(copy_then_zero<T>, tail, stream, int64_t(0), tail, none, gx + nb * NG);
    mm<T>(nb, H, NG, gh, NG, w_hh, H, false, gru ? T(1) : T(0), dh0, H, stream);
  }
  if (dx) mm<T>(TB, s.input, NG, dgx, NG, w_ih, s.input, false, T(0), dx, s.input, stream);
  mm_tn<T>(NG, s.input, TB, dgx, x, dw_ih, stream);
  mm_tn<T>(NG, H, TB, dgh, hprev, dw_hh, stream);
  run(column_sums<T>, NG, stream, TB, NG, static_cast<const T*>(dgx), db_ih, gru ? nullptr : db_hh);
  if (gru) run(column_sums<T>, NG, stream, TB, NG, static_cast<const T*>(dgh), db_hh,
               static_cast<T*>(nullptr));
}

#define FASTDL_INSTANTIATE_CUDA_RNN(T)                                                         \
  template void rnn_forward<T>(RnnMode, const RnnShape&, const T*, const T*, const T*,         \
                               const T*, const T*, const T*, const T*, const int64_t*, bool,   \
                               T*, T*, T*, T*, T*, T*, void*);                                 \
  template void rnn_backward<T>(RnnMode, const RnnShape&, const T*, const T*, const T*,        \
                                const int64_t*, bool, const T*, const T*, const T*, const T*,  \
                                const T*, const T*, T*, T*, T*, T*, T*, T*, T*, void*);
FASTDL_INSTANTIATE_CUDA_RNN(float)
FASTDL_INSTANTIATE_CUDA_RNN(double)

}  // namespace fastdl::cuda
