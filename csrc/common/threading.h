#pragma once
// Kernel thread count. Every parallel region passes num_threads() explicitly, so the setting is
// global (not per calling thread, as omp_set_num_threads would be).
#include <cstdint>

namespace fastdl {

int num_threads();
void set_num_threads(int n);  // n >= 1
int max_hardware_threads();

}  // namespace fastdl
