"""fastdl's statistics functions (functional/statistics.py) against torch 2.13 on fresh inputs
from a fixed seed: quantile/nanquantile (every interpolation, dims, keepdim, tensor q, NaN),
cov (correction, fweights, aweights), corrcoef, isin; values, dtypes, gradients and errors."""
import numpy as np
import pytest
import torch

import fastdl
from api_compare import assert_same, check

rng = np.random.default_rng(20261130)  # fixed: the same inputs on every run

INTERPOLATIONS = ["linear", "lower", "higher", "midpoint", "nearest"]


def _r(*shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("shape,dim,keepdim", [((7,), None, False), ((3, 5), 1, False),
                                               ((3, 5), 0, True), ((2, 3, 4), None, True),
                                               ((2, 3, 4), -2, False), ((), None, False),
                                               ((), 0, True), ((1, 4), 0, False)])
def test_quantile_scalar_q(name, interpolation, shape, dim, keepdim):
    for q in (0.0, 0.3, 0.5, 1.0):
        check(rng, lambda x: getattr(fastdl, name)(x, q, dim, keepdim,
                                                   interpolation=interpolation),
              lambda x: getattr(torch, name)(x, q, dim, keepdim, interpolation=interpolation),
              _r(*shape))


@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_quantile_tensor_q_is_differentiable(name, interpolation):
    q = np.array([0.1, 0.5, 0.77, 0.9])  # inside (0, 1): gradcheck perturbs q
    check(rng, lambda x, qs: getattr(x, name)(qs, 1, True, interpolation=interpolation),
          lambda x, qs: getattr(x, name)(qs, 1, True, interpolation=interpolation),
          _r(3, 6), q, grad=interpolation == "linear")
    check(rng, lambda x: getattr(x, name)(fastdl.tensor(q, dtype=fastdl.float32)),
          lambda x: getattr(x, name)(torch.tensor(q, dtype=torch.float32)),
          _r(5, 2, dtype=np.float32), grad=False, rtol=1e-5)


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
def test_quantile_with_nan(interpolation):
    x = _r(4, 6)
    x[0, 1] = x[2, :] = x[3, 0] = x[3, 4] = np.nan
    for name in ("quantile", "nanquantile"):
        check(rng, lambda t: getattr(fastdl, name)(t, fastdl.tensor([0.2, 0.9],
                                                                    dtype=fastdl.float64), 1,
                                                   interpolation=interpolation),
              lambda t: getattr(torch, name)(t, torch.tensor([0.2, 0.9], dtype=torch.float64),
                                             1, interpolation=interpolation),
              x, grad=False)


def test_quantile_errors():
    cases = [lambda m, x: m.quantile(x, m.tensor([0.5], dtype=m.float32)),
             lambda m, x: m.quantile(x, 1.5), lambda m, x: m.quantile(x, -0.1),
             lambda m, x: m.quantile(x.long(), 0.5),
             lambda m, x: m.quantile(x, m.ones(2, 2, dtype=m.float64) * 0.5),
             lambda m, x: m.quantile(x, 0.5, interpolation="foo"),
             lambda m, x: m.quantile(x[:0], 0.5), lambda m, x: m.nanquantile(x, 2.0)]
    for case in cases:
        with pytest.raises(RuntimeError):
            case(torch, torch.ones(3, dtype=torch.float64))
        with pytest.raises(RuntimeError):
            case(fastdl, fastdl.ones(3, dtype=fastdl.float64))
    with pytest.raises(IndexError):
        fastdl.quantile(fastdl.ones(3), 0.5, dim=2)


@pytest.mark.parametrize("shape", [(3, 6), (1, 5), (6,), (4, 2), (2, 1)])
@pytest.mark.parametrize("correction", [0, 1, 2])
@pytest.mark.parametrize("weights", [None, "f", "a", "fa"])
def test_cov(shape, correction, weights):
    n = shape[-1]
    fw = rng.integers(0, 4, n) if "f" in (weights or "") else None
    if fw is not None:
        fw[0] += 1  # some weights may be zero, never all
    aw = rng.random(n) + 0.1 if "a" in (weights or "") else None

    def call(m, x):
        kw = {"correction": correction}
        if fw is not None:
            kw["fweights"] = m.tensor(fw)
        if aw is not None:
            kw["aweights"] = m.tensor(aw)
        return m.cov(x, **kw)
    # torch's backward setup of one observation raises an in-place leaf error: values only
    check(rng, lambda x: call(fastdl, x), lambda x: call(torch, x), _r(*shape), grad=n > 1)
    check(rng, lambda x: x.corrcoef(), lambda x: x.corrcoef(), _r(*shape), grad=False)


def test_cov_dtypes_and_errors():
    check(rng, fastdl.cov, torch.cov, rng.integers(-5, 5, (3, 4)), grad=False)
    check(rng, fastdl.cov, torch.cov, _r(3, 4, dtype=np.float32), grad=False, rtol=1e-5)
    check(rng, fastdl.corrcoef, torch.corrcoef, _r(3, 4), grad=False)
    bad = [dict(input=np.ones((2, 2, 2))), dict(fweights=np.array([1.0, 2.0, 3.0])),
           dict(fweights=np.array([1, -2, 3])), dict(aweights=np.array([1.0, -2.0, 3.0])),
           dict(aweights=np.array([1, 2, 3])), dict(aweights=np.array([1.0, 2.0])),
           dict(fweights=np.ones((3, 1), dtype=np.int64)),
           dict(fweights=np.zeros(3, dtype=np.int64))]
    for case in bad:
        for m in (torch, fastdl):
            kw = {k: m.tensor(v) for k, v in case.items() if k != "input"}
            x = m.tensor(case.get("input", np.ones((2, 3))))
            with pytest.raises(RuntimeError):
                m.cov(x, **kw)


@pytest.mark.parametrize("invert", [False, True])
@pytest.mark.parametrize("assume_unique", [False, True])
@pytest.mark.parametrize("dtypes", [(np.int64, np.int64), (np.float32, np.float64),
                                    (np.int32, np.float32), (np.float64, np.float64)])
def test_isin(invert, assume_unique, dtypes):
    elements = rng.integers(-4, 5, (3, 5)).astype(dtypes[0])
    tests = np.unique(rng.integers(-4, 5, 6)).astype(dtypes[1])
    if dtypes[0] == np.float64:
        elements[0, 0] = tests[0] = np.nan  # NaN is never in anything
        elements[1, 1] = 0.5
    kw = dict(invert=invert, assume_unique=assume_unique)
    assert_same(fastdl.isin(fastdl.tensor(elements), fastdl.tensor(tests), **kw),
                torch.isin(torch.tensor(elements), torch.tensor(tests), **kw))
    assert_same(fastdl.isin(fastdl.tensor(elements), 2, **kw),
                torch.isin(torch.tensor(elements), 2, **kw))
    assert_same(fastdl.isin(3, fastdl.tensor(tests), **kw),
                torch.isin(3, torch.tensor(tests), **kw))
    assert_same(fastdl.isin(fastdl.tensor(elements[:0]), fastdl.tensor(tests), **kw),
                torch.isin(torch.tensor(elements[:0]), torch.tensor(tests), **kw))
    with pytest.raises(TypeError):
        torch.isin(1, 2)
    with pytest.raises(TypeError):
        fastdl.isin(1, 2)
