#pragma once
// Register and cache blocking for the fp32 GEMM: every tile and block size lives here.
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

// FASTDL_GEMM_{KC,MC,NC} (and FASTDL_GEMM_MR / FASTDL_GEMM_NR for AVX-512) override the blocking at build time,
// for tuning experiments only (bench/NOTES.md).
#if defined(FASTDL_GEMM_KC) && defined(FASTDL_GEMM_MC) && defined(FASTDL_GEMM_NC)
#define FASTDL_GEMM_BLOCKS(kc, mc, nc)          \
  inline constexpr int64_t KC = FASTDL_GEMM_KC; \
  inline constexpr int64_t MC = FASTDL_GEMM_MC; \
  inline constexpr int64_t NC = FASTDL_GEMM_NC;
#else
#define FASTDL_GEMM_BLOCKS(kc, mc, nc) \
  inline constexpr int64_t KC = kc;    \
  inline constexpr int64_t MC = mc;    \
  inline constexpr int64_t NC = nc;
#endif

#if defined(FASTDL_ISA_avx512)
// 8 x 48: 24 zmm accumulators (2 FMA pipes x 4-cycle latency = 8 needed); per k step 3 loads of
// B + 8 broadcasts of A for 24 FMAs, 0.46 loads per FMA where 8 x 32 needs 0.63. With quiet
// neighbours both run near the FMA peak; when the host's other tenant shares the core (it
// takes load and cache bandwidth, not FMA pipes) 8 x 48 kept 6-11% more (bench/NOTES.md v18;
// MKL's AVX-512 sgemm uses the same 48 x 8 shape). Edge slivers run with one or two vectors.
// 12 x 32 measured slower in this loop order, and M = 32 (a common batch size) tiles exactly
// by 8.
#ifdef FASTDL_GEMM_MR
inline constexpr int MR = FASTDL_GEMM_MR;
#else
inline constexpr int MR = 8;
#endif
#ifdef FASTDL_GEMM_NR
inline constexpr int NR = FASTDL_GEMM_NR;
#else
inline constexpr int NR = 48;
#endif
// KC: the A sliver KC x MR x 4 B = 16 KiB; the B slivers it meets (96 KiB each) stream
//     through L1 from L2 (prefetcher-friendly, contiguous). Longer k slices mean fewer
//     read-modify-write passes over C (k = 1024: 2 instead of 3 at KC 384; +1-2% measured,
//     bench/NOTES.md v8); KC 768/1024 measured no better / 3-5% worse.
// NC: the B block KC x NC x 4 B = 960 KiB, about half of the 2 MiB L2.
// MC: the A block MC x KC x 4 B = 4 MiB (L3). Each B block is packed once per MC block, so
//     MC trades B packing passes against the per-thread buffer size; 2048 (one block at
//     m = 2048 instead of two) measured +1.4-3.3% at 2048^3 on 1 thread (bench/NOTES.md v14).
FASTDL_GEMM_BLOCKS(512, 2048, 480)
#elif defined(FASTDL_ISA_avx2)
// 6 x 16: 12 ymm accumulators + 2 B vectors + 1 broadcast = 15 of 16 ymm registers.
inline constexpr int MR = 6;
inline constexpr int NR = 16;
FASTDL_GEMM_BLOCKS(384, 1536, 480)
#else
// Portable (SSE2 on x86-64, NEON on aarch64 through GCC vector extensions): 6 x 8 with 4-wide
// vectors, 12 accumulators, fits 16 vector registers.
inline constexpr int MR = 6;
inline constexpr int NR = 8;
FASTDL_GEMM_BLOCKS(256, 1536, 480)
#endif

#undef FASTDL_GEMM_BLOCKS

#if defined(FASTDL_ISA_avx512) || defined(FASTDL_ISA_avx2)
// Paths that read A (and B) in place, for the ISAs with an in-place micro-kernel; measured on
// the AVX-512 path, then checked on AVX2 (bench/NOTES.md v28).
// Single-thread products with row-major A and B, k <= KC and B no larger than this (48 KiB, the
// L1) skip packing: the micro-kernel reads A and B in place (bench/NOTES.md v21). Packing pays
// only when each element is reused often enough; above this size it measured faster.
inline constexpr int64_t kInPlaceMaxBFloats = 12288;
// Products with at most this many columns (8 slivers) read A in place and pack only B, over the
// whole of k, if that packed B fits kNarrowMaxPackedB floats (1 MiB, half the L2); threads take
// blocks of at most kNarrowRowsPerTask rows, and at least kNarrowTasksPerThread blocks each when
// m is short (bench/NOTES.md v22, v24: +13-34% up to 288 columns, +10% at 384, +6% / -4% (1 / 2
// threads) at 480; v32 for the short-m rule).
#ifndef FASTDL_NARROW_COLS
#define FASTDL_NARROW_COLS 384
#endif
inline constexpr int64_t kNarrowMaxColumns = FASTDL_NARROW_COLS;
inline constexpr int64_t kNarrowMaxPackedB = 262144;
inline constexpr int64_t kNarrowRowsPerTask = 64;
inline constexpr int64_t kNarrowTasksPerThread = 4;
// ... and prefetch the next row block of A in software when k is at least this (bench/NOTES.md
// v23: +8-27% at k = 512-1024, a loss below k = 128).
inline constexpr int64_t kNarrowPrefetchMinK = 256;
#endif
// Products with m <= kTransposedNarrowMaxRows and k >= kTransposedNarrowMinK that are not narrow
// themselves run transposed through the narrow path when that fits (ISAs with an in-place
// kernel; bench/NOTES.md v30: 1.2-2.2x for x @ W.T with 16-64 rows and k >= 512, a loss with
// shorter k or more rows).
inline constexpr int64_t kTransposedNarrowMaxRows = 64;
inline constexpr int64_t kTransposedNarrowMinK = 512;

static_assert(MC % MR == 0, "MC must be a multiple of MR");
static_assert(NC % NR == 0, "NC must be a multiple of NR");

// On several threads, products with at least this many B slivers per thread take their columns
// at run time even where the static grid would split m, if the grid's cost model rates that no
// dearer (at 2 threads: m <= n; bench/NOTES.md v33).
inline constexpr int64_t kWideColumnsPerThread = 8;

// Products below this many flops run on one thread: an OpenMP fork/join costs a few
// microseconds, about what one core needs for 2 * 96^3 flops.
inline constexpr double kMinFlopsPerThread = 2.0 * 96 * 96 * 96;

}  // namespace fastdl::cpu::FASTDL_ISA::gemm_config
