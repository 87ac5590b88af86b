#include "cuda_emu/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#ifdef FASTDL_EMU_ASM_FIBERS
// fastdl_emu_switch(void** save_sp, void* load_sp): push the System V callee-saved registers,
// store rsp, load the other fiber's rsp, pop its registers and return into it.
// fastdl_emu_fiber_start: first "return address" of a new fiber; calls r13(r12).
asm(R"(
  .text
  .p2align 4
  .globl fastdl_emu_switch
  .hidden fastdl_emu_switch
  .type fastdl_emu_switch, @function
fastdl_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size fastdl_emu_switch, .-fastdl_emu_switch

  .p2align 4
  .globl fastdl_emu_fiber_start
  .hidden fastdl_emu_fiber_start
  .type fastdl_emu_fiber_start, @function
fastdl_emu_fiber_start:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size fastdl_emu_fiber_start, .-fastdl_emu_fiber_start
)");
extern "C" void fastdl_emu_switch(void** save_sp, void* load_sp);
extern "C" void fastdl_emu_fiber_start();
#endif

namespace fastdl::cuda_emu {

#ifdef FASTDL_EMU_ASM_FIBERS

void fiber_prepare(FiberContext& fiber, void* stack, size_t size, FiberEntry entry, void* arg) {
  // The stack top must be 16-byte aligned when fiber_start's `call` pushes its return address.
  auto top = (reinterpret_cast<uintptr_t>(stack) + size) & ~uintptr_t(15);
  auto* slot = reinterpret_cast<void**>(top) - 7;  // r15 r14 r13 r12 rbx rbp ret
  slot[0] = nullptr;
  slot[1] = nullptr;
  slot[2] = reinterpret_cast<void*>(entry);  // r13
  slot[3] = arg;                             // r12
  slot[4] = nullptr;
  slot[5] = nullptr;
  slot[6] = reinterpret_cast<void*>(&fastdl_emu_fiber_start);
  fiber.stack_pointer = slot;
}

void fiber_switch(FiberContext& from, FiberContext& to) {
  fastdl_emu_switch(&from.stack_pointer, to.stack_pointer);
}

#else

namespace {
// makecontext passes int arguments only: split the pointers into halves.
void ucontext_trampoline(unsigned entry_hi, unsigned entry_lo, unsigned arg_hi, unsigned arg_lo) {
  auto join = [](unsigned hi, unsigned lo) { return (uint64_t(hi) << 32) | lo; };
  auto entry = reinterpret_cast<FiberEntry>(join(entry_hi, entry_lo));
  entry(reinterpret_cast<void*>(join(arg_hi, arg_lo)));
}
}  // namespace

void fiber_prepare(FiberContext& fiber, void* stack, size_t size, FiberEntry entry, void* arg) {
  getcontext(&fiber.context);
  fiber.context.uc_stack.ss_sp = stack;
  fiber.context.uc_stack.ss_size = size;
  fiber.context.uc_link = nullptr;
  auto e = reinterpret_cast<uint64_t>(entry), a = reinterpret_cast<uint64_t>(arg);
  makecontext(&fiber.context, reinterpret_cast<void (*)()>(&ucontext_trampoline), 4,
              unsigned(e >> 32), unsigned(e), unsigned(a >> 32), unsigned(a));
}

void fiber_switch(FiberContext& from, FiberContext& to) { swapcontext(&from.context, &to.context); }

#endif

namespace {

// Mapped regions are kept for reuse: a launch of many small kernels should not mmap every time.
struct StackRegionPool {
  std::mutex mutex;
  std::vector<std::pair<void*, size_t>> free_regions;
};
StackRegionPool& region_pool() {
  static auto* pool = new StackRegionPool;  // leaked on purpose: workers may outlive statics
  return *pool;
}

}  // namespace

FiberStacks::FiberStacks(size_t count, size_t stack_bytes) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  guard_ = page;
  stride_ = guard_ + (stack_bytes + page - 1) / page * page;
  region_bytes_ = stride_ * count;
  {
    auto& pool = region_pool();
    std::lock_guard lock(pool.mutex);
    for (auto it = pool.free_regions.begin(); it != pool.free_regions.end(); ++it) {
      if (it->second == region_bytes_) {
        region_ = it->first;
        pool.free_regions.erase(it);
        return;
      }
    }
  }
  region_ = mmap(nullptr, region_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region_ == MAP_FAILED) {
    region_ = nullptr;
    throw std::runtime_error("cuda_emu: cannot map " + std::to_string(region_bytes_) +
                             " bytes of fiber stacks");
  }
  for (size_t i = 0; i < count; ++i) mprotect(static_cast<char*>(region_) + i * stride_, guard_, PROT_NONE);
}

FiberStacks::~FiberStacks() {
  if (!region_) return;
  auto& pool = region_pool();
  std::lock_guard lock(pool.mutex);
  if (pool.free_regions.size() < 16) {
    pool.free_regions.emplace_back(region_, region_bytes_);
  } else {
    munmap(region_, region_bytes_);
  }
}

}  // namespace fastdl::cuda_emu
