#pragma once
// The attention calls of _C_cuda and _C_cudaemu, written once: the checks of attention_args.h,
// then the CUDA kernels through a Runner (bindings/cuda_runner.h on the device,
// bindings/cuda_emu_runner.h in the emulator), which releases the GIL and supplies the stream.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <optional>

#include "bindings/attention_args.h"
#include "cuda/attention/attention.h"

namespace fastdl::bind::attention_args {

// In, Out: the module's read-only and writable array types (device-constrained).
template <class Runner, class In, class Out>
int cuda_forward(const Runner& run, const In& q_, const In& k_, const In& v_, const Out& out_,
                 const Out& lse_, const std::optional<nb::ndarray<>>& mask, bool causal,
                 double scale, const std::optional<nb::ndarray<>>& row_stats) {
  const nb::ndarray<> q(q_), k(k_), v(v_), out(out_), lse(lse_);
  Checked c = check_forward(q, k, v, out, lse, mask, causal, scale, "attention_forward");
  attach_forward_stats(c, row_stats, {&q, &k, &v, &out, &lse});
  cpu::RowStats kind = cpu::RowStats::none;
  run(out, [&](void* stream) {
    kind = c.dtype == FloatType::float64
               ? cuda::attention_forward<double>(c.s, ptr<double>(q), ptr<double>(k),
                                                 ptr<double>(v), mut<double>(out),
                                                 mut<double>(lse), stream)
               : cuda::attention_forward<float>(c.s, ptr<float>(q), ptr<float>(k), ptr<float>(v),
                                                mut<float>(out), mut<float>(lse), stream);
  });
  return int(kind);
}

template <class Runner, class In, class Out>
void cuda_backward(const Runner& run, const In& q_, const In& k_, const In& v_, const In& out_,
                   const In& lse_, const In& go_, const Out& gq_, const Out& gk_, const Out& gv_,
                   const std::optional<nb::ndarray<>>& mask, bool causal, double scale,
                   const std::optional<nb::ndarray<>>& grad_mask,
                   const std::optional<nb::ndarray<>>& row_stats, int stats_kind) {
  const nb::ndarray<> q(q_), k(k_), v(v_), out(out_), lse(lse_), go(go_), gq(gq_), gk(gk_),
      gv(gv_);
  auto [c, gm] = check_backward(q, k, v, out, lse, go, gq, gk, gv, mask, causal, scale,
                                grad_mask, "attention_backward");
  attach_backward_stats(c, row_stats, stats_kind, {&gq, &gk, &gv});
  run(gq, [&, &c = c, gm = gm](void* stream) {
    if (c.dtype == FloatType::float64)
      cuda::attention_backward<double>(c.s, ptr<double>(q), ptr<double>(k), ptr<double>(v),
                                       ptr<double>(out), ptr<double>(go), ptr<double>(lse),
                                       mut<double>(gq), mut<double>(gk), mut<double>(gv),
                                       static_cast<double*>(gm), stream);
    else
      cuda::attention_backward<float>(c.s, ptr<float>(q), ptr<float>(k), ptr<float>(v),
                                      ptr<float>(out), ptr<float>(go), ptr<float>(lse),
                                      mut<float>(gq), mut<float>(gk), mut<float>(gv),
                                      static_cast<float*>(gm), stream);
  });
}

}  // namespace fastdl::bind::attention_args
