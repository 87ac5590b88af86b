"""The CUDA graph kernels (csrc/cuda/graph) run by the emulator against the CPU kernels
(csrc/cpu/graph): SpMM (weighted, multi-head, unweighted with a row scale), SDDMM, row gather,
segment max with argmax and its two backward kernels, edge softmax forward and backward, on
random graphs with self-loops, duplicate edges, empty rows and isolated nodes, float32 and
float64, under two schedules. The CUDA kernels walk the same rows in the same order (no atomics),
so float64 agrees to rounding and the argmax exactly."""
import numpy as np
import pytest

import fastdl
from fastdl import _C

emu = fastdl.cuda.emulator()
SCHEDULES = ("forward", "warp_at_a_time")


def graph(seed, n=13, e=40):
    r = np.random.default_rng(seed)
    src = np.concatenate([r.integers(0, n - 2, e), [3, 3, 4], [0]])
    dst = np.concatenate([r.integers(0, n - 4, e), [3, 3, 7], [0]])  # duplicate self-loop 3->3
    rowptr, eid = np.empty(n + 1, np.int64), np.empty(src.size, np.int64)
    _C.csr_from_index(dst, rowptr, eid)
    return n, src, dst, rowptr, src[eid].copy(), eid


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


def both(name, *args, out_idx, schedule):
    """Run _C.name and emu.name on copies of the outputs (positions out_idx); return both."""
    a = [x.copy() if i in out_idx else x for i, x in enumerate(args)]
    b = [x.copy() if i in out_idx else x for i, x in enumerate(args)]
    getattr(_C, name)(*a)
    getattr(emu, name)(*b, schedule=schedule)
    return [a[i] for i in out_idx], [b[i] for i in out_idx]


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spmm_sddmm(schedule, dtype):
    n, src, dst, rowptr, col, eid = graph(1)
    r = np.random.default_rng(2)
    e = src.size
    for heads, f in ((1, 5), (3, 4), (2, 70)):  # 140 features: more than a block's threads
        x = r.standard_normal((n, heads, f)).astype(dtype)
        val = r.standard_normal((e, heads)).astype(dtype)
        out = np.full((n, heads, f), np.nan, dtype)
        (c,), (g,) = both("spmm", rowptr, col, eid, val, None, x, out, out_idx=(6,),
                          schedule=schedule)
        np.testing.assert_allclose(g, c, **tol(dtype))
        ref = np.zeros_like(c)
        np.add.at(ref, dst, val[:, :, None] * x[src])
        np.testing.assert_allclose(c, ref, **tol(dtype))
        scale = r.random(n).astype(dtype)
        (c,), (g,) = both("spmm", rowptr, col, None, None, scale, x, out, out_idx=(6,),
                          schedule=schedule)
        np.testing.assert_allclose(g, c, **tol(dtype))
        a = r.standard_normal((n, heads, f)).astype(dtype)
        o = np.full((e, heads), np.nan, dtype)
        (c,), (g,) = both("sddmm", rowptr, col, eid, a, x, o, out_idx=(5,), schedule=schedule)
        np.testing.assert_allclose(g, c, **tol(dtype))
        np.testing.assert_allclose(c, (a[dst] * x[src]).sum(-1), **tol(dtype))


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gather_and_segment_max(schedule, dtype):
    n, src, dst, rowptr, col, eid = graph(3)
    r = np.random.default_rng(4)
    e, f = src.size, 6
    x = r.standard_normal((n, f)).astype(dtype)
    scale = r.random(n).astype(dtype)
    idx = np.concatenate([src, [-1]])
    (c,), (g,) = both("gather_rows", idx, scale, x, np.empty((e + 1, f), dtype), out_idx=(3,),
                      schedule=schedule)
    np.testing.assert_array_equal(g, c)
    np.testing.assert_array_equal(c[-1], 0)
    m = r.permutation(e * f).reshape(e, f).astype(dtype)  # no ties
    (c, ca), (g, ga) = both("segment_max", rowptr, eid, m, np.empty((n, f), dtype),
                            np.empty((n, f), np.int64), out_idx=(3, 4), schedule=schedule)
    np.testing.assert_array_equal(g, c)
    np.testing.assert_array_equal(ga, ca)
    assert (ca[np.diff(rowptr) == 0] == -1).all()
    grad = r.standard_normal((n, f)).astype(dtype)
    (c,), (g,) = both("max_place", ca, grad, np.full((e, f), np.nan, dtype), out_idx=(2,),
                      schedule=schedule)
    np.testing.assert_array_equal(g, c)
    (c,), (g,) = both("max_take", ca, m, np.empty((n, f), dtype), out_idx=(2,),
                      schedule=schedule)
    np.testing.assert_array_equal(g, c)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_edge_softmax(schedule, dtype):
    n, src, dst, rowptr, col, eid = graph(5)
    r = np.random.default_rng(6)
    e, heads = src.size, 3
    logits = (r.standard_normal((e, heads)) * 3).astype(dtype)
    (c,), (g,) = both("edge_softmax_forward", rowptr, eid, logits, np.empty((e, heads), dtype),
                      out_idx=(3,), schedule=schedule)
    np.testing.assert_allclose(g, c, **tol(dtype))
    sums = np.zeros((n, heads))
    np.add.at(sums, dst, c)
    np.testing.assert_allclose(sums[np.diff(rowptr) > 0], 1, rtol=1e-5)
    grad = r.standard_normal((e, heads)).astype(dtype)
    (cb,), (gb,) = both("edge_softmax_backward", rowptr, eid, grad, c,
                        np.empty((e, heads), dtype), out_idx=(4,), schedule=schedule)
    np.testing.assert_allclose(gb, cb, **tol(dtype))


