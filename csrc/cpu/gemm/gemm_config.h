#pragma once
// Register and cache blocking for the GEMM (float and double): every tile and block size lives here.
// Included only by per-ISA sources (FASTDL_ISA_<name> is defined), so each ISA gets its own set.
//
// Notation (BLIS): C (m x n) += A (m x k) B (k x n) is cut into MC-tall row blocks of A,
// KC-deep slices of k and NC-wide column blocks of B. Each thread packs an MC x KC block of A
// (L3) once per (ic, pc) and a KC x NC block of B (L2) once per (ic, pc, jc). The micro-kernel
// multiplies an MR x KC sliver of packed A by a KC x NR sliver of packed B into an MR x NR tile
// of C held in registers; the A sliver stays in L1 while the inner loop walks all NC / NR B
// slivers, which stream from L2 (the arrangement of BLIS's Skylake-X kernels, transposed:
// there the broadcast operand is B and the vector operand is A).
//
// Machine this was tuned on: Xeon (Sapphire Rapids class), 48 KiB L1d, 2 MiB L2 per core,
// shared L3. See bench/NOTES.md ("GEMM") for the measurements behind these numbers.
#include <cstdint>

namespace fastdl::cpu::FASTDL_ISA::gemm_config {

// Register and cache blocking per element type: Blocking<float> and Blocking<double> give MR, NR
// (elements), KC, MC, NC. The double blocks keep the float ones' register counts and byte sizes:
// a double vector holds half the lanes, so the same MR rows x NV vectors tile is MR x NR/2
// elements, and KC halves so that an A sliver, a B sliver and the B block stay the bytes that
// were tuned for L1 and L2 (bench/NOTES.md, "fp64 GEMM").
template <typename T>
struct Blocking;

// FASTDL_GEMM_{KC,MC,NC} (and FASTDL_GEMM_MR / FASTDL_GEMM_NR for AVX-512) override the float
// blocking at build time, for tuning experiments only (bench/NOTES.md).
#if defined(FASTDL_GEMM_KC) && defined(FASTDL_GEMM_MC) && defined(FASTDL_GEMM_NC)
#define FASTDL_GEMM_FLOAT_BLOCKS(kc, mc, nc)           \
  static constexpr int64_t KC = FASTDL_GEMM_KC;        \
  static constexpr int64_t MC = FASTDL_GEMM_MC;        \
  static constexpr int64_t NC = FASTDL_GEMM_NC;
#else
#define FASTDL_GEMM_FLOAT_BLOCKS(kc, mc, nc) \
  static constexpr int64_t KC = kc;          \
  static constexpr int64_t MC = mc;          \
  static constexpr int64_t NC = nc;
#endif

#if defined(FASTDL_ISA_avx512)
// 8 x 48: 24 zmm accumulators (2 FMA pipes x 4-cycle latency = 8 needed); per k step 3 loads of
// B + 8 broadcasts of A for 24 FMAs, 0.46 loads per FMA where 8 x 32 needs 0.63. With quiet
// neighbours both run near the FMA peak; when the host's other tenant shares the core (it
// takes load and cache bandwidth, not FMA pipes) 8 x 48 kept 6-11% more (bench/NOTES.md, GEMM;
// MKL's AVX-512 sgemm uses the same 48 x 8 shape). Edge slivers run with one or two vectors.
// 12 x 32 measured slower in this loop order, and M = 32 (a common batch size) tiles exactly
// by 8.
// KC: the A sliver KC x MR x 4 B = 16 KiB; the B slivers it meets (96 KiB each) stream
//     through L1 from L2 (prefetcher-friendly, contiguous). Longer k slices mean fewer
//     read-modify-write passes over C (k = 1024: 2 instead of 3 at KC 384; +1-2% measured,
//     bench/NOTES.md, GEMM); KC 768/1024 measured no better / 3-5% worse.
// NC: the B block KC x NC x 4 B = 960 KiB, about half of the 2 MiB L2.
// MC: the A block MC x KC x 4 B = 4 MiB (L3). Each B block is packed once per MC block, so
//     MC trades B packing passes against the per-thread buffer size; 2048 (one block at
//     m = 2048 instead of two) measured +1.4-3.3% at 2048^3 on 1 thread (bench/NOTES.md, GEMM).
template <>
struct Blocking<float> {
#ifdef FASTDL_GEMM_MR
  static constexpr int MR = FASTDL_GEMM_MR;
#else
  static constexpr int MR = 8;
#endif
#ifdef FASTDL_GEMM_NR
  static constexpr int NR = FASTDL_GEMM_NR;
#else
  static constexpr int NR = 48;
#endif
  FASTDL_GEMM_FLOAT_BLOCKS(512, 2048, 480)
};
// 8 x 24 doubles: the float tile's 8 rows x 3 zmm (24 accumulators, 3 B vectors, a broadcast:
// 28 of 32 registers), so the same loads per FMA. KC 256: the A sliver 256 x 8 x 8 B = 16 KiB and
// a B sliver 48 KiB, as for float; B block 256 x 480 x 8 B = 960 KiB; A block 4 MiB.
template <>
struct Blocking<double> {
  static constexpr int MR = 8;
  static constexpr int NR = 24;
  static constexpr int64_t KC = 256, MC = 2048, NC = 480;
};
#elif defined(FASTDL_ISA_avx2)
// 6 x 16: 12 ymm accumulators + 2 B vectors + 1 broadcast = 15 of 16 ymm registers.
template <>
struct Blocking<float> {
  static constexpr int MR = 6;
  static constexpr int NR = 16;
  FASTDL_GEMM_FLOAT_BLOCKS(384, 1536, 480)
};
// 6 x 8 doubles: the same 6 rows x 2 ymm, 15 of 16 registers; KC halved to keep the bytes.
template <>
struct Blocking<double> {
  static constexpr int MR = 6;
  static constexpr int NR = 8;
  static constexpr int64_t KC = 192, MC = 1536, NC = 480;
};
#else
// Portable (SSE2 on x86-64, NEON on aarch64 through GCC vector extensions): 6 rows x 2 vectors of
// 16 bytes (6 x 8 floats, 6 x 4 doubles), 12 accumulators, fits 16 vector registers.
template <>
struct Blocking<float> {
  static constexpr int MR = 6;
  static constexpr int NR = 8;
  FASTDL_GEMM_FLOAT_BLOCKS(256, 1536, 480)
};
template <>
struct Blocking<double> {
  static constexpr int MR = 6;
  static constexpr int NR = 4;
  static constexpr int64_t KC = 128, MC = 1536, NC = 480;
};
#endif

#undef FASTDL_GEMM_FLOAT_BLOCKS

#if defined(FASTDL_ISA_avx512) || defined(FASTDL_ISA_avx2)
// Paths that read A (and B) in place, for the ISAs with an in-place micro-kernel; measured on
// the AVX-512 path, then checked on AVX2 (bench/NOTES.md, GEMM).
// Single-thread products with row-major A and B, k <= KC and B no larger than this (48 KiB, the
// L1) skip packing: the micro-kernel reads A and B in place (bench/NOTES.md, GEMM). Packing pays
// only when each element is reused often enough; above this size it measured faster.
inline constexpr int64_t kInPlaceMaxBBytes = 49152;
// Products with at most this many columns (8 slivers) read A in place and pack only B, over the
// whole of k, if that packed B fits kNarrowMaxPackedBBytes (1 MiB, half the L2); threads take
// blocks of at most kNarrowRowsPerTask rows, and at least kNarrowTasksPerThread blocks each when
// m is short, so both threads get work (bench/NOTES.md, GEMM: +13-34% up to 288 columns, +10% at
// 384, +6% / -4% (1 / 2 threads) at 480).
#ifndef FASTDL_NARROW_COLS
#define FASTDL_NARROW_COLS 384
#endif
inline constexpr int64_t kNarrowMaxColumns = FASTDL_NARROW_COLS;
inline constexpr int64_t kNarrowMaxPackedBBytes = 1 << 20;
inline constexpr int64_t kNarrowRowsPerTask = 64;
inline constexpr int64_t kNarrowTasksPerThread = 4;
// ... and prefetch the next row block of A in software when k is at least this (bench/NOTES.md,
// GEMM: +8-27% at k = 512-1024, a loss below k = 128).
inline constexpr int64_t kNarrowPrefetchMinK = 256;
#endif
// Products with m <= kTransposedNarrowMaxRows and k >= kTransposedNarrowMinK that are not narrow
// themselves run transposed through the narrow path when that fits (ISAs with an in-place
// kernel; bench/NOTES.md, GEMM: 1.2-2.2x for x @ W.T with 16-64 rows and k >= 512, a loss with
// shorter k or more rows).
inline constexpr int64_t kTransposedNarrowMaxRows = 64;
inline constexpr int64_t kTransposedNarrowMinK = 512;

static_assert(Blocking<float>::MC % Blocking<float>::MR == 0, "MC must be a multiple of MR");
static_assert(Blocking<float>::NC % Blocking<float>::NR == 0, "NC must be a multiple of NR");
static_assert(Blocking<double>::MC % Blocking<double>::MR == 0, "MC must be a multiple of MR");
static_assert(Blocking<double>::NC % Blocking<double>::NR == 0, "NC must be a multiple of NR");

// On several threads, products with at least this many B slivers per thread take their columns
// at run time even where the static grid would split m, if the grid's cost model rates that no
// dearer (at 2 threads: m <= n; a core shared with another job then takes less of the
// work; bench/NOTES.md, GEMM).
inline constexpr int64_t kWideColumnsPerThread = 8;

// Products below this many flops run on one thread: an OpenMP fork/join costs a few
// microseconds, about what one core needs for 2 * 96^3 flops.
inline constexpr double kMinFlopsPerThread = 2.0 * 96 * 96 * 96;

}  // namespace fastdl::cpu::FASTDL_ISA::gemm_config
