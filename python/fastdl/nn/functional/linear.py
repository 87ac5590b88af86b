"""``linear`` (one fused node on fastdl's GEMM) and ``bilinear``."""
from __future__ import annotations

from fastdl.amp._dispatch import autocast_op
from fastdl.functional import linalg as _linalg
from fastdl.functional import reductions as R
from fastdl.functional._core import _category, check_addmm_dtypes, torch_dtype_name
from fastdl.functional.matmul_dtypes import check_matmul, cpp_name
from fastdl.nn.functional._checks import check_tensor
from fastdl.nn.functional.linear_checks import (check_bilinear, check_linear,
                                                  linear_fuses_bias)


@autocast_op("linear")
def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` (``fastdl.functional.linear``, after checking the arguments
    and saying what disagrees)."""
    check_tensor(input, "linear")
    check_tensor(weight, "linear", "weight")
    if bias is not None:
        check_tensor(bias, "linear", "bias")
    check_linear(input, weight, bias, bias.type().split(".", 1)[1] if bias is not None else "")
    bias = _check_linear_dtypes(input, weight, bias)
    if weight._data.ndim == 1:  # torch's matmul(input, weight.t()): a matrix-vector product
        out = _linalg.matmul(input, weight)
        return out if bias is None else out + bias
    if bias is not None and bias._data.shape != weight._data.shape[:1]:
        out = _linalg.linear(input, weight) + bias  # a bias that broadcasts to the result
        # addmm's result has the input's leading shape, whatever 1s the bias carried
        return out.reshape(input._data.shape[:-1] + weight._data.shape[:1]) \
            if linear_fuses_bias(input, bias) else out
    return _linalg.linear(input, weight, bias)


def _check_linear_dtypes(input, weight, bias):
    """torch's dtype rules for linear, which never promotes: with a bias it runs addmm (on a
    contiguous input of any rank, flattened), which checks the bias, then the input, against
    the weight; otherwise (a non-contiguous input, a bias of more than one dim) matmul(input,
    weight.T), then adds the bias in place, which casts it to the result's dtype where that
    loses no category. Returns the bias to add."""
    dtype = input._data.dtype
    if linear_fuses_bias(input, bias):
        check_addmm_dtypes(bias, input, weight)
        if dtype == bool:
            raise NotImplementedError("\"addmm_impl_cpu_\" not implemented for 'Bool'")
        return bias
    if dtype != weight._data.dtype or dtype == bool:
        check_matmul(input, weight.t())
    if bias is not None and bias._data.dtype != dtype:
        if _category(bias._data.dtype) > _category(dtype):
            raise RuntimeError(f"result type {torch_dtype_name(bias._data.dtype)} can't be cast "
                               f"to the desired output type {torch_dtype_name(dtype)}")
        bias = bias.to(dtype)
    return bias


@autocast_op("bilinear")
def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij x1[..., i] weight[o, i, j] x2[..., j] + bias[o], composed from a GEMM
    (x1 against weight laid out as (in1, out * in2)) and a product-sum with x2."""
    named = {"input1": input1, "input2": input2, "weight": weight}
    if bias is not None:
        named["bias"] = bias
    for name, t in named.items():
        check_tensor(t, "bilinear", name)
    if len({t._data.dtype for t in named.values()}) > 1:  # torch does not promote here
        described = ", ".join(f"{name}: {cpp_name(t._data.dtype)}" for name, t in named.items())
        raise RuntimeError(f"All tensors must have the same dtype, got {described}")
    if input1._data.dtype == bool:  # torch's bilinear contracts with bmm
        raise NotImplementedError("\"bmm\" not implemented for 'Bool'")
    w = weight._data
    s1, s2 = tuple(input1._data.shape), tuple(input2._data.shape)
    check_bilinear(s1, s2, tuple(w.shape), None if bias is None else tuple(bias._data.shape))
    out_features, in1, in2 = w.shape
    lead = s1[:-1]
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, 1, in2)
    w_flat = weight.permute(1, 0, 2).reshape(in1, out_features * in2)
    projected = _linalg.matmul(x1, w_flat).reshape(-1, out_features, in2)
    out = R.sum(projected * x2, -1, dtype=projected.dtype)  # an integer sum keeps its dtype
    if bias is not None:
        out = out + bias
    return out.reshape(lead + (out_features,))
