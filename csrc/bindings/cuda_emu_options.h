#pragma once
// The `schedule=`, `seed=` and `workers=` keywords of _C_cudaemu functions.
#include <nanobind/nanobind.h>

#include <string>

#include "cuda_emu/runtime.h"

namespace fastdl::bind {

inline cuda_emu::LaunchOptions emu_launch_options(const std::string& schedule, uint64_t seed,
                                                  int workers) {
  cuda_emu::LaunchOptions options;
  if (schedule == "forward") options.schedule = cuda_emu::Schedule::forward;
  else if (schedule == "reverse") options.schedule = cuda_emu::Schedule::reverse;
  else if (schedule == "random") options.schedule = cuda_emu::Schedule::random;
  else if (schedule == "warp_at_a_time") options.schedule = cuda_emu::Schedule::warp_at_a_time;
  else
    throw nanobind::value_error(("unknown schedule '" + schedule +
                                 "': expected 'forward', 'reverse', 'random' or 'warp_at_a_time'")
                                    .c_str());
  if (workers < 0)
    throw nanobind::value_error(("workers must be >= 0 (0: one per core), got " +
                                 std::to_string(workers)).c_str());
  options.seed = seed;
  options.workers = workers;
  return options;
}

}  // namespace fastdl::bind
