"""fastdl's numerical helpers (functional/numerics.py, strided.py, creation_ranges.py) against
torch 2.13 on fresh inputs from a fixed seed: trapezoid/trapz/cumulative_trapezoid, vander,
gradient, histogram, unique_consecutive, logspace, range, as_strided, new_empty_strided;
values, dtypes, gradients (float64 gradchecks) and torch's errors."""
import warnings

import numpy as np
import pytest
import torch

import fastdl
from api_compare import assert_same, check
from fastdl.testing import gradcheck

rng = np.random.default_rng(20261130)  # fixed: the same inputs on every run


def _r(*shape, dtype=np.float64):
    a = rng.standard_normal(shape)
    return a.astype(dtype) if np.dtype(dtype).kind == "f" else (a * 5).astype(dtype)


@pytest.mark.parametrize("name", ["trapezoid", "trapz", "cumulative_trapezoid"])
@pytest.mark.parametrize("shape,dim", [((7,), -1), ((3, 5), 0), ((2, 4, 3), 1), ((3, 1), -1),
                                       ((2, 0), -1)])
def test_trapezoid_family(name, shape, dim):
    f, t = getattr(fastdl, name), getattr(torch, name)
    # torch's integral over an empty dim is a constant zero, without history
    grad = shape[dim] > 0 or name == "cumulative_trapezoid"
    check(rng, lambda y: f(y, dim=dim), lambda y: t(y, dim=dim), _r(*shape), grad=grad)
    check(rng, lambda y: f(y, dx=0.5, dim=dim), lambda y: t(y, dx=0.5, dim=dim), _r(*shape),
          grad=grad)
    xs = np.sort(_r(shape[dim]))
    check(rng, lambda y, x: f(y, x, dim=dim), lambda y, x: t(y, x, dim=dim), _r(*shape), xs,
          grad=grad)
    check(rng, lambda y, x: f(y, x, dim=dim), lambda y, x: t(y, x, dim=dim), _r(*shape),
          _r(*shape), grad=grad)
    check(rng, lambda y: f(y, dim=dim), lambda y: t(y, dim=dim), _r(*shape, dtype=np.int64),
          grad=False)
    if grad:  # (torch's trapezoid over an empty dim does not look at x)
        with pytest.raises(RuntimeError):
            t(torch.ones(shape), torch.ones(shape[dim] + 1), dim=dim)
        with pytest.raises(RuntimeError):
            f(fastdl.ones(shape), fastdl.ones(shape[dim] + 1), dim=dim)
    else:
        assert_same(f(fastdl.ones(shape), fastdl.ones(3), dim=dim),
                    t(torch.ones(shape), torch.ones(3), dim=dim))


@pytest.mark.parametrize("n,N", [(4, None), (3, 5), (5, 1), (3, 0), (0, None)])
@pytest.mark.parametrize("increasing", [False, True])
def test_vander(n, N, increasing):
    # values only against torch: torch's own vander backward fails its version check here
    check(rng, lambda x: fastdl.vander(x, N, increasing), lambda x: torch.vander(x, N, increasing),
          _r(n), grad=False)
    if n and (N is None or N > 1):
        assert gradcheck(lambda x: fastdl.vander(x, N, increasing),
                         [fastdl.tensor(_r(n), requires_grad=True)])
    check(rng, lambda x: fastdl.vander(x, N, increasing), lambda x: torch.vander(x, N, increasing),
          rng.integers(-3, 4, n).astype(np.int32), grad=False)
    for bad in [lambda m: m.vander(m.ones(2, 2)), lambda m: m.vander(m.ones(2), -1)]:
        with pytest.raises(RuntimeError):
            bad(torch)
        with pytest.raises(RuntimeError):
            bad(fastdl)


@pytest.mark.parametrize("edge_order", [1, 2])
@pytest.mark.parametrize("shape,kwargs", [((6,), {}), ((4, 5), {}), ((4, 5), {"dim": 1}),
                                          ((3, 4, 5), {"dim": [0, -1], "spacing": [0.5, 2.0]}),
                                          ((4, 5), {"spacing": 3.0}), ((5,), {"spacing": None})])
