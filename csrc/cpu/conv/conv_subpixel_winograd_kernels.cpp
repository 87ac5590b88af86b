// The 4 x 4, stride-2, padding-1 convolution (DCGAN's and U-Net's up/down-sampling layer, and
// as its adjoint the transposed convolution) by sub-pixel phases and Winograd F(2x2, 2x2),
// compiled once per ISA.
//
// With x's rows split by parity into phase planes x_e[m] = x[2m], x_o[m] = x[2m + 1], one axis
// of out[i] = sum_kh x[2i + kh - 1] w[kh] is
//     out[i] = x_e[i] w1 + x_e[i + 1] w3  +  x_o[i - 1] w0 + x_o[i] w2,
// two 2-tap correlations; in 2-D four phase planes, each a 2 x 2 stride-1 correlation with a
// sub-kernel of w. F(2, 2) computes two outputs of a 2-tap correlation from a 3-input window d
// with 3 multiplications instead of 4:
//     B^T d = (d0 - d1, d1, d2 - d1),  G g = (g0, g0 + g1, g1),  out = A^T m = (m0 + m1, m1 + m2)
// so a 2 x 2 output tile takes 9 products per (input, output channel) instead of 16 (0.5625x the
// FLOPs). The 9 transformed elements xi multiply as 9 independent GEMMs on our GEMM:
//   forward          M_xi (K x T) = U_xi (K x 4C) V_xi (4C x T)       (the phases summed in k)
//   input gradient   per phase: M_xi (C x T) = U'_xi (C x K) V'_xi (K x T), V' from grad_out
//   weight gradient  M_xi (4C x K) += V_xi (4C x T) Ghat_xi^T (T x K) with Ghat = G g G^T of
//                    grad_out's 2 x 2 tiles (F(2, 2) with the roles of filter and output swapped)
// over blocks of images (T = tiles of the block). Workspace per call: the transformed weights
// (2.25x the weights), and per block the transformed inputs and products (kBlockBytes, or one
// image's when that is more; planes past kMaxImageElements keep the direct paths).
// Numerics: the transforms only add and subtract (no fractions), errors stay at a few ulps of
// the sums (tests compare with float64 torch). A 2 x 2 output reads only the transforms of its
// own 3 x 3 window (F(2, 2) is separable), so a NaN reaches the outputs the direct sum would give
// NaN; infinities can meet as inf - inf in a transform, NaN where the direct sum is inf.
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "cpu/conv/conv_kernels_common.h"
#include "cpu/gemm/gemm_kernels.h"
#include "cpu/gemm/gemm_pack.h"

