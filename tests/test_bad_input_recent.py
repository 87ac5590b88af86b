"""Bad input to the most recently added APIs, checked against torch's behaviour: the few-query
attention path, fastdl.masked's normalizations, the in-place samplers, linalg's dtype message."""
import math

import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F


def _t(a):
    return fastdl.from_numpy(np.ascontiguousarray(a))


def _mean_v(v):
    return np.broadcast_to(v.mean(axis=-2, keepdims=True), v.shape[:-2] + (1, v.shape[-1]))


@pytest.mark.parametrize("L", [1, 2, 3, 40])
@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("scale", [None, 2.0, math.inf])
def test_sdpa_zero_embedding_gives_mean_of_values(L, grad, scale):
    """E = 0: every score is an empty dot product (0), so each row is the mean of the values,
    as torch's -- the no-grad few-query kernel gave NaN (0 * the default scale 1/sqrt(0))."""
    rng = np.random.default_rng(0)
    v = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)
    q = _t(np.zeros((2, 3, L, 0), np.float32)).requires_grad_(grad)
    out = F.scaled_dot_product_attention(q, _t(np.zeros((2, 3, 5, 0), np.float32)), _t(v),
                                         scale=scale).detach().numpy()
    np.testing.assert_allclose(out, np.broadcast_to(_mean_v(v), out.shape), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("L", [1, 3])
@pytest.mark.parametrize("shape", [dict(S=0), dict(Dv=0), dict(S=0, E=0, Dv=0), dict(L=0)])
def test_sdpa_few_queries_empty_sizes(L, shape):
    n = {**dict(L=L, S=5, E=4, Dv=3), **shape}
    with fastdl.no_grad():
        out = F.scaled_dot_product_attention(_t(np.ones((1, 2, n["L"], n["E"]), np.float32)),
                                             _t(np.ones((1, 2, n["S"], n["E"]), np.float32)),
                                             _t(np.ones((1, 2, n["S"], n["Dv"]), np.float32)))
    assert out.shape == (1, 2, n["L"], n["Dv"])
    if n["S"]:  # every value 1: the weighted mean is 1
        assert np.allclose(out.numpy(), 1.0)
    else:  # no keys: 0, as torch's
        assert np.all(out.numpy() == 0)


@pytest.mark.parametrize("dtype", [np.int64, np.bool_])
def test_sdpa_few_queries_rejects_non_float(dtype):
    q, k, v = (_t(np.ones(s, dtype)) for s in ((1, 2, 1, 4), (1, 2, 5, 4), (1, 2, 5, 3)))
    with fastdl.no_grad(), pytest.raises(TypeError, match="query must be a floating point"):
        F.scaled_dot_product_attention(q, k, v)


def _ints():
    return _t(np.arange(12, dtype=np.int64).reshape(3, 4))


_MASK = np.array([[True, False, True, True], [False] * 4, [True] * 4])


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
def test_masked_softmaxes_refuse_integer_input_without_dtype(name):
    fn = getattr(fastdl.masked, name)
    with pytest.raises(TypeError, match=f"masked.{name}.*floating point input, got int64"):
        fn(_ints(), 1, mask=_t(_MASK))
    # with a dtype torch computes it (its masked-out identity is then the integer min)
    out = fn(_ints(), 1, dtype=fastdl.float32, mask=_t(_MASK))
    assert out.dtype == fastdl.float32 and out.shape == (3, 4)


def test_masked_logaddexp_refuses_integer_input():
    m = _t(_MASK)
    with pytest.raises(TypeError, match="masked.logaddexp.*got int64"):
        fastdl.masked.logaddexp(_ints(), _ints(), input_mask=m, other_mask=m)
    x = _t(np.zeros((3, 4), np.float32))
    with pytest.raises(TypeError, match="masked.logaddexp"):
        fastdl.masked.logaddexp(x, _ints(), input_mask=m, other_mask=m)


def test_masked_float_inputs_unchanged():
    x = _t(np.arange(12, dtype=np.float32).reshape(3, 4))
    out = fastdl.masked.log_softmax(x, 1, mask=_t(_MASK)).numpy()
    assert np.isneginf(out[0, 1]) and np.isnan(out[1]).all()


def test_linalg_half_input_names_the_supported_dtypes():
    with pytest.raises(RuntimeError, match="Got Half.*supports float32 and float64"):
        fastdl.masked.norm(_t(np.ones(3, np.float16)), 2.0, 0)
    with pytest.raises(RuntimeError, match="Got Long$"):
        fastdl.linalg.ldl_factor(_t(np.eye(3, dtype=np.int64)))


@pytest.mark.parametrize("method,error", [
    ("uniform_", NotImplementedError), ("normal_", NotImplementedError),
    ("log_normal_", NotImplementedError), ("cauchy_", RuntimeError),
    ("exponential_", RuntimeError)])  # torch's exception types
@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.uint8])
def test_continuous_samplers_refuse_integer_tensors(method, error, dtype):
    x = _t(np.zeros(4, dtype))
    with pytest.raises(error, match=f"{method}.*floating point tensor, got dtype"):
        getattr(x, method)()
    assert (x.numpy() == 0).all()


def test_geometric_refuses_bool_but_fills_integers():
    with pytest.raises(NotImplementedError, match="geometric_: a bool tensor"):
        _t(np.zeros(4, np.bool_)).geometric_(0.5)
    x = _t(np.zeros(6, np.int64)).geometric_(0.5)
    assert x.dtype == fastdl.int64 and (x.numpy() >= 1).all()


@pytest.mark.parametrize("a,b,dtype,match", [
    (math.nan, 1.0, np.float32, "from is out of bounds"),
    (0.0, math.inf, np.float32, "to is out of bounds"),
    (-math.inf, 0.0, np.float64, "from is out of bounds"),
    (0.0, 7e4, np.float16, "to is out of bounds"),
    (-3e38, 3e38, np.float32, "to - from to fit"),
])
def test_uniform_bounds_must_be_finite_in_the_dtype(a, b, dtype, match):
    with pytest.raises(RuntimeError, match=match):
        _t(np.zeros(3, dtype)).uniform_(a, b)


def test_uniform_wide_float64_range_is_fine():
    x = _t(np.zeros(3, np.float64)).uniform_(-3e38, 3e38)
    assert np.isfinite(x.numpy()).all()
