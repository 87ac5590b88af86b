#include "common/threading.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace fastdl {
namespace {

int initial_threads() {
  for (const char* var : {"FASTDL_NUM_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* env = std::getenv(var); env && *env) {
      int n = std::atoi(env);
      if (n >= 1) return n;
    }
  }
  return max_hardware_threads();
}

std::atomic<int>& slot() {
  static std::atomic<int> n{initial_threads()};
  return n;
}

}  // namespace

int max_hardware_threads() {
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

int num_threads() { return slot().load(std::memory_order_relaxed); }

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("number of threads must be >= 1");
  slot().store(n);
}

}  // namespace fastdl