namespace fastdl::cpu::FASTDL_ISA::conv_detail {

namespace {

// Transformed inputs + products of one block of images at most this large (L3-sized).
constexpr int64_t kBlockBytes = int64_t(12) << 20;
// One image's transforms at most this many elements (64 MiB of floats): a block is whole images.
constexpr int64_t kMaxImageElements = int64_t(16) << 20;

thread_local PackBuffer tls_wino_weights, tls_wino_inputs, tls_wino_products, tls_wino_grads,
    tls_wino_last, tls_wino_zero, tls_wino_scratch;

// The sub-pixel view: x (N, C, 2H, 2W), out (N, K, H, W), tiles of 2 x 2 outputs.
struct Subpixel {
  int64_t N, C, K, H, W, TH, TW;
  explicit Subpixel(const ConvGeometry& g)
      : N(g.batch), C(g.in_channels), K(g.out_channels), H(g.out[1]), W(g.out[2]),
        TH(ceil_div(g.out[1], 2)), TW(ceil_div(g.out[2], 2)) {}
  int64_t tiles() const { return TH * TW; }
  // Workspace elements per image of the forward and the weight gradient: 9 transformed rows of
  // the 4 phases' inputs and of the outputs (or grad_out tiles) per tile, and the channels-last
  // copies of x and of the outputs (grad_out). The input gradient's is smaller (9 (K + C)).
  int64_t image_elements() const {
    return 9 * (4 * C + K) * tiles() + 4 * H * W * C + H * W * K;
  }
};

// Images per block: the block's transformed inputs and products (`per_image` elements each)
// within kBlockBytes.
int64_t block_images(int64_t batch, int64_t per_image, int64_t elem_bytes) {
  const int64_t fit =
      std::max<int64_t>(1, kBlockBytes / std::max<int64_t>(1, per_image * elem_bytes));
  return ceil_div(batch, ceil_div(batch, std::min(fit, batch)));
}

// dst (cols x rows) = src (rows x cols) transposed, 8 x 8 register transposes where both
// extents allow: the planes' channels-last copies (C x plane -> plane x C) and back. The
// transforms below then run along contiguous channels (vectors), and the products read and
// write whole pixels.
template <typename T>
void transpose_matrix(const T* src, int64_t rows, int64_t cols, T* dst) {
  const int64_t r8 = rows / 8 * 8, c8 = cols / 8 * 8;
  for (int64_t r = 0; r < r8; r += 8)
    for (int64_t c = 0; c < c8; c += 8) transpose_8x8(src + r * cols + c, cols, dst + c * rows + r, rows);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = r < r8 ? c8 : 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
}

// v[xi][0, n) = (B^T d B)[xi] along n channels, d[i][j] the window's 9 pixels (each n
// contiguous channels; the zero pixel outside the plane).
template <typename T>
inline void input_tile(const T* const (&d)[3][3], int64_t n, T* const (&v)[9]) {
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) {
    T e[3][3];  // B^T d: rows (d0 - d1, d1, d2 - d1)
    for (int j = 0; j < 3; ++j) {
      e[0][j] = d[0][j][c] - d[1][j][c];
      e[1][j] = d[1][j][c];
      e[2][j] = d[2][j][c] - d[1][j][c];
    }
    for (int i = 0; i < 3; ++i) {  // (B^T d) B
      v[i * 3 + 0][c] = e[i][0] - e[i][1];
      v[i * 3 + 1][c] = e[i][1];
      v[i * 3 + 2][c] = e[i][2] - e[i][1];
    }
  }
}

// u[xi][0, n) = (G g G^T)[xi] along n channels, g[a][b] a 2 x 2 tile (a sub-kernel of w, or a
// tile of grad_out for the weight gradient).
template <typename T>
inline void filter_tile(const T* const (&g)[2][2], int64_t n, T* const (&u)[9]) {
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) {
    const T e[3][2] = {{g[0][0][c], g[0][1][c]},  // G g: rows (g0, g0 + g1, g1)
                       {g[0][0][c] + g[1][0][c], g[0][1][c] + g[1][1][c]},
                       {g[1][0][c], g[1][1][c]}};
    for (int i = 0; i < 3; ++i) {  // (G g) G^T
      u[i * 3 + 0][c] = e[i][0];
      u[i * 3 + 1][c] = e[i][0] + e[i][1];
      u[i * 3 + 2][c] = e[i][1];
    }
  }
}

// The kernel row (or column) of w that window tap a (0, 1) of phase ph (0: even, 1: odd) reads
// in the forward: taps (w1, w3) for the even phase, (w0, w2) for the odd one. The input gradient
// reads them reversed (phase_tap(ph, 1 - a)).
inline int64_t phase_tap(int64_t ph, int64_t a) { return 1 - ph + 2 * a; }

// The 2 x 2 sub-kernel of w[k][c] (16 taps at wk) for phase ph, as forward taps or reversed,
// transformed into u[xi * ustride].
template <typename T>
inline void transform_sub_kernel(const T* wk, int64_t ph, bool reversed, T* u, int64_t ustride) {
  const int64_t ph_h = ph / 2, ph_w = ph % 2;
  T taps[2][2];
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      taps[a][b] = wk[phase_tap(ph_h, reversed ? 1 - a : a) * 4 +
                      phase_tap(ph_w, reversed ? 1 - b : b)];
  const T* const g[2][2] = {{&taps[0][0], &taps[0][1]}, {&taps[1][0], &taps[1][1]}};
  T* const dst[9] = {u, u + ustride, u + 2 * ustride, u + 3 * ustride, u + 4 * ustride,
                     u + 5 * ustride, u + 6 * ustride, u + 7 * ustride, u + 8 * ustride};
  filter_tile(g, 1, dst);
}

