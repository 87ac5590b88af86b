"""Global switches and the default generator (get/set_rng_state, initial_seed,
use_deterministic_algorithms, float32 matmul precision, is_inference_mode_enabled), and the
top-level binomial, histogramdd, lu_unpack, nuclear_norm and frobenius_norm against torch."""
import threading
import warnings

import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")


def test_rng_state_round_trip():
    state = fastdl.get_rng_state()
    assert state.dtype == fastdl.uint8 and state.shape == (37,)
    a = (fastdl.randn(5), fastdl.rand(3), fastdl.randint(0, 100, (4,)))
    fastdl.set_rng_state(state)
    b = (fastdl.randn(5), fastdl.rand(3), fastdl.randint(0, 100, (4,)))
    assert all(fastdl.equal(x, y) for x, y in zip(a, b))
    assert not fastdl.equal(fastdl.get_rng_state(), state)  # drawing moved it on


def test_rng_state_replays_dropout_and_survives_manual_seed():
    state = fastdl.get_rng_state()
    first = fastdl.dropout(fastdl.ones(50), 0.5, True)
    _ = fastdl.manual_seed(123)
    fastdl.set_rng_state(state)
    assert fastdl.equal(fastdl.dropout(fastdl.ones(50), 0.5, True), first)


def test_set_rng_state_errors():
    with pytest.raises(TypeError, match="uint8"):
        fastdl.set_rng_state(fastdl.zeros(37))
    with pytest.raises(RuntimeError, match="size"):
        fastdl.set_rng_state(fastdl.zeros(3, dtype=fastdl.uint8))


def test_initial_seed():
    _ = fastdl.manual_seed(1234)
    assert fastdl.initial_seed() == 1234
    fastdl.rand(3)
    assert fastdl.initial_seed() == 1234


def test_deterministic_flags():
    assert fastdl.are_deterministic_algorithms_enabled() is False
    try:
        fastdl.use_deterministic_algorithms(True, warn_only=True)
        assert fastdl.are_deterministic_algorithms_enabled()
        assert fastdl.is_deterministic_algorithms_warn_only_enabled()
    finally:
        fastdl.use_deterministic_algorithms(False)
    assert not fastdl.is_deterministic_algorithms_warn_only_enabled()
    with pytest.raises(TypeError, match="bool"):
        fastdl.use_deterministic_algorithms(1)
    with pytest.raises(TypeError):
        torch.use_deterministic_algorithms(1)


def test_float32_matmul_precision():
    assert fastdl.get_float32_matmul_precision() == "highest"
    try:
        for p in ("high", "medium", "highest"):
            fastdl.set_float32_matmul_precision(p)
            assert fastdl.get_float32_matmul_precision() == p
        fastdl.set_float32_matmul_precision("medium")
        with pytest.warns(UserWarning, match="not one of"):
            fastdl.set_float32_matmul_precision("HIGH")
        assert fastdl.get_float32_matmul_precision() == "medium"
        with pytest.raises(RuntimeError, match="expects a str"):
            fastdl.set_float32_matmul_precision(1)
    finally:
        fastdl.set_float32_matmul_precision("highest")


def test_is_inference_mode_enabled():
    assert not fastdl.is_inference_mode_enabled()
    with fastdl.inference_mode():
        assert fastdl.is_inference_mode_enabled()
        with fastdl.inference_mode(False):
            assert not fastdl.is_inference_mode_enabled()
        assert fastdl.is_inference_mode_enabled()
        with fastdl.no_grad():
            assert fastdl.is_inference_mode_enabled()
    assert not fastdl.is_inference_mode_enabled()

    @fastdl.inference_mode()
    def inside():
        return fastdl.is_inference_mode_enabled()
    assert inside() and not fastdl.is_inference_mode_enabled()
    seen = []
    with fastdl.inference_mode():  # per thread, like grad mode
        t = threading.Thread(target=lambda: seen.append(fastdl.is_inference_mode_enabled()))
        t.start()
        t.join()
    assert seen == [False]


@pytest.mark.parametrize("dtype", [fastdl.float32, fastdl.float64])
def test_binomial(dtype):
    _ = fastdl.manual_seed(0)
    count = fastdl.full((20000,), 10.0, dtype=dtype)
    draws = fastdl.binomial(count, fastdl.full((20000,), 0.3, dtype=dtype))
    assert draws.dtype == dtype and draws.shape == (20000,)
    d = draws.numpy()
    assert (d == np.round(d)).all() and d.min() >= 0 and d.max() <= 10
    assert abs(d.mean() - 3.0) < 0.05 and abs(d.var() - 2.1) < 0.1
    edge_n = fastdl.tensor([10.0, 5.0, 2.7, -2.0, 4.0, 4.0], dtype=dtype)
    edge_p = fastdl.tensor([0.0, 1.0, 1.0, 1.0, -0.5, float("nan")], dtype=dtype)
    want = torch.binomial(torch.tensor(edge_n.numpy()), torch.tensor(edge_p.numpy()))
    np.testing.assert_array_equal(fastdl.binomial(edge_n, edge_p).numpy(), want.numpy())
    b = fastdl.binomial(fastdl.tensor([[4.0], [8.0]], dtype=dtype),
                        fastdl.tensor([0.5, 1.0], dtype=dtype))
    assert b.shape == (2, 2) and b[:, 1].tolist() == [4.0, 8.0]


