// Fused gate kernels (rnn_gates.h), compiled once per ISA. The loops are written over one row's
// contiguous columns with the branch-free float math of common/vector_math.h, so the compiler
// turns each into the ISA's vector code; float64 uses the C library's exp/tanh (it serves
// gradcheck, where accuracy matters more than speed).
#include "cpu/rnn/rnn_gates.h"
#include "common/vector_math.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace fastdl::cpu::FASTDL_ISA {
template <typename T>
void lstm_gates_forward(int64_t rows, int64_t j0, int64_t j1, int64_t H, T* g, T* c, T* cprev,
                        T* h) {
  for (int64_t r = 0; r < rows; ++r) {
    T* gi = g + r * 4 * H;
    T* gf = gi + H;
    T* gg = gi + 2 * H;
    T* go = gi + 3 * H;
    T* cr = c + r * H;
    T* hr = h + r * H;
    if (cprev) std::copy(cr + j0, cr + j1, cprev + r * H + j0);  // null: nothing is saved
#pragma omp simd
    for (int64_t j = j0; j < j1; ++j) {
      const T i = sigmoid<T>(gi[j]), f = sigmoid<T>(gf[j]), gt = tanh_<T>(gg[j]),
              o = sigmoid<T>(go[j]);
      const T c1 = f * cr[j] + i * gt;
      gi[j] = i, gf[j] = f, gg[j] = gt, go[j] = o;
      cr[j] = c1;
      hr[j] = o * tanh_<T>(c1);
    }
  }
}

template <typename T>
void lstm_gates_backward(int64_t rows, int64_t j0, int64_t j1, int64_t H, const T* g,
                         const T* cprev, const T* dh, T* dc, T* dg) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* gi = g + r * 4 * H;
    const T* gf = gi + H;
    const T* gg = gi + 2 * H;
    const T* go = gi + 3 * H;
    const T* cp = cprev + r * H;
    const T* dhr = dh + r * H;
    T* dcr = dc + r * H;
    T* di = dg + r * 4 * H;
    T* df = di + H;
    T* dgg = di + 2 * H;
    T* dout = di + 3 * H;
#pragma omp simd
    for (int64_t j = j0; j < j1; ++j) {
      const T i = gi[j], f = gf[j], gt = gg[j], o = go[j];
      const T c1 = f * cp[j] + i * gt;
      const T tc = tanh_<T>(c1);
      const T d = dhr[j];
      const T dct = dcr[j] + d * o * (T(1) - tc * tc);
      dout[j] = d * tc * o * (T(1) - o);
      di[j] = dct * gt * i * (T(1) - i);
      df[j] = dct * cp[j] * f * (T(1) - f);
      dgg[j] = dct * i * (T(1) - gt * gt);
      dcr[j] = dct * f;
    }
  }
}

template <typename T>
void gru_gates_forward(int64_t rows, int64_t j0, int64_t j1, int64_t H, T* gx, const T* gh,
                       T* hn, T* h, T* hprev) {
  for (int64_t r = 0; r < rows; ++r) {
    T* xr = gx + r * 3 * H;
    T* xz = xr + H;
    T* xn = xr + 2 * H;
    const T* hr_ = gh + r * 3 * H;
    const T* hz = hr_ + H;
    const T* hnn = hr_ + 2 * H;
    T* hrow = h + r * H;
    if (hn) std::copy(hnn + j0, hnn + j1, hn + r * H + j0);  // null: nothing is saved
    if (hprev) std::copy(hrow + j0, hrow + j1, hprev + r * H + j0);
#pragma omp simd
    for (int64_t j = j0; j < j1; ++j) {
      const T rg = sigmoid<T>(xr[j] + hr_[j]);
      const T z = sigmoid<T>(xz[j] + hz[j]);
      const T n = tanh_<T>(xn[j] + rg * hnn[j]);
      const T h0 = hrow[j];
      xr[j] = rg, xz[j] = z, xn[j] = n;
      hrow[j] = (T(1) - z) * n + z * h0;
    }
  }
}