// r[a][b][0, n) = (A^T m A)[a][b] along n channels, m[xi] the 9 products.
template <typename T>
inline void output_tile(const T* const (&m)[9], int64_t n, T* const (&r)[2][2]) {
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) {
    T e[2][3];  // A^T m: rows (m0 + m1, m1 + m2)
    for (int j = 0; j < 3; ++j) {
      e[0][j] = m[0 * 3 + j][c] + m[1 * 3 + j][c];
      e[1][j] = m[1 * 3 + j][c] + m[2 * 3 + j][c];
    }
    for (int a = 0; a < 2; ++a) {
      r[a][0][c] = e[a][0] + e[a][1];
      r[a][1][c] = e[a][1] + e[a][2];
    }
  }
}

// A zero pixel of n channels (the window outside the plane): filled by the calling thread before
// a region and only read in it (the regions' scratch rows are tls_wino_scratch).
template <typename T>
const T* zero_pixel(int64_t n) {
  T* z = tls_wino_zero.get<T>(n);
  std::fill(z, z + n, T(0));
  return z;
}

// V[xi][t][ph * C + c] (row stride 4C) for the block's channels-last x (nb, 2H, 2W, C): phase
// ph = (ph_h, ph_w) plane x[2m + ph_h][2l + ph_w], windows starting at (2 th - ph_h,
// 2 tw - ph_w) (the forward's phase offsets; the weight gradient reads the same).
template <typename T>
void transform_x(const Subpixel& s, const T* xt, int64_t nb, T* V, int threads) {
  const int64_t T_ = nb * s.tiles(), C4 = 4 * s.C, W2 = 2 * s.W;
  const T* zero = zero_pixel<T>(s.C);
  parallel_tasks(T_, threads, false, [&](int64_t t) {
    const int64_t n = t / s.tiles(), th = t % s.tiles() / s.TW, tw = t % s.TW;
    const T* img = xt + n * 4 * s.H * s.W * s.C;
    for (int64_t ph = 0; ph < 4; ++ph) {
      const int64_t ph_h = ph / 2, ph_w = ph % 2;
      const T* d[3][3];
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
          const int64_t m = 2 * th - ph_h + i, l = 2 * tw - ph_w + j;
          d[i][j] = m >= 0 && m < s.H && l >= 0 && l < s.W
                        ? img + ((2 * m + ph_h) * W2 + 2 * l + ph_w) * s.C : zero;
        }
      T* v[9];
      for (int xi = 0; xi < 9; ++xi) v[xi] = V + (xi * T_ + t) * C4 + ph * s.C;
      input_tile(d, s.C, v);
    }
  });
}

// For every tile t of a block: its 2 x 2 results (A^T M A) of `channels` contiguous channels
// (M[xi][t][channel]) written to the channels-last pixels pixel(n, i, j) of the block's image n,
// output (i, j) of its plane; outputs past the plane (odd sizes) go to a scratch row.
template <typename T, typename Pixel>
void output_tiles(const Subpixel& s, const T* M, int64_t T_, int64_t channels, Pixel&& pixel,
                  int threads) {
  parallel_tasks(T_, threads, false, [&](int64_t t) {
    const int64_t n = t / s.tiles(), th = t % s.tiles() / s.TW, tw = t % s.TW;
    const T* m[9];
    for (int xi = 0; xi < 9; ++xi) m[xi] = M + (xi * T_ + t) * channels;
    T* scratch = tls_wino_scratch.get<T>(4 * channels);
    T* r[2][2];
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b) {
        const int64_t i = 2 * th + a, j = 2 * tw + b;
        r[a][b] = i < s.H && j < s.W ? pixel(n, i, j) : scratch + (a * 2 + b) * channels;
      }
    output_tile(m, channels, r);
  });
}

}  // namespace

