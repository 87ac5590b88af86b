// The stride-1 padded-rows implicit GEMM (forward and input gradient), compiled once per ISA.
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <utility>
#include <vector>

#include "cpu/conv/conv_padded_rows.h"

namespace fastdl::cpu::FASTDL_ISA::conv_detail {

// ---- stride-1 implicit GEMM ("padded rows") ----------------------------------------------------
// With stride 1, the input of tap r = (c, kd, kh, kw) for output (od, oh, ow) sits at a constant
// offset off[r] = c * plane + (kd dd * PH + kh dh) * PW + kw dw from position
// q = (od * PH + oh) * PW + ow of the zero-padded input (dims PD, PH, PW). So on the padded grid
// the im2col matrix is B[r][q] = xp[off[r] + q]: every row is a contiguous run of the padded
// image, and the micro-kernel reads it in place through the offset table -- no im2col copy, no
// packing of B. The grid's columns ow >= OW (and rows oh >= OH) are junk outputs, computed and
// dropped (for 3x3 on 56x56: 2 of 58 columns, 3.4%).
//   forward:          out_g (K/g x Q) = W_g (packed MR-row slivers) @ B
//   backward input:   the same forward with the flipped, transposed weights, padding
//                     dilation * (k - 1) - padding (when that is >= 0)
// The weight gradient stays on im2col tiles: the same scheme with B's rows as the broadcast
// operand and grad_out packed per image measured 8-30% slower than the GEMM on im2col tiles
// (bench/NOTES.md, "Convolution").
// Workspace per thread: the padded image of one group (C/g planes + kGridSlack elements); shared:
// the packed weights and the grid's offset and position tables.

namespace {

// k (patch) block of the forward: a packed weight block of kKBlock x NW streams from L2. Every
// block after the first re-reads and re-writes the outputs through the scalar scatter, so one
// block covers ResNet's patches up to 3 x 3 x 256 (layer2 fwd 3.18 -> 3.06 ms with 1152 instead
// of 1024; 96 .. 384 were 5-35% slower); a 2304 x 48 block is 442 KiB of the 1 MiB L2.
constexpr int64_t kKBlock = 2304;

// tile[i][j] = sum_p b[off[p] + i] * w[p][j] for MR grid positions i and NV vectors of output
// channels j: the weights (packed [p][NW], read in order) are the vector operand, the padded
// input the broadcast one (MR consecutive elements per k step, one cache line).
// The MR positions are two segments of MR / 2 consecutive grid positions, at b0 and b1 (b1 =
// b0 + MR / 2 when the tile is one run of the grid).
template <typename T, int MR, int NV>
[[gnu::noinline]] void offset_kernel(int64_t kc, const T* __restrict w, const T* b0,
                                     const T* b1, const int64_t* __restrict off,
                                     T* __restrict tile) {
  using S = Vec<T>;
  constexpr int L = S::L, NW = kTileVectors * L, SEG = MR / 2;
  typename S::V acc[MR][NV];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = S::zero();
  for (int64_t p = 0; p < kc; ++p) {
    const T* bp0 = b0 + off[p];
    const T* bp1 = b1 + off[p];
    typename S::V wv[NV];
    for (int v = 0; v < NV; ++v) wv[v] = S::load(w + p * NW + v * L, L);
    for (int i = 0; i < MR; ++i) {
      const typename S::V bi = S::set1(i < SEG ? bp0[i] : bp1[i - SEG]);
      for (int v = 0; v < NV; ++v) acc[i][v] = S::fmadd(bi, wv[v], acc[i][v]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) S::store(tile + i * NW + v * L, acc[i][v], L);
}

}  // namespace

// True when the stride-1 padded-rows path serves this geometry with these threads: stride 1,
// enough (image, group) tasks for every thread, and a patch worth the offset table.
// FASTDL_CONV_IM2COL=1 turns the path off (for measuring one path against the other).
bool padded_rows_applies(const ConvGeometry& g, int threads) {
  // read per call (a few hundred ns against a convolution) so a benchmark can alternate paths
  const char* disabled = std::getenv("FASTDL_CONV_IM2COL");
  if (disabled && *disabled && *disabled != '0') return false;
  for (int i = 0; i < 3; ++i)
    if (g.stride[i] != 1) return false;
  return threads <= 1 || split_tasks(g.batch * g.groups, threads);
}

// The same switch and task rule for the strided input gradient's phases.
bool padded_rows_tasks_apply(const ConvGeometry& g, int threads) {
  const char* disabled = std::getenv("FASTDL_CONV_IM2COL");
  if (disabled && *disabled && *disabled != '0') return false;
  return threads <= 1 || split_tasks(g.batch * g.groups, threads);
}

namespace {
// packed_storage's buffers (conv_padded_rows.h: per thread and slot).
thread_local std::vector<std::unique_ptr<PackBuffer>> tls_packed;
}  // namespace
template <typename T>
T* packed_storage(size_t slot, int64_t count) {
  while (tls_packed.size() <= slot) tls_packed.push_back(std::make_unique<PackBuffer>());
  return tls_packed[slot]->get<T>(count);
}

// packed[gi][block][r][j] = w[gi * gstride + k * kstride + roff[r]] for output channel
// k = block * NW + j of group gi and patch row r (roff: one offset per row, so a flipped and
// transposed weight needs no copy and no division per element); in blocks of 128 rows: each
// source row is read 512 bytes at a time and the written block (128 x NW elements, 24 KiB)
// stays in L1. Layer3 (256 x 2304 weights) forward / input gradient, 1 thread, CPU time:
// blocks of 16 rows 4.6 / 3.8 ms (one cache line from each of 48 rows 9 KiB apart), 64 rows
// 3.8-4.2 / 3.5-3.7, 128 rows 3.6-3.7 / 3.3-3.4, 256 rows 3.6-3.8 / 3.7-3.8, whole rows 4.0 / 4.7.
template <typename T>
void pack_weight_slivers(const ConvGeometry& g, const T* w, int64_t gstride, int64_t kstride,
                         const std::vector<int64_t>& roff, T* packed, int threads) {
  constexpr int64_t NW = kTileVectors * Vec<T>::L, RB = 128;
  const int64_t G = g.groups, Kg = g.group_out(), R = g.patch(), blocks = ceil_div(Kg, NW);
  // Blocks of NW output channels on threads once there is enough to copy (ResNet-18's layer4
  // weights, 2.4M elements, were packed on the calling thread while the other thread waited:
  // ~4 ms of a 2-thread training step at 64 x 64).
  const int tasks_threads = G * Kg * R >= (int64_t(1) << 17) ? threads : 1;
  parallel_tasks(G * blocks, tasks_threads, false, [&](int64_t task) {
    const int64_t gi = task / blocks, b = task % blocks;
    T* dst = packed + (gi * blocks + b) * R * NW;
    const int64_t nk = std::min(NW, Kg - b * NW);
    for (int64_t r0 = 0; r0 < R; r0 += RB) {
      const int64_t r1 = std::min(R, r0 + RB);
      for (int64_t j = 0; j < nk; ++j) {
        const T* src = w + gi * gstride + (b * NW + j) * kstride;
        for (int64_t r = r0; r < r1; ++r) dst[r * NW + j] = src[roff[size_t(r)]];
      }
      if (nk < NW)
        for (int64_t r = r0; r < r1; ++r) std::fill(dst + r * NW + nk, dst + (r + 1) * NW, T(0));
    }
  });
}

namespace {

// The group's input channels copied into the zero-padded grid (plus kGridSlack zero elements
// that the last tile's reads may reach).
constexpr int64_t kGridSlack = 64;
// Images [n0, n0 + nb) of group gi side by side (image i at i * Cg * plane).
template <typename T>
T* padded_group(const ConvGeometry& g, const PaddedGrid& grid, const T* x, int64_t n0,
                int64_t nb, int64_t gi) {
  const int64_t Cg = g.group_in(), image = Cg * grid.plane;
  T* xp = tls_col.get<T>(nb * image + kGridSlack);
  const int64_t ones[3] = {1, 1, 1};
  for (int64_t i = 0; i < nb; ++i) {
    const T* xg = x + ((n0 + i) * g.in_channels + gi * Cg) * g.in_plane();
    for (int64_t c = 0; c < Cg; ++c)
      place_volume(xg + c * g.in_plane(), g.in, ones, grid.offset, xp + i * image + c * grid.plane,
                   grid.dims);
  }
  std::fill(xp + nb * image, xp + nb * image + kGridSlack, T(0));
  return xp;
}

// The space-to-depth input of a strided convolution g (stride s per dim, kernel k = s M): for
// images [n0, n0 + nb) of group gi, channel (c, phase r) of the grid holds
// x[c][s a + r - p] at grid position a (0 outside x), so that tap t = s m + r of the original
// kernel reads grid position o + m: a stride-1 convolution with an M-tap kernel over S = s^d
// times the channels (the weights need no zeros: every original tap is one (phase, m)).
template <typename T>
T* space_to_depth_group(const ConvGeometry& g, const PaddedGrid& grid, const T* x, int64_t n0,
                        int64_t nb, int64_t gi) {
  const int64_t S = g.stride[0] * g.stride[1] * g.stride[2];
  const int64_t Cg = g.group_in(), image = Cg * S * grid.plane;
  const int64_t ID = g.in[0], IH = g.in[1], IW = g.in[2];
  T* xp = tls_col.get<T>(nb * image + kGridSlack);
  for (int64_t i = 0; i < nb; ++i) {
    const T* xg = x + ((n0 + i) * g.in_channels + gi * Cg) * g.in_plane();
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t r0 = 0; r0 < g.stride[0]; ++r0)
        for (int64_t r1 = 0; r1 < g.stride[1]; ++r1)
          for (int64_t r2 = 0; r2 < g.stride[2]; ++r2) {
            const int64_t ph = (r0 * g.stride[1] + r1) * g.stride[2] + r2;
            T* dst = xp + i * image + (c * S + ph) * grid.plane;
            const T* src = xg + c * g.in_plane();
            const Range rw = valid_outputs(grid.dims[2], IW, g.stride[2], r2 - g.pad[2]);
            for (int64_t a0 = 0; a0 < grid.dims[0]; ++a0)
              for (int64_t a1 = 0; a1 < grid.dims[1]; ++a1) {
                T* d = dst + (a0 * grid.dims[1] + a1) * grid.dims[2];
                const int64_t id = g.stride[0] * a0 + r0 - g.pad[0];
                const int64_t ih = g.stride[1] * a1 + r1 - g.pad[1];
                if (id < 0 || id >= ID || ih < 0 || ih >= IH) {
                  std::fill(d, d + grid.dims[2], T(0));
                  continue;
                }
                const T* srow = src + (id * IH + ih) * IW + r2 - g.pad[2];
                std::fill(d, d + rw.lo, T(0));
                for (int64_t a2 = rw.lo; a2 < rw.hi; ++a2) d[a2] = srow[g.stride[2] * a2];
                std::fill(d + rw.hi, d + grid.dims[2], T(0));
              }
          }
  }
  std::fill(xp + nb * image, xp + nb * image + kGridSlack, T(0));
  return xp;
}

}  // namespace

template <typename T>
PaddedPlan<T>::PaddedPlan(const ConvGeometry& g_, PaddedGrid grid_, const T* packed_,
                          const T* bias_, int64_t P_)
    : g(g_), grid(std::move(grid_)), packed(packed_), P(P_), bias(bias_) {
  // FASTDL_CONV_SEGMENTS=0 keeps the grid walk (benchmarks alternate the two in one process)
  const char* env = std::getenv("FASTDL_CONV_SEGMENTS");
  if (grid.out[2] % kSegment == 0 && !(env && *env == '0')) {
    // Output rows are whole segments: tiles walk the real outputs only (no junk columns:
    // the grid's dilation * (kernel - 1) extra columns per row cost 12.5% at 16 x 16 and
    // 25% at 8 x 8 for a 3 x 3 kernel), each segment at its own grid row.
    const int64_t O1 = grid.out[1], O2 = grid.out[2];
    const int64_t count = grid.out[0] * O1 * O2;
    tiles = ceil_div(count, kTileRows);
    base.assign(size_t(tiles * 2), 0);
    position.assign(size_t(tiles * kTileRows), -1);
    for (int64_t t = 0; t < tiles; ++t)
      for (int64_t s = 0; s < 2; ++s) {
        const int64_t p = t * kTileRows + s * kSegment;
        if (p >= count) {
          base[size_t(t * 2 + s)] = base[size_t(t * 2)];
          continue;
        }
        const int64_t ow = p % O2, oh = (p / O2) % O1, od = p / (O2 * O1);
        base[size_t(t * 2 + s)] = (od * grid.dims[1] + oh) * grid.dims[2] + ow;
        for (int64_t l = 0; l < kSegment; ++l)
          position[size_t(p + l)] = grid.position(od, oh, ow + l);
      }
    return;
  }
  // Otherwise tiles walk the padded grid, junk columns included.
  tiles = ceil_div(grid.q_count, kTileRows);
  base.resize(size_t(tiles * 2));
  for (int64_t t = 0; t < tiles; ++t)
    base[size_t(t * 2)] = t * kTileRows, base[size_t(t * 2 + 1)] = t * kTileRows + kSegment;
  position.assign(size_t(tiles * kTileRows), -1);
  std::vector<PaddedGrid::Run> runs;
  grid.runs(0, grid.q_count, runs);
  for (const auto& run : runs)
    for (int64_t j = 0; j < run.length; ++j)
      position[size_t(run.column + j)] = run.position + j * grid.step[2];
}

// Task (images [n0, n0 + nb), group gi): their padded inputs, then per output-channel block
// and k block every image's tiles.
template <typename T>
void PaddedPlan<T>::run(const T* x, T* out, int64_t n0, int64_t nb, int64_t gi) const {
  constexpr int MR = kTileRows;
  constexpr int64_t NW = kTileVectors * Vec<T>::L;
  const int64_t Cg = g.group_in(), Kg = g.group_out(), R = g.patch();
  const int64_t blocks = ceil_div(Kg, NW), image = Cg * grid.plane;
  const T* xp0 = strided ? space_to_depth_group(*strided, grid, x, n0, nb, gi)
                         : padded_group(g, grid, x, n0, nb, gi);
  alignas(64) T tile[MR * NW];
  for (int64_t kb = 0; kb < blocks; ++kb) {
    const int64_t nk = std::min(NW, Kg - kb * NW);
    const int nv = int(ceil_div(nk, Vec<T>::L));
    for (int64_t pc = 0; pc < R; pc += kKBlock) {
      const int64_t kc = std::min(kKBlock, R - pc);
      const T* wb = packed + ((gi * blocks + kb) * R + pc) * NW;
      const int64_t* off = grid.off.data() + pc;
      for (int64_t n = 0; n < nb; ++n) {
        const T* xp = xp0 + n * image;
        T* o = out + ((n0 + n) * g.out_channels + gi * Kg) * P;
        for (int64_t t = 0; t < tiles; ++t) {
          const T* b0 = xp + base[size_t(t * 2)];
          const T* b1 = xp + base[size_t(t * 2 + 1)];
          if (nv >= 3) offset_kernel<T, MR, kTileVectors>(kc, wb, b0, b1, off, tile);
          else if (nv == 2) offset_kernel<T, MR, 2>(kc, wb, b0, b1, off, tile);
          else offset_kernel<T, MR, 1>(kc, wb, b0, b1, off, tile);
          const int64_t* pos = position.data() + t * MR;
          for (int64_t j = 0; j < nk; ++j) {
            const int64_t k = kb * NW + j;
            T* orow = o + k * P;
            if (pc == 0) {
              const T add = bias ? bias[gi * Kg + k] : T(0);
              for (int i = 0; i < MR; ++i)
                if (pos[i] >= 0) orow[pos[i]] = tile[i * NW + j] + add;
            } else {
              for (int i = 0; i < MR; ++i)
                if (pos[i] >= 0) orow[pos[i]] += tile[i * NW + j];
            }
          }
        }
      }
    }
  }
}

template struct PaddedPlan<float>;
template struct PaddedPlan<double>;

namespace {

// `packed`: the weights in pack_weight_slivers' layout.
template <typename T>
void padded_rows_forward_packed(const ConvGeometry& g, const T* x, const T* packed,
                                const T* bias, T* out, int threads) {
  const PaddedPlan<T> plan(g, PaddedGrid(g), packed, bias, g.out_plane());
  const ImageChunks chunks(g, plan.image_bytes(), threads);
  parallel_tasks(chunks.count * g.groups, threads, true, [&](int64_t task) {
    const int64_t c = task / g.groups, gi = task % g.groups;
    plan.run(x, out, chunks.begin(c), chunks.end(c) - chunks.begin(c), gi);
  });
}

}  // namespace

template <typename T>
void padded_rows_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* out,
                         int threads) {
  T* packed = packed_storage<T>(0, packed_size<T>(g));
  const int64_t R = g.patch();
  pack_weight_slivers<T>(g, w, g.group_out() * R, R, identity_rows(R), packed, threads);
  padded_rows_forward_packed(g, x, packed, bias, out, threads);
}

// The input gradient of a stride-1 convolution as padded_rows_forward: a convolution of
// grad_out with W'[c][k] = W[k][c] flipped in space, padding dilation * (k - 1) - padding.
// False when that padding would be negative (then the caller takes the col2im path).
template <typename T>
bool padded_rows_backward_input(const ConvGeometry& g, const T* gout, const T* w, T* gin,
                                int threads) {
  ConvGeometry t = g;
  for (int i = 0; i < 3; ++i) {
    t.pad[i] = g.dilation[i] * (g.kernel[i] - 1) - g.pad[i];
    if (t.pad[i] < 0) return false;
    t.in[i] = g.out[i];
    t.out[i] = g.in[i];
  }
  t.in_channels = g.out_channels;
  t.out_channels = g.in_channels;
  if (!padded_rows_forward_applies<T>(t)) return false;
  // packed straight from w: output channel c of group gi, patch row (k, tap) of t is
  // W[gi Kg + k][c][KV - 1 - tap]
  const int64_t Cg = g.group_in(), Kg = g.group_out(), KV = g.kernel_volume();
  T* packed = packed_storage<T>(0, packed_size<T>(t));
  std::vector<int64_t> roff(size_t(Kg * KV));
  for (int64_t k = 0; k < Kg; ++k)
    for (int64_t tap = 0; tap < KV; ++tap) roff[size_t(k * KV + tap)] = k * Cg * KV + KV - 1 - tap;
  pack_weight_slivers<T>(t, w, Kg * Cg * KV, KV, roff, packed, threads);
  padded_rows_forward_packed<T>(t, gout, packed, nullptr, gin, threads);
  return true;
}

#define FASTDL_INSTANTIATE_PADDED_ROWS(T)                                                          \
  template T* packed_storage<T>(size_t, int64_t);                                                  \
  template void pack_weight_slivers<T>(const ConvGeometry&, const T*, int64_t, int64_t,            \
                                       const std::vector<int64_t>&, T*, int);                      \
  template void padded_rows_forward<T>(const ConvGeometry&, const T*, const T*, const T*,          \
                                       T*, int);                                                   \
  template bool padded_rows_backward_input<T>(const ConvGeometry&, const T*, const T*, T*, int);
FASTDL_INSTANTIATE_PADDED_ROWS(float)
FASTDL_INSTANTIATE_PADDED_ROWS(double)
#undef FASTDL_INSTANTIATE_PADDED_ROWS

}  // namespace fastdl::cpu::FASTDL_ISA::conv_detail
