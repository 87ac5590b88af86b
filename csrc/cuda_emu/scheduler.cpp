// Runs a grid: workers take whole blocks; inside a block, the CUDA threads are fibers switched by
// a scheduler that follows the launch's Schedule and detects barriers that can never complete.
#include <algorithm>
#include <atomic>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cuda_emu/fiber.h"
#include "cuda_emu/runtime.h"

namespace fastdl::cuda_emu {

namespace detail {
thread_local uint3 tl_thread_idx{0, 0, 0}, tl_block_idx{0, 0, 0};
thread_local dim3 tl_block_dim, tl_grid_dim;
thread_local unsigned char* tl_dynamic_smem = nullptr;
thread_local uint64_t tl_block_epoch = 0;
}  // namespace detail

namespace {

constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr size_t kMaxDynamicSmemBytes = 227 * 1024;  // H100's opt-in maximum per block
// Kernels keep their tiles in registers (locals) and may throw; 64 KiB leaves a wide margin.
constexpr size_t kFiberStackBytes = 64 * 1024;
// A quiet NaN with a recognisable payload.
constexpr uint32_t kSmemPoison = 0x7fc0dead;

thread_local LaunchOptions tl_launch_options;

enum class FiberState : uint8_t { ready, at_block_barrier, at_warp_barrier, done };

struct EmuThread {
  FiberContext context;
  FiberState state = FiberState::ready;
  uint3 index{0, 0, 0};
  unsigned warp_mask = 0;  // lanes it waits for at a warp barrier
};

// One per worker: runs one block at a time on its own fibers.
class BlockRunner {
 public:
  BlockRunner(dim3 grid, dim3 block, size_t dynamic_smem_bytes, const std::function<void()>& body,
              const LaunchOptions& options)
      : grid_(grid),
        block_(block),
        body_(body),
        options_(options),
        num_threads_(block.x * block.y * block.z),
        num_warps_((num_threads_ + 31) / 32),
        threads_(num_threads_),
        stacks_(num_threads_, kFiberStackBytes),
        warp_waiting_(num_warps_, 0),
        warp_slots_(size_t(num_warps_) * 32, 0),
        dynamic_smem_words_((dynamic_smem_bytes + 3) / 4),
        dynamic_smem_(new uint32_t[dynamic_smem_words_ + 4]) {
    for (unsigned t = 0; t < num_threads_; ++t)
      threads_[t].index = {t % block.x, t / block.x % block.y, t / (block.x * block.y)};
  }

  void run_block(uint3 block_index);

  // --- called from inside fibers ---
  void sync_threads();
  void sync_warp(unsigned mask);
  uint64_t* warp_slots() { return &warp_slots_[size_t(current_ / 32) * 32]; }
  unsigned lane() const { return current_ % 32; }
  unsigned existing_lanes(unsigned warp) const {
    const unsigned n = std::min(32u, num_threads_ - warp * 32);
    return n == 32 ? 0xffffffffu : (1u << n) - 1;
  }
  unsigned current_warp() const { return current_ / 32; }

 private:
  static void fiber_main(void* self);
  void park() { fiber_switch(threads_[current_].context, scheduler_); }
  void run_fiber(unsigned t);
  bool run_ready_in(unsigned begin, unsigned end);
  [[noreturn]] void report_stuck_block();
  std::string where() const;

