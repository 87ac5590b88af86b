// im2col lowering onto the GEMM, compiled once per ISA: bounded im2col / col2im tiles of one
// image, and the whole-batch lowering for small output planes (panels of several images).
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

#include "cpu/conv/conv_kernels_common.h"
#include "cpu/gemm/gemm_kernels.h"

namespace fastdl::cpu::FASTDL_ISA::conv_detail {

namespace {

// Walks the output positions [p0, p0 + cols) of the flattened output plane as runs within one
// output row: fn(j, od, oh, ow, run) for the run of `run` positions starting at column j of the
// tile and output (od, oh, ow).
template <typename Fn>
inline void for_each_row_run(const ConvGeometry& g, int64_t p0, int64_t cols, Fn&& fn) {
  const int64_t OH = g.out[1], OW = g.out[2];
  int64_t ow = p0 % OW, oh = (p0 / OW) % OH, od = p0 / (OW * OH);
  for (int64_t j = 0; j < cols;) {
    const int64_t run = std::min(OW - ow, cols - j);
    fn(j, od, oh, ow, run);
    j += run;
    ow = 0;
    if (++oh == OH) oh = 0, ++od;
  }
}

}  // namespace

// col[r][j] = x[c, od*s0 + kd*d0 - p0, oh*s1 + kh*d1 - p1, ow*s2 + kw*d2 - p2] (0 in the padding)
// for the tile's positions j, rows r = (c, kd, kh, kw); x is the group's first channel.
template <typename T>
void im2col_tile(const ConvGeometry& g, const T* x, int64_t p0, int64_t cols, T* col) {
  const int64_t ID = g.in[0], IH = g.in[1], IW = g.in[2], IP = g.in_plane();
  const int64_t s2 = g.stride[2];
  int64_t row = 0;
  for (int64_t c = 0; c < g.group_in(); ++c) {
    const T* xc = x + c * IP;
    for (int64_t kd = 0; kd < g.kernel[0]; ++kd)
      for (int64_t kh = 0; kh < g.kernel[1]; ++kh)
        for (int64_t kw = 0; kw < g.kernel[2]; ++kw, ++row) {
          T* dst = col + row * cols;
          const int64_t dd = kd * g.dilation[0] - g.pad[0], dh = kh * g.dilation[1] - g.pad[1];
          const int64_t dw = kw * g.dilation[2] - g.pad[2];
          const Range r = valid_outputs(g.out[2], IW, s2, dw);
          for_each_row_run(g, p0, cols, [&](int64_t j, int64_t od, int64_t oh, int64_t ow,
                                            int64_t run) {
            T* d = dst + j - ow;  // d[o] for output column o of this row
            const int64_t id = od * g.stride[0] + dd, ih = oh * g.stride[1] + dh;
            const int64_t end = ow + run;
            if (id < 0 || id >= ID || ih < 0 || ih >= IH) {
              std::fill(d + ow, d + end, T(0));
              return;
            }
            const T* xr = xc + (id * IH + ih) * IW + dw;
            const int64_t lo = std::clamp(r.lo, ow, end), hi = std::clamp(r.hi, lo, end);
            std::fill(d + ow, d + lo, T(0));
            if (s2 == 1) {
              for (int64_t o = lo; o < hi; ++o) d[o] = xr[o];
            } else if (s2 == 2) {  // a constant stride vectorizes (even lanes of two loads)
              for (int64_t o = lo; o < hi; ++o) d[o] = xr[o * 2];
            } else {
              for (int64_t o = lo; o < hi; ++o) d[o] = xr[o * s2];
            }
            std::fill(d + hi, d + end, T(0));
          });
        }
  }
}

// The adjoint of im2col_tile: x[c, ...] += col[r][j] (padding positions dropped).
template <typename T>
void col2im_tile_add(const ConvGeometry& g, const T* col, int64_t p0, int64_t cols, T* x) {
  const int64_t ID = g.in[0], IH = g.in[1], IW = g.in[2], IP = g.in_plane();
  const int64_t s2 = g.stride[2];
  int64_t row = 0;
  for (int64_t c = 0; c < g.group_in(); ++c) {
    T* xc = x + c * IP;
    for (int64_t kd = 0; kd < g.kernel[0]; ++kd)
      for (int64_t kh = 0; kh < g.kernel[1]; ++kh)
        for (int64_t kw = 0; kw < g.kernel[2]; ++kw, ++row) {
          const T* src = col + row * cols;
          const int64_t dd = kd * g.dilation[0] - g.pad[0], dh = kh * g.dilation[1] - g.pad[1];
          const int64_t dw = kw * g.dilation[2] - g.pad[2];
          const Range r = valid_outputs(g.out[2], IW, s2, dw);
          for_each_row_run(g, p0, cols, [&](int64_t j, int64_t od, int64_t oh, int64_t ow,
                                            int64_t run) {
            const int64_t id = od * g.stride[0] + dd, ih = oh * g.stride[1] + dh;
            if (id < 0 || id >= ID || ih < 0 || ih >= IH) return;
            const T* s = src + j - ow;
            T* xr = xc + (id * IH + ih) * IW + dw;
            const int64_t end = ow + run;
            const int64_t lo = std::clamp(r.lo, ow, end), hi = std::clamp(r.hi, lo, end);
            if (s2 == 1) {
              for (int64_t o = lo; o < hi; ++o) xr[o] += s[o];
            } else {
              for (int64_t o = lo; o < hi; ++o) xr[o * s2] += s[o];
            }
          });
        }
  }
}

namespace {

// ---- whole-batch lowering (small output planes) ---------------------------------------------
// On ResNet-18's late layers (planes of 2 x 2 .. 8 x 8 at batch 16) one image gives the GEMM
// only P = 4..64 columns: per image the weights (up to 512 x 4608) are re-packed for a product
// that uses each packed element P times, and the padded-rows grid is 1.5-2x junk. Here the
// im2col panels of several images sit side by side (image i at columns [i P, (i + 1) P) of a
// panel with ld = nb P), so one GEMM gets nb P columns (the weight gradient a reduction of
// length nb P); outputs and output gradients pass through a (K/g x nb P) staging buffer (K x P
// per image, small next to the panel's patch x P).
thread_local PackBuffer tls_stage;

// Per tap t of the kernel and output position p of the plane: the input's offset within its
// plane, -1 in the padding (`off`, KV x P); for stride 1 also the inverse, per tap and input
// position the output position reading it or -1 (`inv`, KV x IP: one tap reads each input at
// most once). im2col and col2im through these tables cost one indexed load per element
// (vectorized as gathers: the load is unconditional at a clamped index, then selected); the
// row-run walk (im2col_tile) pays per run of one output row, which at 2 x 2 or 4 x 4 planes is
// 2-4 elements. Offsets are int32 (batch_lowering requires planes under 2^31).
struct TapTable {
  std::vector<int32_t> off, inv;
  explicit TapTable(const ConvGeometry& g) : off(tap_input_positions(g)) {
    if (g.stride[0] == 1 && g.stride[1] == 1 && g.stride[2] == 1)
      inv = tap_output_positions(g, off);
  }
};

// col[(c, t)][p] (row stride ld) = x[c].plane[off[t][p]] (0 where off < 0), x the group's first
// channel of one image.
template <typename T>
void im2col_table(const ConvGeometry& g, const TapTable& tab, const T* x, T* col, int64_t ld) {
  const int64_t KV = g.kernel_volume(), P = g.out_plane(), IP = g.in_plane();
  for (int64_t c = 0; c < g.group_in(); ++c) {
    const T* xc = x + c * IP;
    for (int64_t t = 0; t < KV; ++t) {
      const int32_t* o = tab.off.data() + t * P;
      T* d = col + (c * KV + t) * ld;
      for (int64_t p = 0; p < P; ++p) {
        const int32_t q = o[p];
        const T v = xc[q < 0 ? 0 : q];
        d[p] = q < 0 ? T(0) : v;
      }
    }
  }
}

// The adjoint, overwriting x: x[c].plane[i] = sum over taps t and positions p with
// off[t][p] == i of col[(c, t)][p]. Stride 1: a gather through `inv` (each input written once);
// otherwise zero, then scatter-add.
template <typename T>
void col2im_table(const ConvGeometry& g, const TapTable& tab, const T* col, int64_t ld, T* x) {
  const int64_t KV = g.kernel_volume(), P = g.out_plane(), IP = g.in_plane();
  for (int64_t c = 0; c < g.group_in(); ++c) {
    T* xc = x + c * IP;
    const T* cc = col + c * KV * ld;
    if (!tab.inv.empty()) {
      for (int64_t t = 0; t < KV; ++t) {
        const int32_t* o = tab.inv.data() + t * IP;
        const T* s = cc + t * ld;
        for (int64_t i = 0; i < IP; ++i) {
          const int32_t q = o[i];
          const T v = s[q < 0 ? 0 : q];
          const T add = q < 0 ? T(0) : v;
          xc[i] = t == 0 ? add : xc[i] + add;
        }
      }
      continue;
    }
    std::fill(xc, xc + IP, T(0));
    for (int64_t t = 0; t < KV; ++t) {
      const int32_t* o = tab.off.data() + t * P;
      const T* s = cc + t * ld;
      for (int64_t p = 0; p < P; ++p)
        if (o[p] >= 0) xc[o[p]] += s[p];
    }
  }
}

// Images per panel: as many as fit `budget` bytes, balanced over the chunks. Budgets measured
// on ResNet-18's 8 x 8 .. 2 x 2 layers at 1 thread (sweep of 256 KiB .. 16 MiB, bench/NOTES.md):
// the forward is fastest with panels near L2 (1 MiB), the input gradient at 2 MiB, the weight
// gradient (whose GEMM output stays put while k grows) at 4 MiB and above.
constexpr int64_t kForwardPanelBytes = 1 << 20, kInputPanelBytes = 2 << 20,
                  kWeightPanelBytes = 4 << 20;
int64_t batch_chunk(const ConvGeometry& g, int64_t elem_bytes, int64_t budget) {
  const int64_t per_image = std::max<int64_t>(1, g.patch() * g.out_plane() * elem_bytes);
  const int64_t per = std::clamp<int64_t>(budget / per_image, 1, g.batch);
  return ceil_div(g.batch, ceil_div(g.batch, per));
}

// Whole-batch lowering applies to output planes of at most kBatchMaxPlane positions (8 x 8:
// measured faster there for all three products, slower at 16 x 16 where one image already gives
// the GEMM 256 columns). FASTDL_CONV_BATCH=0 / 1 forces it off / on (benchmarks alternate paths).
constexpr int64_t kBatchMaxPlane = 64;
// For the forward and input gradient of a stride-1 convolution with 17..64 output positions
// (8 x 8) the padded-rows path is as fast at 1 thread and ~20% faster at 2 (ResNet-18's layer2:
// 2.1 vs 2.5 ms), so there the batch path takes only planes of <= 16 positions (forward). Since
// the padded rows walk whole output segments and pack their weights without a fresh buffer, the
// input gradient at 4 x 4 (layer3) is theirs too: 3.8-4.0 vs 4.8-5.5 ms on the batch path
// (1 thread, CPU time, interleaved medians); the forward there stays on the batch path (3.5 vs
// 3.8 ms in the same runs; earlier runs had them even).
constexpr int64_t kBatchMaxPlaneStride1 = 16, kBatchMaxPlaneStride1Input = 8;

}  // namespace

bool batch_lowering(const ConvGeometry& g, Product product) {
  if (g.in_plane() >= (int64_t(1) << 31)) return false;  // TapTable's int32 offsets
  const char* env = std::getenv("FASTDL_CONV_BATCH");
  if (env && *env) return *env != '0';
  const bool unit = g.stride[0] == 1 && g.stride[1] == 1 && g.stride[2] == 1;
  const int64_t limit = product == Product::weight || !unit ? kBatchMaxPlane
                        : product == Product::input         ? kBatchMaxPlaneStride1Input
                                                            : kBatchMaxPlaneStride1;
  return g.out_plane() <= limit;
}

namespace {

// Runs body(worker, n0, nb, gi, tab, col, stage, gemm_threads) for the panels of images
// [n0, n0 + nb) and group gi. With several threads and at least as many images, each thread
// takes a contiguous range of images and runs its panels alone (one parallel region per call,
// no barrier between im2col, GEMM and scatter: on a shared core a barrier costs a time slice);
// otherwise one worker runs every panel with the GEMM on all threads.
template <typename T, typename Body>
void for_each_batch_panel(const ConvGeometry& g, int threads, int workers, int64_t budget,
                          Body&& body) {
  const int64_t per = batch_chunk(g, sizeof(T), budget);
  const int64_t R = g.patch(), Kg = g.group_out(), P = g.out_plane();
  const TapTable tab(g);
  const int gemm_threads = workers > 1 ? 1 : threads;
  parallel_tasks(workers, workers, false, [&](int64_t worker) {
    const int64_t n_begin = g.batch * worker / workers, n_end = g.batch * (worker + 1) / workers;
    T* col = tls_col.get<T>(R * per * P);
    T* stage = tls_stage.get<T>(Kg * per * P);
    for (int64_t n0 = n_begin; n0 < n_end; n0 += per)
      for (int64_t gi = 0; gi < g.groups; ++gi)
        body(worker, n0, std::min(per, n_end - n0), gi, tab, col, stage, gemm_threads);
  });
}

// Threads split the images among them (each running its panels alone) or, with one worker, all
// work inside each panel's GEMM. Split images, each worker packs the whole weight matrix for
// its GEMM; for the gradients at ResNet-18's 2 x 2 outputs (512 channels: 8 images x 4 = 32
// columns per worker at 2 threads) that packing outweighs the product, and one worker with a
// 2-thread GEMM is faster: layer4's 3 x 3 input gradient 2.2 vs 2.6 ms, weight gradient 2.2 vs
// 3.8-5.3 ms (2 threads, medians, bench/NOTES.md). The forward (1 MiB panels: two panels of 8
// images at 1 thread already) keeps splitting images (1.6 vs 1.8 ms there).
constexpr int64_t kMinWorkerColumns = 64;
int batch_workers(const ConvGeometry& g, int threads, Product product) {
  if (threads <= 1 || g.batch < threads) return 1;
  if (product != Product::forward && g.batch / threads * g.out_plane() < kMinWorkerColumns)
    return 1;
  return threads;
}

// im2col panel of images [n0, n0 + nb), group gi: image i at columns [i P, (i + 1) P).
template <typename T>
void im2col_panel(const ConvGeometry& g, const TapTable& tab, const T* x, int64_t n0, int64_t nb,
                  int64_t gi, T* col) {
  const int64_t P = g.out_plane(), IP = g.in_plane();
  for (int64_t i = 0; i < nb; ++i)
    im2col_table(g, tab, x + ((n0 + i) * g.in_channels + gi * g.group_in()) * IP, col + i * P,
                 nb * P);
}

// grad_out of images [n0, n0 + nb), group gi -> stage (K/g x nb P).
template <typename T>
void stage_grad_out(const ConvGeometry& g, const T* gout, int64_t n0, int64_t nb, int64_t gi,
                    T* stage) {
  const int64_t Kg = g.group_out(), K = g.out_channels, P = g.out_plane(), cols = nb * P;
  for (int64_t i = 0; i < nb; ++i)
    for (int64_t k = 0; k < Kg; ++k) {
      const T* s = gout + ((n0 + i) * K + gi * Kg + k) * P;
      std::copy(s, s + P, stage + k * cols + i * P);
    }
}

}  // namespace

template <typename T>
void batched_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* out,
                     int threads) {
  const int64_t Kg = g.group_out(), R = g.patch(), K = g.out_channels, P = g.out_plane();
  for_each_batch_panel<T>(g, threads, batch_workers(g, threads, Product::forward),
                          kForwardPanelBytes,
                          [&](int64_t, int64_t n0, int64_t nb, int64_t gi, const TapTable& tab,
                              T* col, T* stage, int gemm_threads) {
    const int64_t cols = nb * P;
    im2col_panel(g, tab, x, n0, nb, gi, col);
    gemm<T>(Kg, cols, R, T(1), {w + gi * Kg * R, R, 1}, {col, cols, 1}, T(0), {stage, cols, 1},
            gemm_threads);
    for (int64_t i = 0; i < nb; ++i)
      for (int64_t k = 0; k < Kg; ++k) {
        const T* s = stage + k * cols + i * P;
        T* o = out + ((n0 + i) * K + gi * Kg + k) * P;
        const T b0 = bias ? bias[gi * Kg + k] : T(0);
        for (int64_t p = 0; p < P; ++p) o[p] = s[p] + b0;
      }
  });
}

