"""The attention family of `fastdl bench cuda`: fastdl's CUDA flash-attention kernels
(fastdl._C_cuda.attention_forward / attention_backward on cupy arrays, fp32) vs PyTorch's fused
attention on the same memory, on the problems of `fastdl bench attention`: B = 8, H = 8, D = 64,
L = S in {512, 2048}, causal and not, forward and forward + backward.

Two vendors per problem: torch's SDPA in fp32 (its memory-efficient CUTLASS kernel: FlashAttention
proper has no fp32 path), validated to fp32 accuracy; and FlashAttention-2 in fp16 (torch's flash
backend), the fastest thing torch has on the device, validated loosely (fp16 inputs). FLOPs: 4 B H
L S D for the forward (S = Q K^T and O = P V), times (L + 1) / (2 L) when causal; the backward
2.5x the forward (S and P recomputed, dV, dP, dQ, dK), so fwd+bwd = 3.5x.

The case builders take (cp, torch, kernels) so a test can run them with numpy, CPU torch and the
emulator in their places (tests/test_bench_cuda_attention.py).
"""
from __future__ import annotations

import math

from fastdl.bench._cuda_convpool import _rel_error

# name: (B, H, L, D, causal)
ROWS = {f"L={L}{' causal' if c else ''}": (8, 8, L, 64, c) for L in (512, 2048)
        for c in (False, True)}


def _flops(B, H, L, D, causal, backward):
    f = 4.0 * B * H * L * L * D * ((L + 1) / (2 * L) if causal else 1.0)
    return 3.5 * f if backward else f


def _backend(torch, tensor, name):
    """sdpa_kernel(<name>) on a GPU; on the CPU (tests) torch's default choice."""
    import contextlib
    if tensor.device.type != "cuda":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel
    return sdpa_kernel(getattr(SDPBackend, name))


def attention_cases(cp, torch, kernels, rows=None, fp16=True):
    """forward and fwd+bwd of each row against torch fp32 (and FlashAttention-2 fp16 when
    ``fp16`` and on a GPU)."""
    from fastdl.bench.cuda import Case
    cases = []
    for i, (name, (B, H, L, D, causal)) in enumerate((rows or ROWS).items()):
        rng = cp.random.RandomState(1000 + i)
        q, k, v, g = (rng.standard_normal((B, H, L, D)).astype(cp.float32) for _ in range(4))
        out = cp.empty((B, H, L, D), cp.float32)
        lse = cp.empty((B, H, L), cp.float32)
        dq, dk, dv = (cp.empty((B, H, L, D), cp.float32) for _ in range(3))
        scale = 1.0 / math.sqrt(D)
        tq, tk, tv, tg = (torch.from_dlpack(a) for a in (q, k, v, g))
        sdpa = torch.nn.functional.scaled_dot_product_attention

        def ours_fwd(q=q, k=k, v=v, out=out, lse=lse, causal=causal, scale=scale):
            kernels.attention_forward(q, k, v, out, lse, None, causal, scale)

        def ours_both(q=q, k=k, v=v, g=g, out=out, lse=lse, dq=dq, dk=dk, dv=dv, causal=causal,
                      scale=scale):
            kernels.attention_forward(q, k, v, out, lse, None, causal, scale)
            kernels.attention_backward(q, k, v, out, lse, g, dq, dk, dv, None, causal, scale,
                                       None)

        def vendors(dtype, backend, tq=tq, tk=tk, tv=tv, tg=tg, causal=causal):
            # detach: a fresh leaf per vendor (requires_grad_ on the shared fp32 tensors would make the
            # fp16 copies non-leaf, with no .grad)
            xs = [t.detach().to(dtype).requires_grad_() for t in (tq, tk, tv)]
            gd = tg.to(dtype)

            def fwd():
                with torch.no_grad(), _backend(torch, xs[0], backend):
                    return sdpa(*xs, is_causal=causal)

            def both():
                for x in xs:
                    x.grad = None
                with _backend(torch, xs[0], backend):
                    sdpa(*xs, is_causal=causal).backward(gd)
                return [x.grad for x in xs]
            return fwd, both

        on_gpu = tq.device.type == "cuda"
        kinds = [("EFFICIENT_ATTENTION", torch.float32, "torch SDPA fp32", 1.0)]
        if fp16 and on_gpu:
            kinds.append(("FLASH_ATTENTION", torch.float16, "FlashAttention-2 fp16", 500.0))
        for backend, dtype, vendor_name, loosen in kinds:
            v_fwd, v_both = vendors(dtype, backend)
            tol = 2e-6 * math.sqrt(L) * 4 * loosen

            def check_fwd(v_fwd=v_fwd, ours_fwd=ours_fwd, out=out, tol=tol):
                ours_fwd()
                return _rel_error(cp, out, cp.from_dlpack(v_fwd().float().contiguous())), tol

            def check_both(v_both=v_both, ours_both=ours_both, grads=(dq, dk, dv), tol=tol):
                ours_both()
                want = v_both()
                return max(_rel_error(cp, a, cp.from_dlpack(w.float().contiguous()))
                           for a, w in zip(grads, want)), tol * 4

            cases.append(Case("attention", f"{name} forward", _flops(B, H, L, D, causal, False),
                              ours_fwd, v_fwd, vendor_name, check_fwd))
            cases.append(Case("attention", f"{name} fwd+bwd", _flops(B, H, L, D, causal, True),
                              ours_both, v_both, vendor_name, check_both))
    return cases