  dim3 grid_, block_;
  const std::function<void()>& body_;
  LaunchOptions options_;
  unsigned num_threads_, num_warps_;
  std::vector<EmuThread> threads_;
  FiberStacks stacks_;
  FiberContext scheduler_;
  unsigned current_ = 0, done_ = 0, at_block_barrier_ = 0;
  uint3 block_index_{0, 0, 0};
  std::vector<uint32_t> warp_waiting_;
  std::vector<uint64_t> warp_slots_;
  size_t dynamic_smem_words_;
  std::unique_ptr<uint32_t[]> dynamic_smem_;
  std::exception_ptr fiber_error_;
};

thread_local BlockRunner* tl_runner = nullptr;

BlockRunner& runner() {
  if (!tl_runner) throw std::logic_error("cuda_emu: a device function was called outside a launch");
  return *tl_runner;
}

std::string BlockRunner::where() const {
  std::ostringstream s;
  s << "block (" << block_index_.x << ", " << block_index_.y << ", " << block_index_.z
    << ") of a grid (" << grid_.x << ", " << grid_.y << ", " << grid_.z << ") x block ("
    << block_.x << ", " << block_.y << ", " << block_.z << ")";
  return s.str();
}

void BlockRunner::fiber_main(void* self) {
  auto& r = *static_cast<BlockRunner*>(self);
  try {
    r.body_();
  } catch (...) {
    r.fiber_error_ = std::current_exception();
  }
  r.threads_[r.current_].state = FiberState::done;
  ++r.done_;
  fiber_exit(r.threads_[r.current_].context, r.scheduler_);
}

void BlockRunner::run_fiber(unsigned t) {
  current_ = t;
  detail::tl_thread_idx = threads_[t].index;
  fiber_switch(scheduler_, threads_[t].context);
  if (fiber_error_) std::rethrow_exception(fiber_error_);
}

bool BlockRunner::run_ready_in(unsigned begin, unsigned end) {
  bool ran = false;
  for (unsigned t = begin; t < end; ++t) {
    if (threads_[t].state == FiberState::ready) {
      run_fiber(t);
      ran = true;
    }
  }
  return ran;
}

void BlockRunner::run_block(uint3 block_index) {
  block_index_ = block_index;
  detail::tl_block_idx = block_index;
  detail::tl_block_dim = block_;
  detail::tl_grid_dim = grid_;
  ++detail::tl_block_epoch;  // static __shared__ variables are poisoned again at first use
  std::fill_n(dynamic_smem_.get(), dynamic_smem_words_ + 4, kSmemPoison);
  detail::tl_dynamic_smem = reinterpret_cast<unsigned char*>(dynamic_smem_.get());
  done_ = at_block_barrier_ = 0;
  std::fill(warp_waiting_.begin(), warp_waiting_.end(), 0);
  for (unsigned t = 0; t < num_threads_; ++t) {
    threads_[t].state = FiberState::ready;
    fiber_prepare(threads_[t].context, stacks_.stack(t), stacks_.stack_bytes(), &fiber_main, this);
  }
  const uint64_t block_linear = (uint64_t(block_index.z) * grid_.y + block_index.y) * grid_.x + block_index.x;
  std::mt19937_64 rng(options_.seed * 0x9e3779b97f4a7c15ull + block_linear);
  std::vector<unsigned> order(num_threads_);
  std::iota(order.begin(), order.end(), 0u);
  if (options_.schedule == Schedule::reverse) std::reverse(order.begin(), order.end());

  // Passes over the threads until none can run; each fiber runs until it parks or exits.
  for (bool progressed = true; progressed;) {
    progressed = false;
    if (options_.schedule == Schedule::warp_at_a_time) {
      for (unsigned w = 0; w < num_warps_; ++w)
        while (run_ready_in(w * 32, std::min(num_threads_, w * 32 + 32))) progressed = true;
      continue;
    }
    if (options_.schedule == Schedule::random) std::shuffle(order.begin(), order.end(), rng);
    for (unsigned t : order) {
      if (threads_[t].state == FiberState::ready) {
        run_fiber(t);
        progressed = true;
      }
    }
  }
  if (done_ != num_threads_) report_stuck_block();
}

void BlockRunner::report_stuck_block() {
  unsigned exited = done_, at_warp = 0;
  for (const auto& t : threads_) at_warp += t.state == FiberState::at_warp_barrier;
  std::ostringstream s;
  s << "cuda_emu: deadlock in " << where() << ": " << at_block_barrier_
    << " threads wait at __syncthreads, " << at_warp << " at a warp barrier (__syncwarp/__shfl_*), "
    << exited << " have exited.";
  if (at_block_barrier_ && exited)
    s << " A __syncthreads was not reached by every thread of the block (an early return or a "
         "barrier inside a divergent branch).";
  for (unsigned w = 0; w < num_warps_; ++w) {
    if (!warp_waiting_[w]) continue;
    unsigned want = 0;
    for (unsigned l = 0; l < 32 && w * 32 + l < num_threads_; ++l)
      if (warp_waiting_[w] >> l & 1u) want |= threads_[w * 32 + l].warp_mask;
    s << " Warp " << w << ": lanes 0x" << std::hex << warp_waiting_[w] << " wait for lanes 0x"
      << (want & ~warp_waiting_[w]) << std::dec << ", which exited or wait at another barrier.";
    break;  // one warp is enough to locate the bug
  }
  throw std::runtime_error(s.str());
}

void BlockRunner::sync_threads() {
  threads_[current_].state = FiberState::at_block_barrier;
  if (++at_block_barrier_ == num_threads_) {
    at_block_barrier_ = 0;
    for (auto& t : threads_) t.state = FiberState::ready;
  }
  // Park even as the last arrival, so the schedule (not arrival order) picks who runs next.
  park();
}

void BlockRunner::sync_warp(unsigned mask) {
  const unsigned warp = current_ / 32, lane = current_ % 32;
  const unsigned lanes = mask & existing_lanes(warp);
  if (!(lanes >> lane & 1u)) {
    std::ostringstream s;
    s << "cuda_emu: lane " << lane << " of warp " << warp << " in " << where()
      << " called a warp collective with mask 0x" << std::hex << mask << " that excludes it";
    throw std::runtime_error(s.str());
  }
  auto& me = threads_[current_];
  me.state = FiberState::at_warp_barrier;
  me.warp_mask = lanes;
  warp_waiting_[warp] |= 1u << lane;
  if ((warp_waiting_[warp] & lanes) == lanes) {
    warp_waiting_[warp] &= ~lanes;
    for (unsigned l = 0; l < 32; ++l)
      if (lanes >> l & 1u) threads_[warp * 32 + l].state = FiberState::ready;
  }
  park();
}

void check_launch(dim3 grid, dim3 block, size_t dynamic_smem_bytes) {
  std::ostringstream s;
  if (!grid.x || !grid.y || !grid.z || !block.x || !block.y || !block.z)
    s << "grid and block dimensions must be positive";
  else if (uint64_t(block.x) * block.y * block.z > kMaxThreadsPerBlock)
    s << "a block of " << uint64_t(block.x) * block.y * block.z << " threads exceeds "
      << kMaxThreadsPerBlock;
  else if (block.z > 64)
    s << "block.z = " << block.z << " exceeds 64";
  else if (grid.y > 65535 || grid.z > 65535)
    s << "grid.y and grid.z must be at most 65535";
  else if (dynamic_smem_bytes > kMaxDynamicSmemBytes)
    s << dynamic_smem_bytes << " bytes of dynamic shared memory exceed " << kMaxDynamicSmemBytes;
  if (!s.str().empty())
    throw std::runtime_error("cuda_emu: invalid launch configuration: " + s.str() + " (grid (" +
                             std::to_string(grid.x) + ", " + std::to_string(grid.y) + ", " +
                             std::to_string(grid.z) + "), block (" + std::to_string(block.x) +
                             ", " + std::to_string(block.y) + ", " + std::to_string(block.z) + "))");
}

}  // namespace

namespace detail {
void poison_static_shared(void* data, size_t bytes, uint64_t pattern) {
  auto* out = static_cast<unsigned char*>(data);
  for (size_t i = 0; i < bytes; i += sizeof pattern)
    std::memcpy(out + i, &pattern, std::min(sizeof pattern, bytes - i));
}
void sync_threads() { runner().sync_threads(); }
void sync_warp(unsigned mask) { runner().sync_warp(mask); }
uint64_t* warp_exchange_slots() { return runner().warp_slots(); }
unsigned lane_id() { return runner().lane(); }
unsigned existing_lanes_mask() {
  auto& r = runner();
  return r.existing_lanes(r.current_warp());
}
}  // namespace detail

ScopedLaunchOptions::ScopedLaunchOptions(const LaunchOptions& options) : saved_(tl_launch_options) {
  tl_launch_options = options;
}
ScopedLaunchOptions::~ScopedLaunchOptions() { tl_launch_options = saved_; }

void run_grid(dim3 grid, dim3 block, size_t dynamic_smem_bytes, const std::function<void()>& body) {
  check_launch(grid, block, dynamic_smem_bytes);
  if (tl_runner) throw std::runtime_error("cuda_emu: launching a kernel from a kernel is not supported");
  const LaunchOptions options = tl_launch_options;
  const uint64_t num_blocks = uint64_t(grid.x) * grid.y * grid.z;
  unsigned hw = options.workers > 0 ? unsigned(options.workers)
                                    : std::max(1u, std::thread::hardware_concurrency());
  const unsigned num_workers = unsigned(std::min<uint64_t>(hw, num_blocks));

  std::atomic<uint64_t> next_block{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::exception_ptr first_error;
  auto work = [&] {
    try {
      BlockRunner runner(grid, block, dynamic_smem_bytes, body, options);
      tl_runner = &runner;
      for (uint64_t b; !failed.load(std::memory_order_relaxed) && (b = next_block++) < num_blocks;)
        runner.run_block({unsigned(b % grid.x), unsigned(b / grid.x % grid.y),
                          unsigned(b / (uint64_t(grid.x) * grid.y))});
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
      failed = true;
    }
    tl_runner = nullptr;
  };
  std::vector<std::thread> helpers;
  for (unsigned i = 1; i < num_workers; ++i) helpers.emplace_back(work);
  work();
  for (auto& t : helpers) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace fastdl::cuda_emu
