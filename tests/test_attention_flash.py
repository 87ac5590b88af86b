"""The float32 fused AVX-512 kernels (csrc/cpu/attention/attention_flash*_avx512.h) at sizes that
cross their blocks (forward: 96 query rows per task, 6-row groups, 64-key slivers, 256-key
blocks; backward: 192-key blocks, 96-row query chunks, 6-key tiles): against a float64 reference,
against the GEMM-tile versions (FASTDL_ATTENTION_FORWARD / _BACKWARD=v2) -- the fused versions'
RMS error must stay within 2x of theirs (FlashAttention's rule) -- and bit-identical across runs
and thread counts."""
from __future__ import annotations

import os

import numpy as np
import pytest

from fastdl import _C

torch = pytest.importorskip("torch")

SHAPES = [  # (B, Hq, Hk, L, S, D, Dv)
    (1, 2, 1, 520, 520, 64, 64),    # GQA, 6 query blocks (last partial), 2 / 3 key blocks
    (1, 1, 1, 97, 530, 64, 80),     # L != S, Dv with a masked tail vector
    (1, 2, 2, 300, 70, 128, 128),   # two Dv chunks, D = 128, a partial key sliver
    (2, 1, 1, 5, 257, 32, 16),      # a partial row group only
]


def _reference(q, k, v, mask, causal, scale):
    t = [torch.tensor(a, dtype=torch.float64) for a in (q, k, v)]
    m = None if mask is None else torch.tensor(mask if mask.dtype == np.bool_ else
                                               mask.astype(np.float64))
    out = torch.nn.functional.scaled_dot_product_attention(
        *t, attn_mask=m, is_causal=causal, scale=scale, enable_gqa=True)
    return out.numpy()


def _with_version(variable, version, fn):
    old = os.environ.get(variable)
    try:
        if version:
            os.environ[variable] = version
        return fn()
    finally:
        if old is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = old


def _forward(q, k, v, mask, causal, scale, version=None):
    out = np.empty(q.shape[:-1] + (v.shape[-1],), np.float32)
    lse = np.empty(q.shape[:-1], np.float32)
    _with_version("FASTDL_ATTENTION_FORWARD", version,
                  lambda: _C.attention_forward(q, k, v, out, lse, mask, causal, scale))
    return out, lse


def _backward(q, k, v, out, lse, g, mask, causal, scale, version=None):
    grads = [np.empty_like(x) for x in (q, k, v)]
    gm = None if mask is None or mask.dtype == np.bool_ else np.empty(q.shape[:-1] + (k.shape[2],),
                                                                      np.float32)
    _with_version("FASTDL_ATTENTION_BACKWARD", version,
                  lambda: _C.attention_backward(q, k, v, out, lse, g, *grads, mask, causal, scale,
                                                gm))
    return grads + ([] if gm is None else [gm])


def _grad_reference(q, k, v, g, mask, causal, scale):
    t = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (q, k, v)]
    m = None
    if mask is not None:
        m = torch.tensor(mask if mask.dtype == np.bool_ else np.ascontiguousarray(mask),
                         dtype=None if mask.dtype == np.bool_ else torch.float64,
                         requires_grad=mask.dtype != np.bool_)
    out = torch.nn.functional.scaled_dot_product_attention(
        *t, attn_mask=m, is_causal=causal, scale=scale, enable_gqa=True)
    wrt = t + ([m] if m is not None and m.requires_grad else [])
    return [x.numpy() for x in torch.autograd.grad(out, wrt, torch.tensor(g, dtype=torch.float64))]


def _lse_reference(q, k, mask, causal, scale):
    group = q.shape[1] // k.shape[1]
    kk = np.repeat(k.astype(np.float64), group, axis=1)
    s = scale * q.astype(np.float64) @ np.swapaxes(kk, -1, -2)
    if causal:
        L, S = s.shape[-2:]
        s = np.where(np.arange(S)[None, :] <= np.arange(L)[:, None], s, -np.inf)
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == np.bool_ else s + mask
    mx = s.max(-1, keepdims=True)
    with np.errstate(invalid="ignore"):  # rows without keys: nan here, checked as +inf
        return (mx + np.log(np.exp(s - mx).sum(-1, keepdims=True)))[..., 0]