bool subpixel_winograd_applies(const ConvGeometry& g) {
  const char* env = std::getenv("FASTDL_CONV_WINOGRAD");
  if (env && *env == '0') return false;
  const bool shape = g.groups == 1 && g.in[0] == 1 && g.kernel[0] == 1 && g.kernel[1] == 4 &&
                     g.kernel[2] == 4 && g.stride[1] == 2 && g.stride[2] == 2 && g.pad[1] == 1 &&
                     g.pad[2] == 1 && g.dilation[1] == 1 && g.dilation[2] == 1 &&
                     g.in[1] == 2 * g.out[1] && g.in[2] == 2 * g.out[2] &&
                     g.in_channels >= 8 && g.out_channels >= 8;
  if (!shape) return false;
  // A block holds at least one image: planes whose single image's transforms would pass
  // kMaxImageElements stay on the direct paths (workspace bounded).
  return Subpixel(g).image_elements() <= kMaxImageElements;
}

// out = conv(x, w) + bias.
template <typename T>
void subpixel_winograd_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias,
                               T* out, int threads) {
  const Subpixel s(g);
  const int64_t C4 = 4 * s.C, plane_x = 4 * s.H * s.W, plane = s.H * s.W;
  // U[xi][k][ph * C + c] = G g G^T, g the phase's sub-kernel of w[k][c]
  T* U = tls_wino_weights.get<T>(9 * s.K * C4);
  parallel_tasks(s.K, threads, false, [&](int64_t k) {
    for (int64_t ph = 0; ph < 4; ++ph)
      for (int64_t c = 0; c < s.C; ++c)
        transform_sub_kernel(w + (k * s.C + c) * 16, ph, false, U + k * C4 + ph * s.C + c,
                             s.K * C4);
  });
  const int64_t nb_max = block_images(s.N, s.image_elements(), sizeof(T));
  T* V = tls_wino_inputs.get<T>(9 * C4 * nb_max * s.tiles());
  T* M = tls_wino_products.get<T>(9 * s.K * nb_max * s.tiles());
  T* last = tls_wino_last.get<T>(nb_max * std::max(plane_x * s.C, plane * s.K));
  for (int64_t n0 = 0; n0 < s.N; n0 += nb_max) {
    const int64_t nb = std::min(nb_max, s.N - n0), T_ = nb * s.tiles();
    parallel_tasks(nb, threads, false, [&](int64_t n) {
      transpose_matrix(x + (n0 + n) * s.C * plane_x, s.C, plane_x, last + n * plane_x * s.C);
    });
    transform_x(s, last, nb, V, threads);
    // M[xi] (T x K) = V[xi] (T x 4C) U[xi]^T
    for (int64_t xi = 0; xi < 9; ++xi)
      gemm<T>(T_, s.K, C4, T(1), {V + xi * T_ * C4, C4, 1}, {U + xi * s.K * C4, 1, C4}, T(0),
              {M + xi * T_ * s.K, s.K, 1}, threads);
    // out tiles, channels last, into `last` (nb, H, W, K); then back to (K, H, W) per image
    output_tiles(s, M, T_, s.K, [&](int64_t n, int64_t i, int64_t j) {
      return last + (n * plane + i * s.W + j) * s.K;
    }, threads);
    parallel_tasks(nb, threads, false, [&](int64_t n) {
      T* o = out + (n0 + n) * s.K * plane;
      transpose_matrix(last + n * plane * s.K, plane, s.K, o);
      if (bias)
        for (int64_t k = 0; k < s.K; ++k)
          for (int64_t p = 0; p < plane; ++p) o[k * plane + p] += bias[k];
    });
  }
}