template <typename T>
void batched_backward_input(const ConvGeometry& g, const T* gout, const T* w, T* gin,
                            int threads) {
  const int64_t Cg = g.group_in(), Kg = g.group_out(), R = g.patch();
  const int64_t C = g.in_channels, IP = g.in_plane(), P = g.out_plane();
  for_each_batch_panel<T>(g, threads, batch_workers(g, threads, Product::input),
                          kInputPanelBytes,
                          [&](int64_t, int64_t n0, int64_t nb, int64_t gi, const TapTable& tab,
                              T* col, T* stage, int gemm_threads) {
    const int64_t cols = nb * P;
    stage_grad_out(g, gout, n0, nb, gi, stage);
    gemm<T>(R, cols, Kg, T(1), {w + gi * Kg * R, 1, R}, {stage, cols, 1}, T(0), {col, cols, 1},
            gemm_threads);
    for (int64_t i = 0; i < nb; ++i) {
      col2im_table(g, tab, col + i * P, cols, gin + ((n0 + i) * C + gi * Cg) * IP);
    }
  });
}

// Worker 0 writes grad_weight, the others their own accumulators, added in worker order after
// the region (deterministic for a given thread count).
template <typename T>
void batched_backward_weight(const ConvGeometry& g, const T* x, const T* gout, T* gw,
                             int threads) {
  const int64_t Kg = g.group_out(), R = g.patch(), P = g.out_plane(), size = g.out_channels * R;
  const int workers = batch_workers(g, threads, Product::weight);
  std::unique_ptr<T[]> acc(workers > 1 ? new T[size_t((workers - 1) * size)] : nullptr);
  std::vector<int64_t> first(size_t(workers), -1);  // each worker's first image
  for (int w = 0; w < workers; ++w) first[size_t(w)] = g.batch * w / workers;
  for_each_batch_panel<T>(g, threads, workers, kWeightPanelBytes,
                          [&](int64_t worker, int64_t n0, int64_t nb, int64_t gi,
                              const TapTable& tab, T* col, T* stage, int gemm_threads) {
    const int64_t cols = nb * P;
    im2col_panel(g, tab, x, n0, nb, gi, col);
    stage_grad_out(g, gout, n0, nb, gi, stage);
    T* dst = worker == 0 ? gw : acc.get() + (worker - 1) * size;
    // gW_g^T (patch x K/g) (+)= col @ stage^T, written through the transposed view of gW_g
    gemm<T>(R, Kg, cols, T(1), {col, cols, 1}, {stage, 1, cols},
            n0 == first[size_t(worker)] ? T(0) : T(1), {dst + gi * Kg * R, 1, R}, gemm_threads);
  });
  for (int w = 1; w < workers; ++w) {
    const T* a = acc.get() + (w - 1) * size;
    for (int64_t i = 0; i < size; ++i) gw[i] += a[i];
  }
}

#define FASTDL_INSTANTIATE_IM2COL(T)                                                               \
  template void im2col_tile<T>(const ConvGeometry&, const T*, int64_t, int64_t, T*);               \
  template void col2im_tile_add<T>(const ConvGeometry&, const T*, int64_t, int64_t, T*);           \
  template void batched_forward<T>(const ConvGeometry&, const T*, const T*, const T*, T*, int);    \
  template void batched_backward_input<T>(const ConvGeometry&, const T*, const T*, T*, int);       \
  template void batched_backward_weight<T>(const ConvGeometry&, const T*, const T*, T*, int);
FASTDL_INSTANTIATE_IM2COL(float)
FASTDL_INSTANTIATE_IM2COL(double)
#undef FASTDL_INSTANTIATE_IM2COL

}  // namespace fastdl::cpu::FASTDL_ISA::conv_detail
