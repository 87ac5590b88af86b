#pragma once
// Which SIMD kernel set runs: the best this CPU (and OS) supports, or the one FASTDL_SIMD forces.
#include <string>
#include <vector>

namespace fastdl {

enum class Isa { scalar = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);
// Kernel sets compiled into this build that this CPU can run, best first.
std::vector<Isa> available_isas();
// The set in use: FASTDL_SIMD at first call if valid, else the best available.
Isa active_isa();
// Force a kernel set (tests, benchmarks). Throws std::invalid_argument if unknown or unsupported.
void set_active_isa(const std::string& name);

}  // namespace fastdl