def test_gradient(edge_order, shape, kwargs):
    check(rng, lambda x: fastdl.gradient(x, edge_order=edge_order, **kwargs),
          lambda x: torch.gradient(x, edge_order=edge_order, **kwargs), _r(*shape))
    check(rng, lambda x: fastdl.gradient(x, edge_order=edge_order, **kwargs),
          lambda x: torch.gradient(x, edge_order=edge_order, **kwargs),
          _r(*shape, dtype=np.int64), grad=False)


@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient_with_coordinates(edge_order):
    coords = [np.cumsum(rng.random(4) + 0.2), np.cumsum(rng.random(5) + 0.2)]
    check(rng, lambda x: fastdl.gradient(x, spacing=[fastdl.tensor(c) for c in coords],
                                         edge_order=edge_order),
          lambda x: torch.gradient(x, spacing=[torch.tensor(c) for c in coords],
                                   edge_order=edge_order), _r(4, 5), rtol=1e-5)


def test_gradient_errors():
    cases = [lambda m: m.gradient(m.ones(1)), lambda m: m.gradient(m.ones(2), edge_order=2),
             lambda m: m.gradient(m.ones(3), edge_order=3),
             lambda m: m.gradient(m.ones(3, 3), dim=(1, 1)),
             lambda m: m.gradient(m.ones(3, 3), spacing=[1.0, 2.0, 3.0])]
    for case in cases:
        with pytest.raises(RuntimeError):
            case(torch)
        with pytest.raises(RuntimeError):
            case(fastdl)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [dict(bins=5), dict(bins=3, range=(-1.0, 1.0)),
                                    dict(bins=4, density=True), dict(bins=6, weight=True),
                                    dict(bins=4, weight=True, density=True, range=(0.0, 2.0)),
                                    dict(bins=np.array([-2.0, -0.5, 0.0, 0.1, 3.0])),
                                    dict(bins=np.array([-1.0, 1.0]), weight=True)])
def test_histogram(dtype, kwargs):
    x = _r(6, 7, dtype=dtype)

    def call(m, data):
        kw = dict(kwargs)
        if isinstance(kw["bins"], np.ndarray):
            kw["bins"] = m.tensor(kw["bins"].astype(dtype))
        if kw.pop("weight", False):
            kw["weight"] = m.tensor(np.abs(data) + 0.5)  # same values for both
        return m.histogram(m.tensor(data), **kw)
    assert_same(call(fastdl, x), call(torch, x), rtol=1e-5)
    assert_same(call(fastdl, np.full(3, 2.5, dtype=dtype)),
                call(torch, np.full(3, 2.5, dtype=dtype)))
    ours = fastdl.tensor(x).histogram(4)
    assert_same(ours, torch.tensor(x).histogram(4), rtol=1e-5)


def test_histogram_errors():
    cases = [lambda m: m.histogram(m.ones(3, dtype=m.int64), 2),
             lambda m: m.histogram(m.ones(3), 0),
             lambda m: m.histogram(m.ones(3), 2, range=(1.0, 0.0)),
             lambda m: m.histogram(m.ones(3), m.ones(1, 2))]
    for case in cases:
        with pytest.raises(RuntimeError):
            case(torch)
        with pytest.raises(RuntimeError):
            case(fastdl)


@pytest.mark.parametrize("data,dim", [([1, 1, 2, 2, 3, 1, 1, 2], None), ([], None),
                                      ([[1, 1], [1, 1], [2, 0], [2, 0], [1, 1]], 0),
                                      ([[1, 1, 2], [1, 1, 2]], 1), ([[3, 3], [3, 4]], None),
                                      (5, None)])