def test_binomial_generator_and_errors():
    g = fastdl.Generator().manual_seed(3)
    a = fastdl.binomial(fastdl.full((10,), 20.0), fastdl.full((10,), 0.5), generator=g)
    g.manual_seed(3)
    assert fastdl.equal(a, fastdl.binomial(fastdl.full((10,), 20.0), fastdl.full((10,), 0.5),
                                           generator=g))
    with pytest.raises(ValueError, match="floating-point"):
        fastdl.binomial(fastdl.tensor([10]), fastdl.tensor([0.5]))
    with pytest.raises(RuntimeError, match="dtype"):
        fastdl.binomial(fastdl.tensor([10.0]), fastdl.tensor([0.5], dtype=fastdl.float64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [
    {"bins": 4}, {"bins": [2, 5, 3]}, {"bins": 3, "range": [0.0, 1.0, -1.0, 1.0, 0.5, 2.0]},
    {"bins": 4, "density": True}, {"bins": [3, 2, 4], "weight": True},
    {"bins": 3, "weight": True, "density": True}, {"bins": "edges"}])
def test_histogramdd_matches_torch(dtype, kwargs):
    rng = np.random.default_rng(0)
    pts = rng.standard_normal((2, 50, 3)).astype(dtype)
    pts[0, :3] = 0.25  # values on bin edges
    kw = dict(kwargs)
    if kw.get("weight"):
        w = rng.random((2, 50)).astype(dtype)
        kw_f, kw_t = dict(kw, weight=fastdl.tensor(w)), dict(kw, weight=torch.tensor(w))
    else:
        kw.pop("weight", None)
        kw_f, kw_t = dict(kw), dict(kw)
    if kw.get("bins") == "edges":
        edges = [np.sort(rng.standard_normal(k)).astype(dtype) for k in (3, 5, 2)]
        kw_f["bins"] = [fastdl.tensor(e) for e in edges]
        kw_t["bins"] = [torch.tensor(e) for e in edges]
    hist, got_edges = fastdl.histogramdd(fastdl.tensor(pts), **kw_f)
    want = torch.histogramdd(torch.tensor(pts), **kw_t)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(hist.numpy(), want.hist.numpy(), rtol=tol, atol=tol)
    assert hist.dtype == dtype and len(got_edges) == len(want.bin_edges)
    for g, w in zip(got_edges, want.bin_edges):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=tol, atol=tol)


