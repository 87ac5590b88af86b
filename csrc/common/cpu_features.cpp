#include "common/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace fastdl {
namespace {

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::scalar:
      return true;
#if defined(__x86_64__) || defined(_M_X64)
    // __builtin_cpu_supports consults CPUID and, in current libgcc, the OS's XSAVE state (XGETBV).
    case Isa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
#endif
    default:
      return false;
  }
}

bool compiled_in(Isa isa) {
  switch (isa) {
    case Isa::scalar: return true;
#ifdef FASTDL_HAVE_ISA_avx2
    case Isa::avx2: return true;
#endif
#ifdef FASTDL_HAVE_ISA_avx512
    case Isa::avx512: return true;
#endif
    default: return false;
  }
}

Isa parse_isa(const std::string& name) {
  if (name == "avx512") return Isa::avx512;
  if (name == "avx2") return Isa::avx2;
  if (name == "scalar") return Isa::scalar;
  throw std::invalid_argument("unknown SIMD path '" + name + "' (expected avx512, avx2 or scalar)");
}

Isa initial_isa() {
  const auto avail = available_isas();
  if (const char* env = std::getenv("FASTDL_SIMD"); env && *env) {
    // An unusable request falls back to the best path rather than failing at import;
    // fastdl.info() shows what actually runs.
    try {
      Isa want = parse_isa(env);
      for (Isa a : avail)
        if (a == want) return want;
    } catch (const std::invalid_argument&) {
    }
  }
  return avail.front();
}

std::atomic<int>& active_slot() {
  static std::atomic<int> slot{static_cast<int>(initial_isa())};
  return slot;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "scalar";
  }
}

std::vector<Isa> available_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::avx512, Isa::avx2, Isa::scalar})
    if (compiled_in(isa) && cpu_supports(isa)) out.push_back(isa);
  return out;
}

Isa active_isa() { return static_cast<Isa>(active_slot().load(std::memory_order_relaxed)); }

void set_active_isa(const std::string& name) {
  Isa want = parse_isa(name);
  for (Isa a : available_isas()) {
    if (a == want) {
      active_slot().store(static_cast<int>(want));
      return;
    }
  }
  throw std::invalid_argument("SIMD path '" + name + "' is not supported by this CPU or build");
}

}  // namespace fastdl