template <typename T>
void gru_gates_backward(int64_t rows, int64_t j0, int64_t j1, int64_t H, const T* g, const T* hn,
                        const T* hprev, const T* dh, T* dhprev, T* dgx, T* dgh) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* gr = g + r * 3 * H;
    const T* gz = gr + H;
    const T* gn = gr + 2 * H;
    const T* hnr = hn + r * H;
    const T* hp = hprev + r * H;
    const T* dhr = dh + r * H;
    T* dhp = dhprev + r * H;
    T* xr = dgx + r * 3 * H;
    T* xz = xr + H;
    T* xn = xr + 2 * H;
    T* hr_ = dgh + r * 3 * H;
    T* hz = hr_ + H;
    T* hnn = hr_ + 2 * H;
#pragma omp simd
    for (int64_t j = j0; j < j1; ++j) {
      const T rg = gr[j], z = gz[j], n = gn[j], d = dhr[j];
      const T dnp = d * (T(1) - z) * (T(1) - n * n);
      const T dzp = d * (hp[j] - n) * z * (T(1) - z);
      const T drp = dnp * hnr[j] * rg * (T(1) - rg);
      xr[j] = drp, xz[j] = dzp, xn[j] = dnp;
      hr_[j] = drp, hz[j] = dzp, hnn[j] = dnp * rg;
      dhp[j] = d * z;
    }
  }
}

template <typename T>
void rnn_gates_forward(int64_t rows, int64_t j0, int64_t j1, int64_t H, bool relu, T* a, T* h) {
  for (int64_t r = 0; r < rows; ++r) {
    T* ar = a + r * H;
    T* hr = h + r * H;
    if (relu) {
#pragma omp simd
      for (int64_t j = j0; j < j1; ++j) {
        const T v = ar[j] > T(0) ? ar[j] : T(0);
        ar[j] = v, hr[j] = v;
      }
    } else {
#pragma omp simd
      for (int64_t j = j0; j < j1; ++j) {
        const T v = tanh_<T>(ar[j]);
        ar[j] = v, hr[j] = v;
      }
    }
  }
}

template <typename T>
void rnn_gates_backward(int64_t rows, int64_t j0, int64_t j1, int64_t H, bool relu, const T* a,
                        const T* dh, T* dg) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* ar = a + r * H;
    const T* dr = dh + r * H;
    T* gr = dg + r * H;
    if (relu) {
#pragma omp simd
      for (int64_t j = j0; j < j1; ++j) gr[j] = ar[j] > T(0) ? dr[j] : T(0);
    } else {
#pragma omp simd
      for (int64_t j = j0; j < j1; ++j) gr[j] = dr[j] * (T(1) - ar[j] * ar[j]);
    }
  }
}

#define FASTDL_INSTANTIATE_RNN_GATES(T)                                                        \
  template void lstm_gates_forward<T>(int64_t, int64_t, int64_t, int64_t, T*, T*, T*, T*);     \
  template void lstm_gates_backward<T>(int64_t, int64_t, int64_t, int64_t, const T*, const T*, \
                                       const T*, T*, T*);                                      \
  template void gru_gates_forward<T>(int64_t, int64_t, int64_t, int64_t, T*, const T*, T*, T*, \
                                     T*);                                                      \
  template void gru_gates_backward<T>(int64_t, int64_t, int64_t, int64_t, const T*, const T*,  \
                                      const T*, const T*, T*, T*, T*);                         \
  template void rnn_gates_forward<T>(int64_t, int64_t, int64_t, int64_t, bool, T*, T*);        \
  template void rnn_gates_backward<T>(int64_t, int64_t, int64_t, int64_t, bool, const T*,      \
                                      const T*, T*);
FASTDL_INSTANTIATE_RNN_GATES(float)
FASTDL_INSTANTIATE_RNN_GATES(double)

}  // namespace fastdl::cpu::FASTDL_ISA