// grad_x = conv^T(grad_out, w): per phase of grad_x, a 2 x 2 correlation of grad_out with
// windows starting at (2 th + ph_h - 1, 2 tw + ph_w - 1) and the phase's taps reversed.
template <typename T>
void subpixel_winograd_backward_input(const ConvGeometry& g, const T* gout, const T* w, T* gin,
                                      int threads) {
  const Subpixel s(g);
  const int64_t plane_x = 4 * s.H * s.W, plane = s.H * s.W, W2 = 2 * s.W;
  // U[ph][xi][c][k]
  T* U = tls_wino_weights.get<T>(4 * 9 * s.C * s.K);
  parallel_tasks(s.C, threads, false, [&](int64_t c) {
    for (int64_t ph = 0; ph < 4; ++ph)
      for (int64_t k = 0; k < s.K; ++k)
        transform_sub_kernel(w + (k * s.C + c) * 16, ph, true,
                             U + (ph * 9 * s.C + c) * s.K + k, s.C * s.K);
  });
  const int64_t per_image = 9 * (s.K + s.C) * s.tiles() + plane * s.K + plane_x * s.C;
  const int64_t nb_max = block_images(s.N, per_image, sizeof(T));
  T* V = tls_wino_inputs.get<T>(9 * s.K * nb_max * s.tiles());
  T* M = tls_wino_products.get<T>(9 * s.C * nb_max * s.tiles());
  T* gt = tls_wino_grads.get<T>(nb_max * plane * s.K);       // grad_out, channels last
  T* last = tls_wino_last.get<T>(nb_max * plane_x * s.C);    // grad_x, channels last
  for (int64_t n0 = 0; n0 < s.N; n0 += nb_max) {
    const int64_t nb = std::min(nb_max, s.N - n0), T_ = nb * s.tiles();
    parallel_tasks(nb, threads, false, [&](int64_t n) {
      transpose_matrix(gout + (n0 + n) * s.K * plane, s.K, plane, gt + n * plane * s.K);
    });
    for (int64_t ph = 0; ph < 4; ++ph) {
      const int64_t ph_h = ph / 2, ph_w = ph % 2;
      const T* zero = zero_pixel<T>(s.K);
      parallel_tasks(T_, threads, false, [&](int64_t t) {  // V[xi][t][k]
        const int64_t n = t / s.tiles(), th = t % s.tiles() / s.TW, tw = t % s.TW;
        const T* img = gt + n * plane * s.K;
        const T* d[3][3];
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) {
            const int64_t m = 2 * th + ph_h - 1 + i, l = 2 * tw + ph_w - 1 + j;
            d[i][j] = m >= 0 && m < s.H && l >= 0 && l < s.W ? img + (m * s.W + l) * s.K : zero;
          }
        T* v[9];
        for (int xi = 0; xi < 9; ++xi) v[xi] = V + (xi * T_ + t) * s.K;
        input_tile(d, s.K, v);
      });
      // M[xi] (T x C) = V[xi] (T x K) U[ph][xi]^T
      for (int64_t xi = 0; xi < 9; ++xi)
        gemm<T>(T_, s.C, s.K, T(1), {V + xi * T_ * s.K, s.K, 1},
                {U + (ph * 9 + xi) * s.C * s.K, 1, s.K}, T(0), {M + xi * T_ * s.C, s.C, 1},
                threads);
      output_tiles(s, M, T_, s.C, [&](int64_t n, int64_t i, int64_t j) {
        return last + (n * plane_x + (2 * i + ph_h) * W2 + 2 * j + ph_w) * s.C;
      }, threads);
    }
    parallel_tasks(nb, threads, false, [&](int64_t n) {
      transpose_matrix(last + n * plane_x * s.C, plane_x, s.C, gin + (n0 + n) * s.C * plane_x);
    });
  }
}

