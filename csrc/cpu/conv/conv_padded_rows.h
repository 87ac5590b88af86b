#pragma once
// The padded-rows engine (conv_padded_rows_kernels.cpp: the method, the offset micro-kernel, the
// padded and space-to-depth inputs), shared with conv_padded_rows_strided_kernels.cpp, which runs
// strided convolutions on it. Included only by per-ISA sources.
#include <cstdint>
#include <cstdlib>
#include <utility>
#include <vector>

#include "cpu/conv/conv_kernels_common.h"

namespace fastdl::cpu::FASTDL_ISA::conv_detail {

#if defined(FASTDL_ISA_avx512)
constexpr int kTileRows = 8, kTileVectors = 3;  // 24 accumulators + 3 B vectors + a broadcast
#elif defined(FASTDL_ISA_avx2)
constexpr int kTileRows = 4, kTileVectors = 3;  // 12 + 3 + 1 of 16 ymm registers
#else
constexpr int kTileRows = 4, kTileVectors = 4;  // scalars
#endif

// The padded-grid layout of one convolution (stride 1). Input element 0 lands at grid index
// `offset` (the left padding; negative: the input's first elements are cut), the grid spans
// out + dilation (kernel - 1) per dim. Output (od, oh, ow) is written at
// ((od * step0 + phase0) * full1 + oh * step1 + phase1) * full2 + ow * step2 + phase2 of the
// output plane (step 1, phase 0, full = out for a plain convolution; one phase of a strided
// transposed convolution otherwise).
struct PaddedGrid {
  int64_t dims[3];   // grid dims
  int64_t plane;     // their product
  int64_t q_count;   // grid positions up to the last real output
  int64_t out[3];
  int64_t offset[3], step[3] = {1, 1, 1}, phase[3] = {0, 0, 0}, full[3];
  std::vector<int64_t> off;  // per patch row r = (c, kd, kh, kw)

  explicit PaddedGrid(const ConvGeometry& g) : PaddedGrid(g, g.pad) {}
  PaddedGrid(const ConvGeometry& g, const int64_t left[3]) {
    for (int i = 0; i < 3; ++i) {
      out[i] = full[i] = g.out[i];
      dims[i] = g.out[i] + g.dilation[i] * (g.kernel[i] - 1);
      offset[i] = left[i];
    }
    plane = dims[0] * dims[1] * dims[2];
    q_count = ((out[0] - 1) * dims[1] + out[1] - 1) * dims[2] + out[2];
    off.reserve(size_t(g.patch()));
    for (int64_t c = 0; c < g.group_in(); ++c)
      for (int64_t kd = 0; kd < g.kernel[0]; ++kd)
        for (int64_t kh = 0; kh < g.kernel[1]; ++kh)
          for (int64_t kw = 0; kw < g.kernel[2]; ++kw)
            off.push_back(c * plane + (kd * g.dilation[0] * dims[1] + kh * g.dilation[1]) *
                                          dims[2] + kw * g.dilation[2]);
  }

  int64_t position(int64_t od, int64_t oh, int64_t ow) const {
    return ((od * step[0] + phase[0]) * full[1] + oh * step[1] + phase[1]) * full[2] +
           ow * step[2] + phase[2];
  }