@pytest.mark.parametrize("flags", [(False, False), (True, False), (False, True), (True, True)])
def test_unique_consecutive(data, dim, flags):
    inverse, counts = flags
    for dtype in (np.int64, np.float32):
        a = np.array(data, dtype=dtype)
        # keywords: torch's positional form returns an empty counts tensor in place of inverse
        kw = dict(return_inverse=inverse, return_counts=counts, dim=dim)
        assert_same(fastdl.unique_consecutive(fastdl.tensor(a), **kw),
                    torch.unique_consecutive(torch.tensor(a), **kw))
        assert_same(fastdl.tensor(a).unique_consecutive(return_counts=counts, dim=dim),
                    torch.tensor(a).unique_consecutive(return_counts=counts, dim=dim))


@pytest.mark.parametrize("args", [(0, 2, 3), (-1.5, 2.25, 7), (2, 0, 5, 2.0), (0, 1, 1),
                                  (1, 3, 0), (0.0, 3.0, 4, 3.0)])
@pytest.mark.parametrize("dtype", [None, fastdl.float64, fastdl.int64])
def test_logspace(args, dtype):
    t_dtype = {None: None, fastdl.float64: torch.float64, fastdl.int64: torch.int64}[dtype]
    assert_same(fastdl.logspace(*args, dtype=dtype), torch.logspace(*args, dtype=t_dtype),
                rtol=1e-6)
    with pytest.raises(TypeError):
        fastdl.logspace(0, 1, 2.0)


@pytest.mark.parametrize("args", [(1, 4), (0, 1, 0.25), (5, 1, -2), (2, 2), (0.5, 2.6, 0.7)])
def test_range_is_end_inclusive_and_deprecated(args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = torch.range(*args)
        assert_same(fastdl.range(*args, dtype=fastdl.float64),
                    torch.range(*args, dtype=torch.float64))
    with pytest.warns(UserWarning, match="deprecated"):
        assert_same(fastdl.range(*args), expected)
    with pytest.raises(RuntimeError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fastdl.range(1, 0, 1)


@pytest.mark.parametrize("size,stride,offset", [((2, 2), (1, 2), None), ((3, 3), (1, 1), 0),
                                                ((2, 3), (3, 1), 1), ((4,), (0,), 2),
                                                ((2, 0), (1, 1), 0)])
def test_as_strided(size, stride, offset):
    x = _r(3, 4)
    check(rng, lambda t: fastdl.as_strided(t, size, stride, offset),
          lambda t: torch.as_strided(t, size, stride, offset), x)
    f = fastdl.tensor(x)
    view = f.as_strided(size, stride, offset)
    assert np.shares_memory(view.numpy(), f.numpy()) or view.numel() == 0
    # a view of a view: strides and offset count from the storage, as torch's
    check(rng, lambda t: t[1:].as_strided(size, stride),
          lambda t: t[1:].as_strided(size, stride), x, grad=False)


def test_as_strided_is_a_read_only_view_and_checks_bounds():
    f = fastdl.arange(6.0)
    view = f.as_strided((2, 2), (1, 2))
    f.add_(1)
    assert view.tolist() == [[1.0, 3.0], [2.0, 4.0]]
    with pytest.raises((RuntimeError, ValueError)):
        view.fill_(0)
    for bad in [((3, 3), (2, 2), 0), ((2,), (-1,), 0), ((2, 2), (1,), 0)]:
        with pytest.raises(RuntimeError):
            torch.arange(6.0).as_strided(*bad)
        with pytest.raises(RuntimeError):
            fastdl.arange(6.0).as_strided(*bad)


def test_new_empty_strided():
    for size, stride in [((2, 3), (1, 2)), ((4,), (3,)), ((2, 0), (1, 1)), ((), ())]:
        ours = fastdl.ones(1, dtype=fastdl.float64).new_empty_strided(size, stride)
        theirs = torch.ones(1, dtype=torch.float64).new_empty_strided(size, stride)
        assert ours.shape == tuple(theirs.shape) and ours.dtype == fastdl.float64
        assert ours.stride() == theirs.stride() or 0 in size
        ours.fill_(2.0)
        assert (ours == 2.0).all()
    out = fastdl.ones(1).new_empty_strided((2,), (1,), dtype=fastdl.int32)
    assert out.dtype == fastdl.int32