template <typename T>
void subpixel_winograd_backward_weight(const ConvGeometry& g, const T* x, const T* gout, T* gw,
                                       int threads) {
  const Subpixel s(g);
  const int64_t C4 = 4 * s.C, plane_x = 4 * s.H * s.W, plane = s.H * s.W;
  const int64_t nb_max = block_images(s.N, s.image_elements(), sizeof(T));
  T* V = tls_wino_inputs.get<T>(9 * C4 * nb_max * s.tiles());
  T* Gh = tls_wino_grads.get<T>(9 * s.K * nb_max * s.tiles() + nb_max * plane * s.K);
  T* gt = Gh + 9 * s.K * nb_max * s.tiles();                  // grad_out, channels last
  T* last = tls_wino_last.get<T>(nb_max * plane_x * s.C);     // x, channels last
  T* M = tls_wino_products.get<T>(9 * C4 * s.K);  // [xi][ph * C + c][k], summed over blocks
  for (int64_t n0 = 0; n0 < s.N; n0 += nb_max) {
    const int64_t nb = std::min(nb_max, s.N - n0), T_ = nb * s.tiles();
    parallel_tasks(nb, threads, false, [&](int64_t n) {
      transpose_matrix(x + (n0 + n) * s.C * plane_x, s.C, plane_x, last + n * plane_x * s.C);
      transpose_matrix(gout + (n0 + n) * s.K * plane, s.K, plane, gt + n * plane * s.K);
    });
    transform_x(s, last, nb, V, threads);
    const T* zero = zero_pixel<T>(s.K);
    parallel_tasks(T_, threads, false, [&](int64_t t) {  // Ghat[xi][t][k] = G g G^T
      const int64_t n = t / s.tiles(), th = t % s.tiles() / s.TW, tw = t % s.TW;
      const T* img = gt + n * plane * s.K;
      const T* d[2][2];
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b) {
          const int64_t i = 2 * th + a, j = 2 * tw + b;
          d[a][b] = i < s.H && j < s.W ? img + (i * s.W + j) * s.K : zero;
        }
      T* u[9];
      for (int xi = 0; xi < 9; ++xi) u[xi] = Gh + (xi * T_ + t) * s.K;
      filter_tile(d, s.K, u);
    });
    // M[xi] (4C x K) (+)= V[xi]^T (4C x T) Ghat[xi] (T x K)
    for (int64_t xi = 0; xi < 9; ++xi)
      gemm<T>(C4, s.K, T_, T(1), {V + xi * T_ * C4, 1, C4}, {Gh + xi * T_ * s.K, s.K, 1},
              n0 == 0 ? T(0) : T(1), {M + xi * C4 * s.K, s.K, 1}, threads);
  }
  // gw[k][c][phase_tap(ph_h, a)][phase_tap(ph_w, b)] = (A^T M A)[a][b] for row ph * C + c,
  // column k
  parallel_tasks(s.C, threads, false, [&](int64_t c) {
    T* r = tls_wino_scratch.get<T>(4 * s.K);
    for (int64_t ph = 0; ph < 4; ++ph) {
      const int64_t ph_h = ph / 2, ph_w = ph % 2;
      const T* m[9];
      for (int xi = 0; xi < 9; ++xi) m[xi] = M + (xi * C4 + ph * s.C + c) * s.K;
      T* const rr[2][2] = {{r, r + s.K}, {r + 2 * s.K, r + 3 * s.K}};
      output_tile(m, s.K, rr);
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b)
          for (int64_t k = 0; k < s.K; ++k)
            gw[(k * s.C + c) * 16 + phase_tap(ph_h, a) * 4 + phase_tap(ph_w, b)] = rr[a][b][k];
    }
  });
}

#define FASTDL_INSTANTIATE_SUBPIXEL_WINOGRAD(T)                                                 \
  template void subpixel_winograd_forward<T>(const ConvGeometry&, const T*, const T*,          \
                                             const T*, T*, int);                               \
  template void subpixel_winograd_backward_input<T>(const ConvGeometry&, const T*, const T*,   \
                                                    T*, int);                                  \
  template void subpixel_winograd_backward_weight<T>(const ConvGeometry&, const T*, const T*,  \
                                                     T*, int);
FASTDL_INSTANTIATE_SUBPIXEL_WINOGRAD(float)
FASTDL_INSTANTIATE_SUBPIXEL_WINOGRAD(double)
#undef FASTDL_INSTANTIATE_SUBPIXEL_WINOGRAD

}  // namespace fastdl::cpu::FASTDL_ISA::conv_detail
