#pragma once
// Variable-length batches of the recurrent kernels (CPU and CUDA host code alike): with lengths
// sorted in decreasing order, the sequences still running at time t are a prefix of the batch.
#include <cstdint>
#include <vector>

namespace fastdl {

// Rows active at each time index (all of them without lengths).
inline std::vector<int64_t> rnn_active_rows(int64_t steps, int64_t batch,
                                            const int64_t* lengths) {
  std::vector<int64_t> act(size_t(steps), batch);
  if (lengths)
    for (int64_t t = 0; t < steps; ++t) {
      int64_t n = 0;
      while (n < batch && lengths[n] > t) ++n;
      act[size_t(t)] = n;
    }
  return act;
}

}  // namespace fastdl