def test_histogramdd_edge_cases_and_errors():
    hist, edges = fastdl.histogramdd(fastdl.ones(5, 1), 2)
    want = torch.histogramdd(torch.ones(5, 1), 2)
    assert hist.tolist() == want.hist.tolist() and edges[0].tolist() == \
        want.bin_edges[0].tolist()
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        fastdl.histogramdd(fastdl.rand(5), 3)
    with pytest.raises(RuntimeError, match="size of bins"):
        fastdl.histogramdd(fastdl.rand(5, 2), [3])
    with pytest.raises(RuntimeError, match="range should have 4 elements"):
        fastdl.histogramdd(fastdl.rand(5, 2), 3, range=[0.0, 1.0])
    with pytest.raises(NotImplementedError):
        fastdl.histogramdd(fastdl.ones(5, 2, dtype=fastdl.int64), 3)


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3), (2, 3, 3), (2, 1, 4, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lu_unpack_matches_torch(shape, dtype):
    a = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    lu_t, piv_t = torch.linalg.lu_factor(torch.tensor(a))
    lu = fastdl.tensor(lu_t.numpy().copy(), requires_grad=True)
    piv = fastdl.tensor(piv_t.numpy().copy())
    tl = lu_t.clone().requires_grad_(True)
    got, want = fastdl.lu_unpack(lu, piv), torch.lu_unpack(tl, piv_t)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-6,
                                   atol=1e-6)
    seed = np.random.default_rng(2)
    wl, wu = (seed.standard_normal(tuple(w.shape)).astype(dtype) for w in want[1:])
    ((got[1] * fastdl.tensor(wl)).sum() + (got[2] * fastdl.tensor(wu)).sum()).backward()
    ((want[1] * torch.tensor(wl)).sum() + (want[2] * torch.tensor(wu)).sum()).backward()
    np.testing.assert_allclose(lu.grad.numpy(), tl.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_lu_unpack_flags_and_errors():
    lu, piv = fastdl.linalg.lu_factor(fastdl.tensor([[1.0, 2.0], [3.0, 4.0]]))
    P, L, U = fastdl.lu_unpack(lu, piv, unpack_data=False)
    assert L.shape == (0,) and U.shape == (0,) and P.shape == (2, 2)
    P, L, U = fastdl.lu_unpack(lu, piv, unpack_pivots=False)
    assert P.shape == (0,) and L.shape == (2, 2)
    with pytest.raises(RuntimeError, match="int32"):
        fastdl.lu_unpack(lu, piv.to(fastdl.int64))


@pytest.mark.filterwarnings("ignore:.*is deprecated and it is just left")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nuclear_and_frobenius_norms(dtype):
    a = np.random.default_rng(3).standard_normal((2, 3, 4)).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    cases = [("nuclear_norm", ()), ("nuclear_norm", (True,)), ("nuclear_norm", ((0, 2),)),
             ("nuclear_norm", ((1, 2), True)), ("frobenius_norm", ((0, 1),)),
             ("frobenius_norm", (2, True)), ("frobenius_norm", ((),)),
             ("frobenius_norm", ([1, 2], False))]
    for name, args in cases:
        x = fastdl.tensor(a.copy(), requires_grad=True)
        tx = torch.tensor(a.copy(), requires_grad=True)
        got, want = getattr(fastdl, name)(x, *args), getattr(torch, name)(tx, *args)
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=tol,
                                   atol=tol, err_msg=f"{name}{args}")
        got.sum().backward()
        want.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=tol * 10,
                                   atol=tol * 10, err_msg=f"{name}{args}")
    with pytest.raises(RuntimeError, match="at most 2"):
        fastdl.frobenius_norm(fastdl.ones(2, 2, 2), (0, 1, 2))
    with pytest.raises(TypeError):
        fastdl.frobenius_norm(fastdl.ones(2, 2))
    with pytest.raises(RuntimeError):
        fastdl.nuclear_norm(fastdl.ones(3))


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 4, 4), (3, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_geqrf_matches_torch(shape, dtype):
    a = np.random.default_rng(4).standard_normal(shape).astype(dtype)
    got, want = fastdl.geqrf(fastdl.tensor(a)), torch.geqrf(torch.tensor(a))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for g, w in zip(got, want):
        assert g.shape == tuple(w.shape) and g.dtype == dtype
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("transpose", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("qshape", [(5, 3), (4, 4), (2, 4, 2)])
def test_ormqr_matches_torch(left, transpose, dtype, qshape):
    rng = np.random.default_rng(5)
    a_t, tau_t = torch.geqrf(torch.tensor(rng.standard_normal(qshape).astype(dtype)))
    mn = qshape[-2]
    other = rng.standard_normal(qshape[:-2] + ((mn, 3) if left else (2, mn))).astype(dtype)
    fa = fastdl.tensor(a_t.numpy().copy(), requires_grad=True)
    ft = fastdl.tensor(tau_t.numpy().copy(), requires_grad=True)
    fo = fastdl.tensor(other.copy(), requires_grad=True)
    ta, tt = a_t.clone().requires_grad_(True), tau_t.clone().requires_grad_(True)
    to = torch.tensor(other.copy(), requires_grad=True)
    got = fastdl.ormqr(fa, ft, fo, left, transpose)
    want = torch.ormqr(ta, tt, to, left, transpose)
    tol = 1e-5 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=tol, atol=tol)
    w = rng.standard_normal(tuple(want.shape)).astype(dtype)
    (got * fastdl.tensor(w)).sum().backward()
    (want * torch.tensor(w)).sum().backward()
    for f, t in ((fa, ta), (ft, tt), (fo, to)):
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=tol * 10,
                                   atol=tol * 10)


def test_geqrf_ormqr_errors():
    with pytest.raises(NotImplementedError, match="geqrf_cpu"):  # torch's error
        fastdl.geqrf(fastdl.ones(2, 2, dtype=fastdl.int64))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        fastdl.geqrf(fastdl.ones(3))
    a, tau = fastdl.geqrf(fastdl.randn(4, 3))
    with pytest.raises(RuntimeError, match="must equal"):
        fastdl.ormqr(a, tau, fastdl.ones(3, 2))
    with pytest.raises(RuntimeError, match="at most"):
        fastdl.ormqr(a, fastdl.ones(4), fastdl.ones(4, 2))
