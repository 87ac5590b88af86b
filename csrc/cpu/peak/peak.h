#pragma once
// This machine's peaks, measured in the same run as a benchmark (clocks and neighbours move).

namespace fastdl::cpu {

// FMA throughput (GFLOP/s) of the given SIMD path ("" = active) on `threads` threads, for dtype
// "float32" or "float64" (a double vector holds half the lanes: about half the FLOP/s).
double measure_peak_gflops(const char* isa, int threads, double seconds,
                           const char* dtype = "float32");
// The GEMM micro-kernel alone (operands in L1/L2, no packing, C in L1), GFLOP/s on `threads`
// threads, with dtype's blocking: the most the GEMM can reach on these cores right now.
double measure_microkernel_gflops(const char* isa, int threads, double seconds,
                                  const char* dtype = "float32");
// Read bandwidth (GB/s) over a buffer far larger than the caches, on `threads` threads.
double measure_read_bandwidth_gbs(int threads, double seconds);

}  // namespace fastdl::cpu
