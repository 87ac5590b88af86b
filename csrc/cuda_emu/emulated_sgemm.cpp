// The CUDA SGEMM source, compiled by the host compiler for the emulator.
#include "cuda/gemm/sgemm.cu"
