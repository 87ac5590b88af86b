#include "cuda_emu/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#ifdef FASTDL_EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#ifdef FASTDL_EMU_ASM_FIBERS
// fastdl_emu_switch(void** save_sp, void* load_sp): push the System V callee-saved registers,
// store rsp, load the other fiber's rsp, pop its registers and return into it.
// fastdl_emu_fiber_start: first "return address" of a new fiber; calls r13(r12), which never
// returns.
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

namespace {

#ifdef FASTDL_EMU_ASAN
// The context that switched to the one now resuming: the resumed side learns the stack it came
// from, which is how a thread's own stack (the scheduler's) becomes known to later switches.
thread_local FiberContext* tl_switch_source = nullptr;
#endif

// fake_stack_save: where ASan keeps the leaving context's fake stack (for use-after-return
// checks) until it resumes; nullptr for a context that never resumes, so ASan frees it.
void before_switch(FiberContext& from, FiberContext& to, void** fake_stack_save) {
#ifdef FASTDL_EMU_ASAN
  tl_switch_source = &from;
  __sanitizer_start_switch_fiber(fake_stack_save, to.stack_bottom, to.stack_size);
#else
  (void)from, (void)to, (void)fake_stack_save;
#endif
}

void after_switch(void* fake_stack) {
#ifdef FASTDL_EMU_ASAN
  FiberContext* source = tl_switch_source;
  __sanitizer_finish_switch_fiber(fake_stack, &source->stack_bottom, &source->stack_size);
#else
  (void)fake_stack;
#endif
}

// Every fiber starts here, on its own stack, right after its first switch.
void fiber_entry(void* context) {
  after_switch(nullptr);
  auto& self = *static_cast<FiberContext*>(context);
  self.entry(self.arg);
  std::abort();  // entries end with fiber_exit
}

#ifdef FASTDL_EMU_ASM_FIBERS

void prepare_stack(FiberContext& fiber) {
  // The stack top must be 16-byte aligned when fiber_start's `call` pushes its return address.
  auto top = (reinterpret_cast<uintptr_t>(fiber.stack_bottom) + fiber.stack_size) & ~uintptr_t(15);
  auto* slot = reinterpret_cast<void**>(top) - 7;  // r15 r14 r13 r12 rbx rbp ret
  slot[0] = nullptr;
  slot[1] = nullptr;
  slot[2] = reinterpret_cast<void*>(&fiber_entry);  // r13
  slot[3] = &fiber;                                 // r12
  slot[4] = nullptr;
  slot[5] = nullptr;
  slot[6] = reinterpret_cast<void*>(&fastdl_emu_fiber_start);
  fiber.stack_pointer = slot;
}

void raw_switch(FiberContext& from, FiberContext& to) {
  fastdl_emu_switch(&from.stack_pointer, to.stack_pointer);
}

#else

// makecontext passes int arguments only: split the pointer into halves.
void ucontext_trampoline(unsigned hi, unsigned lo) {
  fiber_entry(reinterpret_cast<void*>((uint64_t(hi) << 32) | lo));
}

void prepare_stack(FiberContext& fiber) {
  getcontext(&fiber.context);
  fiber.context.uc_stack.ss_sp = const_cast<void*>(fiber.stack_bottom);
  fiber.context.uc_stack.ss_size = fiber.stack_size;
  fiber.context.uc_link = nullptr;
  const auto self = reinterpret_cast<uint64_t>(&fiber);
  makecontext(&fiber.context, reinterpret_cast<void (*)()>(&ucontext_trampoline), 2,
              unsigned(self >> 32), unsigned(self));
}

void raw_switch(FiberContext& from, FiberContext& to) { swapcontext(&from.context, &to.context); }

#endif

}  // namespace

const char* fiber_backend() {
#ifdef FASTDL_EMU_ASM_FIBERS
  return "x86-64 assembly";
#else
  return "ucontext";
#endif
}

void fiber_prepare(FiberContext& fiber, void* stack, size_t size, FiberEntry entry, void* arg) {
  fiber.entry = entry;
  fiber.arg = arg;
  fiber.stack_bottom = stack;
  fiber.stack_size = size;
#ifdef FASTDL_EMU_ASAN
  // The stack's last fiber may have been abandoned mid-call (a kernel error) with its frames'
  // redzones still poisoned.
  ASAN_UNPOISON_MEMORY_REGION(stack, size);
#endif
  prepare_stack(fiber);
}

void fiber_switch(FiberContext& from, FiberContext& to) {
  void* fake_stack = nullptr;
  before_switch(from, to, &fake_stack);
  raw_switch(from, to);
  after_switch(fake_stack);  // resumed: `from` runs again
}

void fiber_exit(FiberContext& from, FiberContext& to) {
  before_switch(from, to, nullptr);
  raw_switch(from, to);
  std::abort();  // a finished fiber is never resumed
}

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
#ifdef FASTDL_EMU_ASAN
  // Frames of fibers abandoned mid-call leave poisoned shadow that must not outlive the stacks.
  ASAN_UNPOISON_MEMORY_REGION(region_, region_bytes_);
#endif
  auto& pool = region_pool();
  std::lock_guard lock(pool.mutex);
  if (pool.free_regions.size() < 16) {
    pool.free_regions.emplace_back(region_, region_bytes_);
  } else {
    munmap(region_, region_bytes_);
  }
}

}  // namespace fastdl::cuda_emu
