"""The forward's path for a few query rows without a mask when no gradient is wanted (a decoding
step against a KV cache: csrc/cpu/attention/attention_kernels.cpp, forward_few_queries): dot
products with K's rows read in place, then the softmax and P V. Checked through
scaled_dot_product_attention against torch in float64 on odd sizes, GQA, top-left causal rows,
cache-like strided keys, every thread count and non-finite inputs, with L = 5 (the tiled path) at
the boundary; and with a gradient wanted the same calls keep the tiled path, whose row
statistics the backward needs (large scores)."""
from __future__ import annotations

import numpy as np
import pytest

import fastdl
from fastdl import _C
from fastdl.nn import functional as F

torch = pytest.importorskip("torch")


def _torch_reference(q, k, v, g, causal, scale):
    t = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (q, k, v)]
    out = torch.nn.functional.scaled_dot_product_attention(*t, is_causal=causal, scale=scale,
                                                           enable_gqa=True)
    out.backward(torch.tensor(g, dtype=torch.float64))
    return [out.detach().numpy()] + [x.grad.numpy() for x in t]


def _fastdl(q, k, v, g, causal, scale):
    t = [fastdl.tensor(a, requires_grad=True) for a in (q, k, v)]
    out = F.scaled_dot_product_attention(*t, is_causal=causal, scale=scale,
                                         enable_gqa=t[0].shape[1] != t[1].shape[1])
    out.backward(fastdl.tensor(g))
    return [out.detach().numpy()] + [x.grad.numpy() for x in t]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("L", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("S,D,Dv", [(1, 64, 64), (7, 13, 5), (100, 64, 64), (37, 80, 32)])
def test_matches_torch_in_float64(dtype, causal, L, S, D, Dv):
    rng = np.random.default_rng(L * 1000 + S + D)
    B, Hq, Hk = 2, 4, 2
    q = rng.standard_normal((B, Hq, L, D)).astype(dtype)
    k = rng.standard_normal((B, Hk, S, D)).astype(dtype)
    v = rng.standard_normal((B, Hk, S, Dv)).astype(dtype)
    g = rng.standard_normal((B, Hq, L, Dv)).astype(dtype)
    scale = 0.9 / np.sqrt(D)
    ref = _torch_reference(q, k, v, g, causal, scale)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    with fastdl.no_grad():
        out = F.scaled_dot_product_attention(*(fastdl.tensor(a) for a in (q, k, v)),
                                             is_causal=causal, scale=scale, enable_gqa=True)
    assert out.dtype == fastdl.tensor(q).dtype
    np.testing.assert_allclose(out.numpy(), ref[0], rtol=tol, atol=tol)
    got = _fastdl(q, k, v, g, causal, scale)  # with the gradient: the tiled path
    for name, a, r in zip(["out", "dq", "dk", "dv"], got, ref):
        assert a.dtype == dtype, name
        np.testing.assert_allclose(a, r, rtol=tol, atol=tol, err_msg=name)


def test_cache_views_are_read_in_place():
    """Keys and values as the first S positions of a longer (B, H, capacity, D) buffer -- what
    nn.KVCache hands over -- give the bits of their contiguous copies."""
    rng = np.random.default_rng(3)
    buffer = rng.standard_normal((2, 6, 64, 2, 32)).astype(np.float32)
    k, v = buffer[:, :, :41, 0], buffer[:, :, :41, 1]  # row stride 64, head stride 64 * 64
    q = rng.standard_normal((2, 6, 1, 32)).astype(np.float32)
    out = [F.scaled_dot_product_attention(*(fastdl.tensor(a) for a in (q, kk, vv))).numpy()
           for kk, vv in ((k, v), (np.ascontiguousarray(k), np.ascontiguousarray(v)))]
    np.testing.assert_array_equal(out[0], out[1])


def test_large_scores_keep_their_gradients():
    """Scores ~ 1e4 with a spread of a few units (a shared key direction), three query rows, a
    gradient wanted: the forward keeps row statistics consistent with the backward's recomputed
    scores (the short path's would not be: dq, which cancels a 100x common component, came out
    5% off), so the gradients are as accurate as torch's own float32 ones."""
    rng = np.random.default_rng(5)
    q = rng.standard_normal((1, 2, 3, 16)).astype(np.float32)
    k = rng.standard_normal((1, 2, 50, 16)).astype(np.float32)
    q[..., 0], k[..., 0] = 100.0, 100.0
    v = rng.standard_normal((1, 2, 50, 8)).astype(np.float32)
    g = rng.standard_normal((1, 2, 3, 8)).astype(np.float32)
    got = _fastdl(q, k, v, g, False, 1.0)
    ref = _torch_reference(q, k, v, g, False, 1.0)
    t = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    out = torch.nn.functional.scaled_dot_product_attention(*t, scale=1.0)
    out.backward(torch.tensor(g))
    theirs = [out.detach().numpy()] + [x.grad.numpy() for x in t]
    for name, a, b, r in zip(["out", "dq", "dk", "dv"], got, theirs, ref):
        ours_err, torch_err = (np.abs(x - r).max() / np.abs(r).max() for x in (a, b))
        assert ours_err <= 4 * torch_err + 1e-6, (name, ours_err, torch_err)


def test_same_bits_at_every_thread_count():
    rng = np.random.default_rng(9)
    q = rng.standard_normal((2, 8, 4, 64)).astype(np.float32)  # big enough to use the threads
    k = rng.standard_normal((2, 8, 700, 64)).astype(np.float32)
    v = rng.standard_normal((2, 8, 700, 64)).astype(np.float32)
    before = _C.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            _C.set_num_threads(threads)
            with fastdl.no_grad():
                results.append(F.scaled_dot_product_attention(
                    *(fastdl.tensor(a) for a in (q, k, v))).numpy())
    finally:
        _C.set_num_threads(before)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_non_finite_inputs_stay_in_their_rows():
    rng = np.random.default_rng(11)
    q = rng.standard_normal((1, 2, 2, 8)).astype(np.float32)
    k = rng.standard_normal((1, 2, 9, 8)).astype(np.float32)
    v = rng.standard_normal((1, 2, 9, 8)).astype(np.float32)
    q[0, 1, 0, 3] = np.nan
    with fastdl.no_grad():
        out = F.scaled_dot_product_attention(*(fastdl.tensor(a) for a in (q, k, v))).numpy()
    # the definition's NaN row, as the tiled path gives it (torch's fused CPU kernel writes 0s)
    tq, tk, tv = (torch.tensor(a) for a in (q, k, v))
    ref = (torch.softmax(tq @ tk.transpose(-1, -2) / np.sqrt(8), -1) @ tv).numpy()
    assert np.isnan(out[0, 1, 0]).all()
    np.testing.assert_allclose(np.nan_to_num(out, nan=7.0), np.nan_to_num(ref, nan=7.0),
                               rtol=1e-5, atol=1e-6)