@pytest.mark.parametrize("shape", SHAPES, ids=[f"L{s[3]}S{s[4]}D{s[5]}Dv{s[6]}" for s in SHAPES])
@pytest.mark.parametrize("mode", ["plain", "causal", "bool", "additive"])
def test_fused_kernels_match_float64_and_the_gemm_versions(shape, mode):
    B, Hq, Hk, L, S, D, Dv = shape
    rng = np.random.default_rng(L + S + D)
    q = (2 * rng.standard_normal((B, Hq, L, D))).astype(np.float32)
    k = rng.standard_normal((B, Hk, S, D)).astype(np.float32)
    v = rng.standard_normal((B, Hk, S, Dv)).astype(np.float32)
    mask = None
    if mode == "bool":
        mask = rng.random((B, Hq, L, S)) > 0.4
        mask[..., 0, :] = False  # a row without keys: output 0, lse +inf
    elif mode == "additive":
        mask = np.broadcast_to(rng.standard_normal((L, S)).astype(np.float32), (B, Hq, L, S))
    causal, scale = mode == "causal", 0.7 / np.sqrt(D)
    ref = _reference(q, k, v, mask, causal, scale)
    out, lse = _forward(q, k, v, mask, causal, scale)
    out2, _ = _forward(q, k, v, mask, causal, scale, "v2")
    assert not np.isnan(out).any()
    rms, rms2 = (np.sqrt(np.mean((o - ref) ** 2)) for o in (out, out2))
    assert rms <= 2 * rms2 + 1e-8, (rms, rms2)
    np.testing.assert_allclose(out, ref, rtol=2e-5, atol=5e-6)
    lse_ref = _lse_reference(q, k, mask, causal, scale)
    finite = np.isfinite(lse_ref)
    np.testing.assert_allclose(lse[finite], lse_ref[finite], rtol=1e-5, atol=1e-5)
    assert np.all(lse[~finite] == np.inf)
    if mode == "bool":
        assert np.all(out[..., 0, :] == 0)
    # backward from the forward's out and lse
    g = rng.standard_normal(out.shape).astype(np.float32)
    grads = _backward(q, k, v, out, lse, g, mask, causal, scale)
    grads2 = _backward(q, k, v, out, lse, g, mask, causal, scale, "v2")
    refs = _grad_reference(q, k, v, g, mask, causal, scale)
    for name, a, a2, r in zip(["dq", "dk", "dv", "dmask"], grads, grads2, refs):
        assert not np.isnan(a).any(), name
        rms, rms2 = (np.sqrt(np.mean((x - r) ** 2)) for x in (a, a2))
        assert rms <= 2 * rms2 + 1e-7, (name, rms, rms2)
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4, err_msg=name)


def test_fused_forward_is_bit_identical_across_runs_and_threads():
    rng = np.random.default_rng(7)
    q = rng.standard_normal((2, 3, 400, 64)).astype(np.float32)
    k = rng.standard_normal((2, 3, 400, 64)).astype(np.float32)
    v = rng.standard_normal((2, 3, 400, 64)).astype(np.float32)
    g = rng.standard_normal((2, 3, 400, 64)).astype(np.float32)
    before = _C.get_num_threads()

    def run(causal):
        out, lse = _forward(q, k, v, None, causal, 0.125)
        return [out, lse] + _backward(q, k, v, out, lse, g, None, causal, 0.125)
    try:
        for causal in (False, True):
            _C.set_num_threads(1)
            first = run(causal)
            for threads in (1, 2, 3):  # 6 (batch, kv head) pairs: no split at these counts
                _C.set_num_threads(threads)
                for a, b in zip(first, run(causal)):
                    np.testing.assert_array_equal(a, b)
    finally:
        _C.set_num_threads(before)


@pytest.mark.parametrize("causal", [False, True])
def test_one_head_dealt_to_several_tasks(causal):
    """One (batch, kv head) pair with 4 threads: the forward deals its query blocks to several
    tasks (each packing the K it reads; the causal ones only up to their last row), the backward
    its key blocks (per-split dQ sums added at the end). The forward stays bit-identical to one
    thread's; both match float64."""
    rng = np.random.default_rng(11)
    B, Hq, Hk, L, S, D, Dv = 1, 3, 1, 610, 590, 64, 48
    q = rng.standard_normal((B, Hq, L, D)).astype(np.float32)
    k = rng.standard_normal((B, Hk, S, D)).astype(np.float32)
    v = rng.standard_normal((B, Hk, S, Dv)).astype(np.float32)
    g = rng.standard_normal((B, Hq, L, Dv)).astype(np.float32)
    scale = 0.125
    before = _C.get_num_threads()
    try:
        _C.set_num_threads(1)
        out1, lse1 = _forward(q, k, v, None, causal, scale)
        grads1 = _backward(q, k, v, out1, lse1, g, None, causal, scale)
        for threads in (2, 3, 4):
            _C.set_num_threads(threads)
            out, lse = _forward(q, k, v, None, causal, scale)
            np.testing.assert_array_equal(out, out1)
            np.testing.assert_array_equal(lse, lse1)
            grads = _backward(q, k, v, out, lse, g, None, causal, scale)
            for name, a, a1 in zip(["dq", "dk", "dv"], grads, grads1):
                np.testing.assert_allclose(a, a1, rtol=1e-5, atol=1e-6, err_msg=name)
    finally:
        _C.set_num_threads(before)
    np.testing.assert_allclose(out1, _reference(q, k, v, None, causal, scale), rtol=2e-5, atol=5e-6)
    refs = _grad_reference(q, k, v, g, None, causal, scale)
    for name, a, r in zip(["dq", "dk", "dv"], grads, refs):
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4, err_msg=name)