def test_emu_bindings_check_arguments():
    n, src, dst, rowptr, col, eid = graph(7)
    x = np.ones((n, 1, 2), np.float32)
    with pytest.raises(ValueError, match="rowptr"):
        emu.spmm(rowptr[:-1], col, eid, None, None, x, np.empty((n, 1, 2), np.float32))
    with pytest.raises(TypeError, match="same dtype"):
        emu.spmm(rowptr, col, eid, None, None, x, np.empty((n, 1, 2), np.float64))
    with pytest.raises(ValueError, match="outside"):
        emu.gather_rows(np.array([0, n]), None, x[:, 0], np.empty((2, 2), np.float32))
    with pytest.raises(ValueError, match="unknown schedule"):
        emu.gather_rows(np.array([0]), None, x[:, 0], np.empty((1, 2), np.float32),
                        schedule="sideways")


def test_real_cuda_module_rejects_host_arrays():
    cuda_mod = pytest.importorskip("fastdl._C_cuda", reason="fastdl was built without nvcc")
    n, src, dst, rowptr, col, eid = graph(8)
    x = np.ones((n, 1, 2), np.float32)
    with pytest.raises(TypeError, match="CUDA device"):
        cuda_mod.spmm(rowptr, col, eid, None, None, x, np.empty_like(x))


def test_ops_on_a_gpu_match_the_cpu():
    """With cupy and a GPU: the registered ops' cuda= forwards (and backwards) on device tensors
    against the CPU (skipped on machines without a GPU)."""
    pytest.importorskip("fastdl._C_cuda", reason="fastdl was built without nvcc")
    cp = pytest.importorskip("cupy")
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no CUDA device")
    except cp.cuda.runtime.CUDARuntimeError:
        pytest.skip("no CUDA device")
    n, src, dst, *_ = graph(9)
    ei = np.stack([src, dst])
    x = np.random.default_rng(10).standard_normal((n, 6)).astype(np.float32)
    for conv in (fastdl.nn.GCNConv(6, 4), fastdl.nn.SAGEConv(6, 4, aggr="max"),
                 fastdl.nn.GATConv(6, 2, heads=3)):
        xc = fastdl.tensor(x, requires_grad=True)
        out_c = conv(xc, fastdl.tensor(ei))
        out_c.sum().backward()
        conv_g = conv.to("cuda")
        xg = fastdl.tensor(x, device="cuda", requires_grad=True)
        out_g = conv_g(xg, fastdl.tensor(ei))
        out_g.sum().backward()
        np.testing.assert_allclose(out_g.detach().cpu().numpy(), out_c.detach().numpy(),
                                   rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(xg.grad.cpu().numpy(), xc.grad.numpy(), rtol=1e-4, atol=1e-5)
        conv.to("cpu")
