"""Matrix products on fastdl's GEMM kernels.

float32 and float64 go through our GEMM kernels (``_C.gemm`` for numpy arrays, ``_C_cuda.gemm``
for cupy arrays: each op declares both forwards; the kernels behind ``fastdl.ops.gemm`` are
templated on the element type), so gradcheck's float64 products run
the same packing, blocking and threading as training's float32 ones. Other dtypes — integers
appear in index arithmetic — fall back to numpy/cupy ``matmul``.

The core op is ``_mm(a, b, trans_a, trans_b) = op(a) @ op(b)`` on >= 2-D operands with
broadcastable batch dims. Its gradients are again ``_mm`` with other trans flags, so backward
runs on the GEMM kernel with transposes expressed as strides (no transposed copies), and the
gradients are differentiable for ``create_graph``.
"""
from __future__ import annotations

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl import _C, backend
from fastdl.autograd.op import defop
from fastdl.backend.pool import result_array
from fastdl.functional._core import Tensor, grad_for
from fastdl.functional.matmul_dtypes import check_matmul, check_mm
from fastdl.functional.shape import reshape, unsqueeze, squeeze


def _batch_shape(sa, sb):
    """Broadcast batch dims (np.broadcast_shapes costs microseconds; this is the common case)."""
    if sa == sb:
        return sa
    try:
        return np.broadcast_shapes(sa, sb)
    except ValueError:
        raise RuntimeError(f"matmul: batch dimensions {tuple(sa)} and {tuple(sb)} do not "
                           "broadcast") from None


def _mm_cpu(ad, bd, trans_a, trans_b, kernels=_C, xp=np):
    """op(a) @ op(b) on our GEMM kernel (the CPU's by default; _mm_cuda passes the GPU's)."""
    if trans_a:
        ad = ad.swapaxes(-1, -2)
    if trans_b:
        bd = bd.swapaxes(-1, -2)
    if ad.dtype not in backend.KERNEL_DTYPES:
        return xp.matmul(ad, bd)
    if ad.ndim == 2 and bd.ndim == 2:  # no batch: the common case, and the backward's
        out = result_array((ad.shape[0], bd.shape[1]), ad.dtype, xp)
        kernels.gemm(ad, bd, out, 1.0, 0.0)
        return out
    # Straight to the kernel set: the binding checks dtype, device and shapes itself, and
    # fastdl.ops.gemm's Python-side re-checks would triple this op's overhead on small inputs.
    batch = _batch_shape(ad.shape[:-2], bd.shape[:-2])
    if ad.shape[:-2] != batch:
        ad = xp.broadcast_to(ad, batch + ad.shape[-2:])
    if bd.shape[:-2] != batch:
        bd = xp.broadcast_to(bd, batch + bd.shape[-2:])
    out = result_array(batch + (ad.shape[-2], bd.shape[-1]), ad.dtype, xp)
    kernels.gemm(ad, bd, out, 1.0, 0.0)
    return out


def _mm_cuda(ad, bd, trans_a, trans_b):
    return _mm_cpu(ad, bd, trans_a, trans_b, backend.cuda_kernels(), backend.array_module(ad))


def _mm_backward(ctx, g):
    # C = op(A) op(B):  d op(A) = G op(B)^T,  d op(B) = op(A)^T G
    a, b = ctx.inputs
    trans_a, trans_b = ctx.args
    ga = gb = None
    if ctx.edges[0] is not None:
        ga = grad_for(_mm(b, g, trans_b, True) if trans_a else _mm(g, b, False, not trans_b), a)
    if ctx.edges[1] is not None:
        gb = grad_for(_mm(g, a, True, trans_a) if trans_b else _mm(a, g, not trans_a, False), b)
    return ga, gb


mm_op = defop("mm", cpu=_mm_cpu, cuda=_mm_cuda, backward=_mm_backward,
               saves={0: (1,), 1: (0,)})


def _mm(a: Tensor, b: Tensor, trans_a: bool = False, trans_b: bool = False) -> Tensor:
    ad, bd = a._data, b._data
    ka = ad.shape[-2] if trans_a else ad.shape[-1]
    kb = bd.shape[-1] if trans_b else bd.shape[-2]
    if ka != kb:
        sa = ad.shape[:-2] + (ad.shape[-1], ad.shape[-2]) if trans_a else ad.shape
        sb = bd.shape[:-2] + (bd.shape[-1], bd.shape[-2]) if trans_b else bd.shape
        raise RuntimeError(f"matmul: shapes {tuple(sa)} and {tuple(sb)} cannot be multiplied "
                           f"({ka} != {kb})")
    _batch_shape(ad.shape[:-2], bd.shape[:-2])
    if ad.dtype != bd.dtype:  # torch's products never promote; callers check with its words
        check_mm(a, b)
    return mm_op.apply((a, b), trans_a, trans_b)


