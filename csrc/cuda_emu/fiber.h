#pragma once
// Fibers: cooperative user-space threads, one per emulated CUDA thread of a block. A fiber runs
// until it parks itself (a barrier) and switches back to the block scheduler.
//
// On x86-64 the switch is a few lines of assembly that save the callee-saved registers and swap
// stack pointers: about 4x faster than swapcontext(), which makes a system call per switch to save
// the signal mask. Other CPUs use ucontext.
//
// Under AddressSanitizer every switch is announced (__sanitizer_start/finish_switch_fiber): ASan
// must know which stack runs to check stack accesses and to unpoison the right frames when an
// exception unwinds a fiber.
#include <cstddef>
#include <vector>

#if defined(__x86_64__) && !defined(FASTDL_EMU_FORCE_UCONTEXT)
#define FASTDL_EMU_ASM_FIBERS 1
#else
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define FASTDL_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FASTDL_EMU_ASAN 1
#endif
#endif

namespace fastdl::cuda_emu {

using FiberEntry = void (*)(void* arg);

struct FiberContext {
#ifdef FASTDL_EMU_ASM_FIBERS
  void* stack_pointer = nullptr;
#else
  ucontext_t context;
#endif
  FiberEntry entry = nullptr;
  void* arg = nullptr;
  // The stack this context runs on, for the sanitizer. A thread's own stack (the scheduler's) is
  // learnt at the first switch away from it.
  const void* stack_bottom = nullptr;
  size_t stack_size = 0;
};

// "x86-64 assembly" or "ucontext": the switch this build really uses.
const char* fiber_backend();

// Prepares `fiber` to run entry(arg) on [stack, stack + size) at its first switch. The entry must
// never return: it ends with fiber_exit.
void fiber_prepare(FiberContext& fiber, void* stack, size_t size, FiberEntry entry, void* arg);

// Saves the running context into `from` and resumes `to`.
void fiber_switch(FiberContext& from, FiberContext& to);

// The last switch of a finished fiber: `from` is never resumed (only prepared again).
[[noreturn]] void fiber_exit(FiberContext& from, FiberContext& to);

// Stacks for `count` fibers, each with an inaccessible guard page below it, so an overflow faults
// instead of silently corrupting the neighbour. Regions are recycled between launches.
class FiberStacks {
 public:
  FiberStacks(size_t count, size_t stack_bytes);
  ~FiberStacks();
  FiberStacks(const FiberStacks&) = delete;
  FiberStacks& operator=(const FiberStacks&) = delete;

  void* stack(size_t i) const { return static_cast<char*>(region_) + i * stride_ + guard_; }
  size_t stack_bytes() const { return stride_ - guard_; }

 private:
  void* region_ = nullptr;
  size_t region_bytes_ = 0, stride_ = 0, guard_ = 0;
};

}  // namespace fastdl::cuda_emu
