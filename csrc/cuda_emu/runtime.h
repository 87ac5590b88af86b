#pragma once
// CUDA-on-CPU emulation: the part of the CUDA C++ surface our kernels use, so the same kernel
// source compiles with g++ and runs on the CPU (tests only; see DESIGN.md "CUDA without a GPU").
//
// How it runs: launch() hands whole blocks to one worker per core; a block's threads are fibers
// (cooperative, see fiber.h) scheduled by the worker. Static shared memory, declared with
// FASTDL_SHARED (cuda/common/compat.cuh), is `static thread_local`: shared by the fibers of a block,
// private to the worker. __syncthreads parks the fiber until
// every thread of the block arrives; warp collectives (__syncwarp, __shfl_*_sync, __ballot_sync) go
// through a per-warp exchange buffer with a warp barrier before and after. A barrier that cannot
// complete (a thread exited or waits elsewhere) raises std::runtime_error instead of hanging.
// Shared memory starts every block poisoned, as if left over by another block: dynamic shared
// memory (FASTDL_DYNAMIC_SHARED) is all NaN; a static array (FASTDL_SHARED) holds NaN if its
// elements are floating point, else the bytes of 0xdeadbeef.
//
// Limits: no grid-wide sync (cooperative groups), cp.async, ldmatrix, mma/wgmma, inline PTX,
// dynamic parallelism, textures, or streams/events (launches are synchronous), or `__shared__`
// variables at namespace scope. Give a tensor-core kernel a
// scalar twin with the same tiling so the emulator can check its algorithm. Fibers are cooperative:
// a thread spinning on a value that another thread of its block writes never yields and hangs
// (CUDA does not promise that works either). A fiber stack overflow faults on a guard page.
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// A bare `__shared__` cannot be poisoned per block (the emulator never learns where it lives).
#define __shared__                                                                               \
  _Pragma("GCC error \"cuda_emu: declare static shared memory with FASTDL_SHARED(type, name, "  \
          "[dims]) (cuda/common/compat.cuh) so the emulator can poison it at every block\"")
// __restrict__ is already a GNU C++ keyword.

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return {x, y, z}; }
};
struct __align__(8) float2 { float x, y; };
struct __align__(16) float4 { float x, y, z, w; };
struct __align__(8) int2 { int x, y; };
struct __align__(16) int4 { int x, y, z, w; };
struct __align__(16) double2 { double x, y; };
inline constexpr float2 make_float2(float x, float y) { return {x, y}; }
inline constexpr double2 make_double2(double x, double y) { return {x, y}; }
inline constexpr float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline constexpr int2 make_int2(int x, int y) { return {x, y}; }
inline constexpr int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }

using cudaStream_t = struct CUstream_st*;
inline constexpr int warpSize = 32;

namespace fastdl::cuda_emu {

enum class Schedule {
  forward,         // threads in index order between barriers
  reverse,         // highest index first
  random,          // a fresh seeded permutation of the threads at every pass
  warp_at_a_time,  // one warp runs alone until it parks at a block barrier: no lockstep warps
};

struct LaunchOptions {
  Schedule schedule = Schedule::forward;
  uint64_t seed = 0;
  int workers = 0;  // 0: one per hardware thread
};

// Sets the options of the launches made by this thread while it lives.
class ScopedLaunchOptions {
 public:
  explicit ScopedLaunchOptions(const LaunchOptions& options);
  ~ScopedLaunchOptions();
  ScopedLaunchOptions(const ScopedLaunchOptions&) = delete;
  ScopedLaunchOptions& operator=(const ScopedLaunchOptions&) = delete;

 private:
  LaunchOptions saved_;
};

// Runs body() once per CUDA thread of the grid; returns when all blocks are done; rethrows the
// first error (a kernel's exception, a deadlock, a bad launch configuration).
void run_grid(dim3 grid, dim3 block, size_t dynamic_smem_bytes,
              const std::function<void()>& body);

namespace detail {
// The running fiber's coordinates; the block scheduler sets them before every switch into a fiber.
extern thread_local uint3 tl_thread_idx, tl_block_idx;
extern thread_local dim3 tl_block_dim, tl_grid_dim;
extern thread_local unsigned char* tl_dynamic_smem;
// Counts the blocks this worker has started; a static shared variable is poisoned by the first of
// its block's threads to reach its declaration (see FASTDL_SHARED).
extern thread_local uint64_t tl_block_epoch;

// Fills `bytes` with the 8-byte `pattern`, repeated.
void poison_static_shared(void* data, size_t bytes, uint64_t pattern);

template <class T>
constexpr uint64_t poison_pattern() {
  if constexpr (std::is_same_v<T, double>) return 0x7ff8deaddeaddeadull;  // a quiet NaN
  else if constexpr (std::is_same_v<T, float> || std::is_same_v<T, float2> ||
                     std::is_same_v<T, float4>)
    return 0x7fc0dead7fc0deadull;  // quiet NaNs, as in dynamic shared memory
  else
    return 0xdeadbeefdeadbeefull;
}

template <class T>
void poison_static_shared_once(uint64_t& epoch, T& variable) {
  if (epoch == tl_block_epoch) return;
  epoch = tl_block_epoch;
  poison_static_shared(&variable, sizeof variable, poison_pattern<std::remove_all_extents_t<T>>());
}

void sync_threads();
void sync_warp(unsigned mask);
uint64_t* warp_exchange_slots();  // 32 slots of the calling thread's warp
unsigned lane_id();
unsigned existing_lanes_mask();  // lanes of the calling thread's warp that exist in the block

template <class T>
void store_slot(uint64_t* slot, const T& v) {
  static_assert(sizeof(T) <= sizeof(uint64_t) && std::is_trivially_copyable_v<T>,
                "cuda_emu: warp shuffles move at most 8 bytes");
  std::memcpy(slot, &v, sizeof(T));
}
template <class T>
T load_slot(const uint64_t* slot) {
  T v;
  std::memcpy(&v, slot, sizeof(T));
  return v;
}

// Shuffles: everyone in `mask` publishes its value, then reads lane `source(lane)`.
template <class T, class SourceLane>
T shuffle(unsigned mask, T v, SourceLane source) {
  uint64_t* slots = warp_exchange_slots();
  const unsigned lane = lane_id();
  store_slot(&slots[lane], v);
  sync_warp(mask);
  T out = load_slot<T>(&slots[source(lane) & 31u]);
  sync_warp(mask);
  return out;
}
}  // namespace detail

}  // namespace fastdl::cuda_emu

