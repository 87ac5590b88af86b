"""``linear`` (one fused node on fastdl's GEMM) and ``bilinear``."""
from __future__ import annotations

from fastdl.amp._dispatch import autocast_op
from fastdl.functional import linalg as _linalg
from fastdl.functional import reductions as R
from fastdl.nn.functional._checks import check_float, check_same_dtype


@autocast_op("linear")
def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` (``fastdl.functional.linear``, after checking the arguments
    and saying what disagrees)."""
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
    return _linalg.linear(input, weight, bias)


@autocast_op("bilinear")
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