@autocast_op("matmul")
def matmul(input, other):
    """``input @ other`` with torch/numpy semantics (1-D operands, broadcast batch dims).

    Shape: (n, m) @ (m, p) -> (n, p); (..., n, m) @ (..., m, p) broadcasts the batch dims; a
    1-D operand gains a dim of 1 that is then removed.

    >>> fastdl.matmul(fastdl.ones(5, 2, 3), fastdl.ones(3, 4)).shape
    (5, 2, 4)
    >>> fastdl.matmul(fastdl.ones(2, 3), fastdl.ones(3)).shape
    (2,)
    >>> fastdl.matmul(fastdl.tensor([1, 2]), fastdl.tensor([3, 4])).item()
    11
    """
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(f"matmul: expected two Tensors, got {type(input).__name__} and "
                        f"{type(other).__name__}")
    na, nb = input._data.ndim, other._data.ndim
    if na == 0 or nb == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes "
                           f"{tuple(input._data.shape)} and {tuple(other._data.shape)}")
    check_matmul(input, other)
    a = unsqueeze(input, 0) if na == 1 else input
    b = unsqueeze(other, -1) if nb == 1 else other
    out = _mm(a, b)
    if na == 1:
        out = squeeze(out, -2)
    if nb == 1:
        out = squeeze(out, -1)
    return out


@autocast_op("mm")
def mm(input, mat2):
    if input._data.ndim != 2 or mat2._data.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got shapes {tuple(input._data.shape)} and "
                           f"{tuple(mat2._data.shape)}")
    check_matmul(input, mat2)
    return _mm(input, mat2)


@autocast_op("bmm")
def bmm(input, mat2):
    if input._data.ndim != 3 or mat2._data.ndim != 3 or \
            input._data.shape[0] != mat2._data.shape[0]:
        raise RuntimeError(f"bmm: expected 3-D tensors with equal batch size, got shapes "
                           f"{tuple(input._data.shape)} and {tuple(mat2._data.shape)}")
    check_matmul(input, mat2)
    return _mm(input, mat2)


def _rows(shape):
    n = 1
    for s in shape[:-1]:
        n *= s
    return n


def _linear_cpu(x, w, b=None, kernels=_C, xp=np):
    """x @ w.T (+ b) over x's last dim: one GEMM reading w transposed in place (strides, no
    copy), the bias folded in with beta=1 (no separate pass)."""
    x2 = x.reshape(_rows(x.shape), w.shape[1])  # rows explicit: -1 is ambiguous for 0 features
    if x2.dtype not in backend.KERNEL_DTYPES or w.dtype != x2.dtype:
        out = x2 @ w.T
        if b is not None:
            out += b
    else:
        out = result_array((x2.shape[0], w.shape[0]), x2.dtype, xp)
        if b is None:
            kernels.gemm(x2, w.T, out, 1.0, 0.0)
        else:
            out[...] = b
            kernels.gemm(x2, w.T, out, 1.0, 1.0)
    return out.reshape(x.shape[:-1] + (w.shape[0],))


def _linear_cuda(x, w, b=None):
    return _linear_cpu(x, w, b, backend.cuda_kernels(), backend.array_module(x))


def _linear_backward(ctx, g):
    # Shapes and dtypes agree by construction here, so the products go straight to mm_op
    # (what _mm would check is already known) and the bias gradient straight to sum_op.
    x, w = ctx.inputs[0], ctx.inputs[1]
    x2, g2 = x, g
    if x._data.ndim != 2:
        out_features, in_features = w._data.shape
        rows = _rows(x._data.shape)
        x2, g2 = reshape(x, (rows, in_features)), reshape(g, (rows, out_features))
    grad_x = grad_w = grad_b = None
    if ctx.edges[0] is not None:
        grad_x = mm_op.binary(g2, w, False, False)
        if x._data.ndim != 2:
            grad_x = reshape(grad_x, x._data.shape)
    if ctx.edges[1] is not None:
        grad_w = mm_op.binary(g2, x2, True, False)
    if len(ctx.inputs) == 2:
        return grad_x, grad_w
    if ctx.edges[2] is not None:
        from fastdl.functional.reductions import sum_op
        grad_b = sum_op.unary(g2, (0,), False, None)
    return grad_x, grad_w, grad_b


linear_op = defop("linear", cpu=_linear_cpu, cuda=_linear_cuda, backward=_linear_backward,
                  saves={0: (1,), 1: (0,)})


@autocast_op("linear")
def linear(input, weight, bias=None):
    """``input @ weight.T + bias``: one GEMM reading ``weight`` transposed in place, the bias
    folded in; backward is two GEMMs and a column sum (registered ops: differentiable again).

    Shape: input (*, in_features), weight (out_features, in_features), bias (out_features,);
    output (*, out_features).

    >>> y = fastdl.linear(fastdl.ones(2, 3), fastdl.ones(4, 3), fastdl.ones(4))
    >>> y.shape, y[0, 0].item()
    ((2, 4), 4.0)
    """
    inputs = (input, weight) if bias is None else (input, weight, bias)
    return linear_op.apply(inputs)


def outer(input, vec2):
    return unsqueeze(input, 1) * unsqueeze(vec2, 0)


@autocast_op("dot")
def dot(input, other):
    if input._data.ndim != 1 or other._data.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, got shapes {tuple(input._data.shape)} and "
                           f"{tuple(other._data.shape)}")
    return matmul(input, other)