def _heads_of(memory):
    """(B, H, L, D) views of (B, L, H, D) arrays: heads split from a projection."""
    return memory.transpose(0, 2, 1, 3)


def _run_both(q, k, v, g, mask, causal, scale, strided_outputs):
    B, Hq, L, D = q.shape
    Hk, S, Dv = k.shape[1], k.shape[2], v.shape[3]
    if strided_outputs:
        out = _heads_of(np.empty((B, L, Hq, Dv), q.dtype))
        grads = [_heads_of(np.empty((a.shape[0], a.shape[2], a.shape[1], a.shape[3]), q.dtype))
                 for a in (q, k, v)]
    else:
        out = np.empty((B, Hq, L, Dv), q.dtype)
        grads = [np.empty(a.shape, q.dtype) for a in (q, k, v)]
    lse = np.empty((B, Hq, L), q.dtype)
    _C.attention_forward(q, k, v, out, lse, mask, causal, scale)
    _C.attention_backward(q, k, v, out, lse, g, *grads, mask, causal, scale, None)
    return [np.ascontiguousarray(a) for a in [out, lse] + grads]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("version", [None, "v2"])
@pytest.mark.parametrize("case", [(2, 4, 2, 130, 97, 64, 48, True),
                                  (1, 3, 3, 300, 257, 32, 80, False),
                                  (2, 2, 1, 5, 1, 16, 8, False)])
def test_row_strided_operands_give_the_same_bits_as_c_order(dtype, version, case):
    """q, k, v, grad_out, out and the gradients as (B, H, L, D) views of (B, L, H, D) memory (the
    heads of a projection): the fused kernels read and write them in place, the others through
    C-ordered copies; either way the bits of the C-ordered call, at 1 and 3 threads."""
    B, Hq, Hk, L, S, D, Dv, causal = case
    rng = np.random.default_rng(L + S)
    q, k, v, g = (_heads_of(rng.standard_normal((b, n, h, d)).astype(dtype))
                  for b, n, h, d in ((B, L, Hq, D), (B, S, Hk, D), (B, S, Hk, Dv), (B, L, Hq, Dv)))
    mask = None if causal else rng.random((B, Hq, L, S)) > 0.3
    before = _C.get_num_threads()
    try:
        for threads in (1, 3):
            _C.set_num_threads(threads)
            ref = _with_version("FASTDL_ATTENTION_BACKWARD", version, lambda: _with_version(
                "FASTDL_ATTENTION_FORWARD", version, lambda: _run_both(
                    *(np.ascontiguousarray(a) for a in (q, k, v, g)), mask, causal, 0.2, False)))
            got = _with_version("FASTDL_ATTENTION_BACKWARD", version, lambda: _with_version(
                "FASTDL_ATTENTION_FORWARD", version, lambda: _run_both(
                    q, k, v, g, mask, causal, 0.2, True)))
            for name, a, r in zip(["out", "lse", "dq", "dk", "dv"], got, ref):
                np.testing.assert_array_equal(a, r, err_msg=name)
    finally:
        _C.set_num_threads(before)


def test_operands_the_kernels_cannot_take_are_refused():
    rng = np.random.default_rng(3)
    q = rng.standard_normal((1, 2, 8, 16)).astype(np.float32)
    out, lse = np.empty((1, 2, 8, 16), np.float32), np.empty((1, 2, 8), np.float32)
    with pytest.raises(ValueError, match="contiguous rows"):  # a column stride
        _C.attention_forward(np.asfortranarray(q), q, q, out, lse, None, False, 0.25)
    with pytest.raises(ValueError, match="non-negative"):
        _C.attention_forward(q[:, :, ::-1], q, q, out, lse, None, False, 0.25)
    shared = np.lib.stride_tricks.as_strided(out, strides=(0, 0, 64, 4))  # rows on each other
    with pytest.raises(ValueError, match="share memory"):
        _C.attention_forward(q, q, q, shared, lse, None, False, 0.25)
    with pytest.raises(ValueError, match="overlaps"):
        _C.attention_forward(q, q, q, q, lse, None, False, 0.25)
    both = np.empty((1, 2, 8, 32), np.float32)
    with pytest.raises(ValueError, match="overlap each other"):
        _C.attention_backward(q, q, q, out, lse, q, both[..., :16], both[..., 16:],
                              np.empty_like(q), None, False, 0.25, None)