  // Runs of real outputs among grid positions [q0, q0 + width): (column in the run, output
  // position of its first element, length; the outputs of a run are step[2] apart).
  struct Run {
    int64_t column, position, length;
  };
  void runs(int64_t q0, int64_t width, std::vector<Run>& out_runs) const {
    out_runs.clear();
    const int64_t end = std::min(q0 + width, q_count);
    for (int64_t q = q0; q < end;) {
      const int64_t row = q / dims[2], ow = q % dims[2];
      const int64_t run = std::min(dims[2] - ow, end - q);
      const int64_t oh = row % dims[1], od = row / dims[1];
      if (ow < out[2] && oh < out[1] && od < out[0])
        out_runs.push_back({q - q0, position(od, oh, ow), std::min(run, out[2] - ow)});
      q += run;
    }
  }
};

// Packed weights: per group, ceil(Kg / NW) slivers of patch x NW output channels (zero columns
// past Kg), the forward's vector operand, read in order. The storage is kept per thread and
// slot (a call packs up to one set per phase): a fresh zeroed std::vector per call cost ~0.8 ms
// of page faults and zeroing at ResNet-18's layer3 (2.4 MB of weights for a 3 ms convolution).
template <typename T>
int64_t packed_size(const ConvGeometry& g) {
  constexpr int64_t NW = kTileVectors * Vec<T>::L;
  return g.groups * ceil_div(g.group_out(), NW) * g.patch() * NW;
}
template <typename T>
T* packed_storage(size_t slot, int64_t count);

// The weights in the forward's packed layout (pack_weight_slivers, conv_padded_rows_kernels.cpp),
// on up to `threads` threads.
template <typename T>
void pack_weight_slivers(const ConvGeometry& g, const T* w, int64_t gstride, int64_t kstride,
                         const std::vector<int64_t>& roff, T* packed, int threads);

// roff[r] = r: rows stored in order.
inline std::vector<int64_t> identity_rows(int64_t R) {
  std::vector<int64_t> roff(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; ++r) roff[size_t(r)] = r;
  return roff;
}

// Images per padded-rows task: a chunk of images shares each block of packed weights (read
// from L2 once per chunk and output-channel block instead of once per image: at 4 x 4 one image
// is 2 tiles, and the 2.4 MB of layer3's weights came from L3 for 16 positions). Padded chunks
// up to kRowsChunkBytes; the chunk count is a multiple of the thread count (equal work per
// thread) when there are enough images.
constexpr int64_t kRowsChunkBytes = 512 * 1024;
struct ImageChunks {
  int64_t count, batch;
  ImageChunks(const ConvGeometry& g, int64_t image_bytes, int threads) : batch(g.batch) {
    const char* env = std::getenv("FASTDL_CONV_ROWS_CHUNK");  // bytes; benchmarks sweep it
    const int64_t budget = env && *env ? std::atoll(env) : kRowsChunkBytes;
    const int64_t per = std::clamp<int64_t>(budget / std::max<int64_t>(image_bytes, 1), 1,
                                            g.batch);
    count = ceil_div(g.batch, per);
    const int64_t t = std::max(threads, 1);
    if (g.batch >= t) count = std::min(g.batch, round_up(count, t));
  }
  int64_t begin(int64_t c) const { return batch * c / count; }
  int64_t end(int64_t c) const { return batch * (c + 1) / count; }
};

// One stride-1 convolution g of x on `grid` with weights w, prepared once per call: packed
// weights and the output position of every grid position. Each output is written once (bias
// added), at the grid's output positions of planes of P elements (P = g.out_plane() for a plain
// convolution).
template <typename T>
struct PaddedPlan {
  ConvGeometry g;
  PaddedGrid grid;
  const T* packed;  // pack_weight_slivers' layout
  // Per tile: the grid index of each of its two segments of kSegment positions, and the output
  // position of each of its kTileRows lanes (-1: junk, not stored).
  std::vector<int64_t> base, position;
  int64_t tiles, P;
  const T* bias;
  // Set for a strided convolution run as its space-to-depth twin (strided_forward): the
  // original geometry, whose input is rearranged into g's channels instead of padded.
  const ConvGeometry* strided = nullptr;

  static constexpr int64_t kSegment = kTileRows / 2;
  PaddedPlan(const ConvGeometry& g_, PaddedGrid grid_, const T* packed_, const T* bias_,
             int64_t P_);

  int64_t image_bytes() const { return g.group_in() * grid.plane * int64_t(sizeof(T)); }

  // Task (images [n0, n0 + nb), group gi): their padded inputs, then per output-channel block
  // and k block every image's tiles.
  void run(const T* x, T* out, int64_t n0, int64_t nb, int64_t gi) const;
};

extern template struct PaddedPlan<float>;
extern template struct PaddedPlan<double>;

}  // namespace fastdl::cpu::FASTDL_ISA::conv_detail