#define threadIdx (static_cast<const uint3&>(::fastdl::cuda_emu::detail::tl_thread_idx))
#define blockIdx (static_cast<const uint3&>(::fastdl::cuda_emu::detail::tl_block_idx))
#define blockDim (static_cast<const dim3&>(::fastdl::cuda_emu::detail::tl_block_dim))
#define gridDim (static_cast<const dim3&>(::fastdl::cuda_emu::detail::tl_grid_dim))

inline void __syncthreads() { ::fastdl::cuda_emu::detail::sync_threads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::fastdl::cuda_emu::detail::sync_warp(mask); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

template <class T>
T __shfl_sync(unsigned mask, T v, int src_lane, int width = warpSize) {
  return ::fastdl::cuda_emu::detail::shuffle(mask, v, [=](unsigned lane) {
    return (lane & ~unsigned(width - 1)) + (unsigned(src_lane) & unsigned(width - 1));
  });
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = warpSize) {
  return ::fastdl::cuda_emu::detail::shuffle(mask, v, [=](unsigned lane) {
    const unsigned end = (lane & ~unsigned(width - 1)) + unsigned(width);
    return lane + delta < end ? lane + delta : lane;
  });
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = warpSize) {
  return ::fastdl::cuda_emu::detail::shuffle(mask, v, [=](unsigned lane) {
    const unsigned begin = lane & ~unsigned(width - 1);
    return lane >= begin + delta ? lane - delta : lane;
  });
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = warpSize) {
  return ::fastdl::cuda_emu::detail::shuffle(mask, v, [=](unsigned lane) {
    const unsigned end = (lane & ~unsigned(width - 1)) + unsigned(width);
    const unsigned src = lane ^ unsigned(lane_mask);
    return src < end ? src : lane;
  });
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  namespace d = ::fastdl::cuda_emu::detail;
  uint64_t* slots = d::warp_exchange_slots();
  const unsigned lane = d::lane_id();
  slots[lane] = predicate != 0;
  d::sync_warp(mask);
  const unsigned lanes = mask & d::existing_lanes_mask();
  unsigned ballot = 0;
  for (unsigned l = 0; l < 32; ++l)
    if ((lanes >> l & 1u) && slots[l]) ballot |= 1u << l;
  d::sync_warp(mask);
  return ballot;
}
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }
inline int __all_sync(unsigned mask, int predicate) {
  return __ballot_sync(mask, predicate) == (mask & ::fastdl::cuda_emu::detail::existing_lanes_mask());
}

template <class T>
T atomicAdd(T* address, T v) {
  return std::atomic_ref<T>(*address).fetch_add(v, std::memory_order_relaxed);
}
template <class T>
T atomicSub(T* address, T v) {
  return std::atomic_ref<T>(*address).fetch_sub(v, std::memory_order_relaxed);
}
template <class T>
T atomicExch(T* address, T v) {
  return std::atomic_ref<T>(*address).exchange(v, std::memory_order_relaxed);
}
template <class T>
T atomicCAS(T* address, T expected, T desired) {
  std::atomic_ref<T>(*address).compare_exchange_strong(expected, desired, std::memory_order_relaxed);
  return expected;  // the old value either way
}
template <class T>
T atomicMax(T* address, T v) {
  std::atomic_ref<T> ref(*address);
  T old = ref.load(std::memory_order_relaxed);
  while (old < v && !ref.compare_exchange_weak(old, v, std::memory_order_relaxed)) {
  }
  return old;
}
template <class T>
T atomicMin(T* address, T v) {
  std::atomic_ref<T> ref(*address);
  T old = ref.load(std::memory_order_relaxed);
  while (v < old && !ref.compare_exchange_weak(old, v, std::memory_order_relaxed)) {
  }
  return old;
}

template <class T>
T __ldg(const T* p) {
  return *p;
}
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline int __float_as_int(float x) {
  int i;
  std::memcpy(&i, &x, sizeof i);
  return i;
}
inline float __int_as_float(int i) {
  float x;
  std::memcpy(&x, &i, sizeof x);
  return x;
}
