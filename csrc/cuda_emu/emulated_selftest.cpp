// The emulator self-test kernels, compiled by the host compiler.
#include "cuda_emu/selftest_kernels.cu"
