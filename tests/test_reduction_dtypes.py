"""sum / prod / cumsum / cumprod result dtypes and values against torch, for every input dtype
crossed with every ``dtype=`` (None included): integer and bool inputs give int64 unless
``dtype=`` is given, which is then kept (numpy's sum would widen int8..int32 to int64)."""
import numpy as np
import pytest
import torch

import fastdl

DTYPE_NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64",
               "float16", "float32", "float64"]
REDUCTIONS = ["sum", "prod", "cumsum", "cumprod"]


def _input(name, high=90):
    rng = np.random.default_rng(20261130)
    # values up to 90: int8 products and sums overflow, so the wrap-around in the asked dtype
    # is compared too
    return rng.integers(0, high, size=(3, 4)).astype(name)


def _call(lib, fn_name, array, dim, dtype_name):
    kwargs = {} if dtype_name is None else {"dtype": getattr(lib, dtype_name)}
    x = torch.from_numpy(array) if lib is torch else fastdl.tensor(array)
    args = () if dim is None else (dim,)
    return getattr(lib, fn_name)(x, *args, **kwargs)


def _cases():
    for fn_name in REDUCTIONS:
        dims = [1, -2] if fn_name.startswith("cum") else [None, 0, 1]
        for src in DTYPE_NAMES:
            for dtype_name in [None, *DTYPE_NAMES]:
                for dim in dims:
                    yield fn_name, src, dtype_name, dim


@pytest.mark.parametrize("fn_name,src,dtype_name,dim", list(_cases()))
def test_result_dtype_and_values_match_torch(fn_name, src, dtype_name, dim):
    # torch's float16 prod multiplies in float16 in its own vectorized order, so where its
    # partial products overflow (inf, then inf * 0 = nan) depends on that order: float16
    # products are compared on values that stay finite (fastdl multiplies in float32, as
    # torch's cumprod does).
    float16_product = fn_name == "prod" and (dtype_name or src) == "float16"
    array = _input(src, high=3 if float16_product else 90)
    try:
        expected = _call(torch, fn_name, array, dim, dtype_name)
    except NotImplementedError:  # cumsum/cumprod with dtype=torch.bool
        with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
            _call(fastdl, fn_name, array, dim, dtype_name)
        return
    got = _call(fastdl, fn_name, array, dim, dtype_name)
    assert str(got.dtype) == str(expected.dtype).removeprefix("torch.")
    assert got.shape == tuple(expected.shape)
    if expected.dtype.is_floating_point:
        # torch accumulates float16 in float32; numpy's float16 sum rounds per step
        tol = 2e-2 if expected.dtype == torch.float16 else 1e-6
        np.testing.assert_allclose(got.numpy().astype(np.float64),
                                   expected.double().numpy(), rtol=tol)
    else:
        np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_tensor_method_sum_keeps_the_asked_integer_dtype():
    x = fastdl.tensor(np.array([[1, 2], [3, 4]], dtype=np.int32))
    assert x.sum(1, dtype=fastdl.int32).dtype == np.int32
    assert x.sum(dtype=fastdl.int16).dtype == np.int16
    assert x.sum().dtype == np.int64

