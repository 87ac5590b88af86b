"""``linear`` (one fused node on fastdl's GEMM) and ``bilinear``."""
from __future__ import annotations

import numpy as np

from fastdl import backend, ops
from fastdl.functional import linalg as _linalg
from fastdl.functional import reductions as R
from fastdl.nn.functional._checks import check_float, check_same_dtype
from fastdl.nn.functional._fused import fused


def _gemm(a, b, trans_a=False, trans_b=False, bias=None):
    """op(a) @ op(b) (+ bias broadcast over rows) for 2-D arrays: float32 and float64 (gradcheck)
    on fastdl's GEMM with the transposes as strides (no copies); other dtypes on numpy/cupy."""
    if a.dtype in (np.float32, np.float64) and b.dtype == a.dtype:
        if bias is None:
            return ops.gemm(a, b, trans_a=trans_a, trans_b=trans_b)
        rows = a.shape[1] if trans_a else a.shape[0]
        cols = b.shape[0] if trans_b else b.shape[1]
        out = backend.array_module(a).empty((rows, cols), dtype=a.dtype)
        out[...] = bias  # GEMM accumulates onto it with beta=1: no separate bias pass
        return ops.gemm(a, b, out, beta=1.0, trans_a=trans_a, trans_b=trans_b)
    out = (a.T if trans_a else a) @ (b.T if trans_b else b)
    if bias is not None:
        out += bias
    return out


def linear(input, weight, bias=None):
    """``input @ weight.T + bias``: one GEMM reading ``weight`` transposed in place, the bias
    folded in with beta=1; backward is two GEMMs and a column sum."""
    check_float(input, "linear")
    check_float(weight, "linear", "weight")
    if bias is not None:
        check_float(bias, "linear", "bias")
    check_same_dtype("linear", input=input, weight=weight, bias=bias)
    x, w = input._data, weight._data
    if w.ndim != 2:
        raise ValueError(f"linear(): weight must be 2-D (out_features, in_features), got shape "
                         f"{tuple(w.shape)}")
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"linear(): input shape {tuple(x.shape)} and weight shape "
                         f"{tuple(w.shape)} do not agree: the input's last dimension must be "
                         f"in_features={w.shape[1]}")
    out_features, in_features = w.shape
    if bias is not None and bias._data.shape != (out_features,):
        raise ValueError(f"linear(): bias must have shape ({out_features},) to match weight "
                         f"shape {tuple(w.shape)}, got {tuple(bias._data.shape)}")
    x2 = x.reshape(-1, in_features)
    b = None if bias is None else bias._data
    out = _gemm(x2, w, trans_b=True, bias=b).reshape(x.shape[:-1] + (out_features,))

    inputs = (input, weight) if bias is None else (input, weight, bias)

    def array_backward(g):
        g2 = g.reshape(-1, out_features)
        grad_x = _gemm(g2, w).reshape(x.shape) if input._requires_grad else None
        grad_w = _gemm(g2, x2, trans_a=True) if weight._requires_grad else None
        if bias is None:
            return grad_x, grad_w
        return grad_x, grad_w, (g2.sum(axis=0) if bias._requires_grad else None)

    return fused(out, inputs, array_backward, _linalg.linear, "LinearBackward")


def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij x1[..., i] weight[o, i, j] x2[..., j] + bias[o], composed from a GEMM
    (x1 against weight laid out as (in1, out * in2)) and a product-sum with x2."""
    for t, name in ((input1, "input1"), (input2, "input2"), (weight, "weight")):
        check_float(t, "bilinear", name)
    if bias is not None:
        check_float(bias, "bilinear", "bias")
    check_same_dtype("bilinear", input1=input1, input2=input2, weight=weight, bias=bias)
    w = weight._data
    s1, s2 = tuple(input1._data.shape), tuple(input2._data.shape)
    if w.ndim != 3:
        raise ValueError(f"bilinear(): weight must be 3-D (out, in1, in2), got shape "
                         f"{tuple(w.shape)}")
    out_features, in1, in2 = w.shape
    if len(s1) == 0 or s1[-1] != in1 or s2 != s1[:-1] + (in2,):
        raise ValueError(f"bilinear(): input1 shape {s1} and input2 shape {s2} do not agree with "
                         f"weight shape {tuple(w.shape)} (need (..., {in1}) and (..., {in2}) "
                         "with equal leading dimensions)")
    if bias is not None and bias._data.shape != (out_features,):
        raise ValueError(f"bilinear(): bias must have shape ({out_features},), got "
                         f"{tuple(bias._data.shape)}")
    lead = s1[:-1]
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, 1, in2)
    w_flat = weight.permute(1, 0, 2).reshape(in1, out_features * in2)
    projected = _linalg.matmul(x1, w_flat).reshape(-1, out_features, in2)
    out = R.sum(projected * x2, -1)
    if bias is not None:
        out = out + bias
    return out.reshape(lead + (out_features,))
