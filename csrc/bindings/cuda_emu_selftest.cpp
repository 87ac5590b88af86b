// _C_cudaemu self-test kernels: each runs a small CUDA kernel through the emulator and returns
// what it computed, so tests can compare with numpy.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>

#include <stdexcept>
#include <string>

#include "bindings/cuda_emu_options.h"
#include "cuda_emu/selftest_kernels.h"

namespace nb = nanobind;

namespace fastdl::bind {

namespace {

using FloatVector = nb::ndarray<const float, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using IntVector = nb::ndarray<const int32_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

template <class T>
nb::ndarray<nb::numpy, T> new_array(std::initializer_list<size_t> shape) {
  size_t size = 1;
  for (size_t s : shape) size *= s;
  T* data = new T[size]();
  nb::capsule owner(data, [](void* p) noexcept { delete[] static_cast<T*>(p); });
  return nb::ndarray<nb::numpy, T>(data, shape.size(), shape.begin(), owner);
}

// Runs `body` with the GIL released under the given schedule.
template <class Body>
void run(const std::string& schedule, uint64_t seed, int workers, Body&& body) {
  const auto options = emu_launch_options(schedule, seed, workers);
  nb::gil_scoped_release release;
  cuda_emu::ScopedLaunchOptions scoped(options);
  body();
}

void require_block_size(int n, const char* fn) {
  if (n < 1 || n > 1024)
    throw nb::value_error((std::string(fn) + ": n must be in [1, 1024] (one block), got " +
                           std::to_string(n)).c_str());
}

}  // namespace

void bind_cuda_emu_selftest(nb::module_& m) {
  namespace st = cuda_emu::selftest;
#define FASTDL_SCHEDULE_ARGS nb::arg("schedule") = "forward", nb::arg("seed") = 0, nb::arg("workers") = 0

  m.def(
      "shuffle_patterns",
      [](FloatVector x, const std::string& s, uint64_t seed, int w) {
        auto out = new_array<float>({x.shape(0), 5});
        run(s, seed, w, [&] { st::shuffle_patterns(x.data(), out.data(), int64_t(x.shape(0))); });
        return out;
      },
      nb::arg("x"), FASTDL_SCHEDULE_ARGS,
      "Per element: shfl(x, 5), shfl_down(x, 3), shfl_up(x, 2), shfl_xor(x, 9), "
      "shfl_down(x, 1, width=8) within warps of 32 consecutive elements.");
  m.def(
      "block_sums",
      [](FloatVector x, const std::string& s, uint64_t seed, int w) {
        auto out = new_array<float>({(x.shape(0) + 127) / 128});
        run(s, seed, w, [&] { st::block_sums(x.data(), out.data(), int64_t(x.shape(0))); });
        return out;
      },
      nb::arg("x"), FASTDL_SCHEDULE_ARGS, "Sums of consecutive chunks of 128 (warp-shuffle reduction).");
  m.def(
      "histogram",
      [](IntVector values, int nbins, const std::string& s, uint64_t seed, int w) {
        if (nbins < 1 || nbins > 4096)
          throw nb::value_error(("histogram: nbins must be in [1, 4096], got " + std::to_string(nbins)).c_str());
        for (size_t i = 0; i < values.shape(0); ++i)
          if (values.data()[i] < 0 || values.data()[i] >= nbins)
            throw nb::value_error(("histogram: value " + std::to_string(values.data()[i]) + " at index " +
                                   std::to_string(i) + " is outside [0, nbins)").c_str());
        auto out = new_array<int32_t>({size_t(nbins)});
        run(s, seed, w, [&] { st::histogram(values.data(), int64_t(values.shape(0)), out.data(), nbins); });
        return out;
      },
      nb::arg("values"), nb::arg("nbins"), FASTDL_SCHEDULE_ARGS,
      "Counts per bin via shared-memory and global atomicAdd.");
  m.def(
      "atomic_sum",
      [](FloatVector x, const std::string& s, uint64_t seed, int w) {
        float total = 0.0f;
        run(s, seed, w, [&] { total = st::atomic_sum(x.data(), int64_t(x.shape(0))); });
        return total;
      },
      nb::arg("x"), FASTDL_SCHEDULE_ARGS, "Sum by one float atomicAdd per element.");
  m.def(
      "dynamic_shared_snapshot",
      [](int blocks, int words, const std::string& s, uint64_t seed, int w) {
        if (blocks < 1 || words < 1 || words > 4096)
          throw nb::value_error("dynamic_shared_snapshot: need blocks >= 1 and 1 <= words <= 4096");
        auto out = new_array<float>({size_t(blocks), size_t(words)});
        run(s, seed, w, [&] { st::dynamic_shared_snapshot(out.data(), blocks, words); });
        return out;
      },
      nb::arg("blocks"), nb::arg("words"), FASTDL_SCHEDULE_ARGS,
      "Each block's dynamic shared memory as found at block start (should be all NaN).");
  m.def(
      "static_shared_snapshot",
      [](int blocks, int words, const std::string& s, uint64_t seed, int w) {
        if (blocks < 1 || words < 1 || words > st::kSnapshotWords)
          throw nb::value_error(("static_shared_snapshot: need blocks >= 1 and 1 <= words <= " +
                                 std::to_string(st::kSnapshotWords)).c_str());
        auto floats = new_array<float>({size_t(blocks), size_t(words)});
        auto ints = new_array<int32_t>({size_t(blocks), size_t(words)});
        auto doubles = new_array<double>({size_t(blocks), size_t(words)});
        run(s, seed, w, [&] {
          st::static_shared_snapshot(floats.data(), ints.data(), doubles.data(), blocks, words);
        });
        return nb::make_tuple(floats, ints, doubles);
      },
      nb::arg("blocks"), nb::arg("words"), FASTDL_SCHEDULE_ARGS,
      "(floats, ints, doubles): each block's static float, int32 and double __shared__ arrays as "
      "found at block start (NaN, 0xdeadbeef, NaN when poisoned).");
  m.def(
      "execution_order",
      [](int n, const std::string& s, uint64_t seed, int w) {
        require_block_size(n, "execution_order");
        auto out = new_array<int32_t>({size_t(n), 2});
        run(s, seed, w, [&] { st::execution_order(out.data(), n); });
        return out;
      },
      nb::arg("n"), FASTDL_SCHEDULE_ARGS,
      "Arrival ranks of a block's threads before ([:, 0]) and after ([:, 1]) a __syncthreads.");
  m.def(
      "rotate_through_shared",
      [](FloatVector x, const std::string& s, uint64_t seed, int w) {
        auto out = new_array<float>({x.shape(0)});
        run(s, seed, w, [&] { st::rotate_through_shared(x.data(), out.data(), int(x.shape(0))); });
        return out;
      },
      nb::arg("x"), FASTDL_SCHEDULE_ARGS,
      "np.roll(x, -1) computed by one block through static shared memory and a barrier.");
  m.def(
      "divergent_barrier_for_test",
      [](int n, const std::string& s, uint64_t seed, int w) {
        require_block_size(n, "divergent_barrier_for_test");
        run(s, seed, w, [&] { st::divergent_barrier(n); });
      },
      nb::arg("n"), FASTDL_SCHEDULE_ARGS,
      "A kernel whose every third thread returns before a __syncthreads: must raise RuntimeError.");
  m.def(
      "warp_collective_deadlock_for_test",
      [](const std::string& s, uint64_t seed, int w) {
        run(s, seed, w, [&] { st::warp_collective_deadlock(); });
      },
      FASTDL_SCHEDULE_ARGS,
      "A kernel whose lane 0 shuffles while its warp waits at __syncthreads: must raise RuntimeError.");
  m.def(
      "warp_mask_excludes_caller_for_test",
      [](const std::string& s, uint64_t seed, int w) {
        run(s, seed, w, [&] { st::warp_mask_excludes_caller(); });
      },
      FASTDL_SCHEDULE_ARGS, "A kernel whose lane 0 calls __syncwarp(0x2): must raise RuntimeError.");
  m.def(
      "memory_bug_for_test",
      [](const std::string& kind, FloatVector x) {
#ifndef FASTDL_SANITIZE
        // Without the sanitizers the bug is plain undefined behaviour: it may pass or crash.
        throw std::runtime_error("memory_bug_for_test runs in the sanitizer build only (.ci/sanitize.sh)");
#endif
        auto out = new_array<float>({x.shape(0)});
        const auto n = int64_t(x.shape(0));
        if (kind == "out_of_bounds_read") {
          run("forward", 0, 1, [&] { st::out_of_bounds_read(x.data(), out.data(), n); });
        } else if (kind == "misaligned_float4_load") {
          run("forward", 0, 1, [&] { st::misaligned_float4_load(x.data(), out.data(), n); });
        } else {
          throw nb::value_error(("memory_bug_for_test: unknown kind '" + kind + "'").c_str());
        }
        return out;
      },
      nb::arg("kind"), nb::arg("x"),
      "Runs a kernel with a memory bug ('out_of_bounds_read' or 'misaligned_float4_load') that the "
      "sanitizer build must report, aborting the process.");
#undef FASTDL_SCHEDULE_ARGS
}

}  // namespace fastdl::bind
