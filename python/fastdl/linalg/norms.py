"""Vector and matrix norms (torch.linalg.vector_norm, matrix_norm, norm; torch.dist).

vector_norm is one op whose backward is torch's norm_backward: at a zero vector the 2-norm's
gradient is the subgradient 0, not NaN, and the inf-norm's gradient is shared evenly between
the entries that reach the maximum. Matrix norms compose it with svdvals and reductions."""
from __future__ import annotations

import math


from fastdl.amp._dispatch import autocast_op
from fastdl.autograd.grad_mode import state as _grad_state
from fastdl.autograd.op import defop
from fastdl.functional import arithmetic as ar
from fastdl.functional._core import _wrap, norm_dims, xp_of
from fastdl.functional.reductions import amax, amin, sum as reduce_sum
from fastdl.functional.shape import movedim, reshape
from fastdl.linalg._common import check_float
from fastdl.functional.out_arg import supports_out

_INF = math.inf


def _vector_norm_forward(x, ord, dims, keepdim):
    xp = xp_of(x)
    a = xp.abs(x)
    if ord == _INF:
        out = a.max(axis=dims, keepdims=keepdim) if x.size else xp.zeros(
            _reduced_shape(x.shape, dims, keepdim), x.dtype)
    elif ord == -_INF:
        out = a.min(axis=dims, keepdims=keepdim)
    elif ord == 0:
        out = (x != 0).sum(axis=dims, keepdims=keepdim)
    elif ord == 1:
        out = a.sum(axis=dims, keepdims=keepdim)
    elif ord == 2:
        out = xp.sqrt((a * a).sum(axis=dims, keepdims=keepdim))
    else:
        out = (a ** ord).sum(axis=dims, keepdims=keepdim) ** (1.0 / ord)
    return xp.asarray(out, dtype=x.dtype)


def _reduced_shape(shape, dims, keepdim):
    dims = range(len(shape)) if dims is None else dims
    return tuple(1 if i in dims else s for i, s in enumerate(shape)
                 if keepdim or i not in dims)


def _vector_norm_backward(ctx, g):
    x, = ctx.inputs
    ord, dims, keepdim = ctx.args
    norm = vector_norm_op.apply((x,), *ctx.args) if _grad_state.enabled else _wrap(ctx.out)
    if not keepdim:  # broadcast the reduced results back over the reduced dims
        kept = _reduced_shape(x._data.shape, dims, True)
        norm, g = reshape(norm, kept), reshape(g, kept)
    if ord == 0:
        return (ar.mul(x, 0.0),)
    if ord == 1:
        return (ar.sign(x) * g,)
    zero = norm == 0
    safe_norm = ar.where(zero, 1.0, norm)  # the division never sees 0: higher derivatives too
    if ord == 2:
        return (x * ar.where(zero, 0.0, g / safe_norm),)
    if ord in (_INF, -_INF):
        hits = (ar.abs(x) == norm).to(x._data.dtype)
        count = reduce_sum(hits, dims, True)
        return (ar.sign(x) * hits * (g / count),)
    if ord < 1:
        scaled = ar.where(x == 0, 0.0, ar.sign(x) * ar.abs(x) ** (ord - 1))
        return (scaled * g * norm ** (1 - ord),)
    scaled = ar.sign(x) * ar.abs(x) ** (ord - 1) if ord < 2 else x * ar.abs(x) ** (ord - 2)
    return (scaled * ar.where(zero, 0.0, g / safe_norm ** (ord - 1)),)


vector_norm_op = defop("linalg_vector_norm", forward=_vector_norm_forward,
                       backward=_vector_norm_backward, saves=(0,), saves_output=True,
                       float_only=True)


@supports_out("linalg_vector_norm")
@autocast_op("vector_norm")
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    """The vector ord-norm over ``dim`` (all elements when None): sum(|x|^ord)^(1/ord); ord
    inf/-inf take max/min |x|, ord 0 counts the non-zeros.

    >>> fastdl.linalg.vector_norm(fastdl.tensor([3.0, -4.0])).item()
    5.0
    >>> fastdl.linalg.vector_norm(fastdl.tensor([3.0, -4.0]), ord=float("inf")).item()
    4.0
    """
    check_float("linalg.vector_norm", x)
    if dtype is not None:
        x = x.to(dtype)
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: Expected a real number for ord, got {ord!r}")
    dims = norm_dims(dim, x._data.ndim)
    if x._data.ndim == 0:  # dim 0 / -1 of a scalar is the scalar itself (checked above)
        dims = None
    if x._data.size == 0 and ord < 0 or (x._data.size == 0 and ord == _INF and dims is None):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty "
                           "tensor because the operation does not have an identity")
    return vector_norm_op.apply((x,), float(ord), dims, bool(keepdim))


@supports_out("linalg_matrix_norm")
@autocast_op("matrix_norm")
def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """The matrix norm over the two dims ``dim``: 'fro', 'nuc' (sum of singular values), 2/-2
    (largest/smallest singular value), 1/-1 (max/min column abs-sum), inf/-inf (rows).

    >>> fastdl.linalg.matrix_norm(fastdl.tensor([[1.0, -2.0], [3.0, 4.0]]), ord=1).item()
    6.0
    """
    name = "linalg.matrix_norm"
    check_float(name, A)
    if dtype is not None:
        A = A.to(dtype)
    ndim = A._data.ndim
    if ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if len(dim) != 2:
        # torch lists the dims space-separated ("Got 0 1 2")
        raise RuntimeError(f"{name}: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
    d0, d1 = (d % ndim for d in dim)
    if d0 == d1:
        raise RuntimeError(f"{name}: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        from fastdl.linalg.decompositions import svdvals
        s = svdvals(movedim(A, (d0, d1), (-2, -1)))
        out = reduce_sum(s, -1) if ord == "nuc" else amax(s, -1) if ord == 2 else amin(s, -1)
        return _restore_dims(out, (d0, d1), keepdim)
    if ord in (1, -1, _INF, -_INF):
        summed, reduced = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = reduce_sum(ar.abs(A), summed, True)
        out = amax(sums, reduced, True) if ord > 0 else amin(sums, reduced, True)
        return out if keepdim else reshape(out, _reduced_shape(A._data.shape, (d0, d1),
                                                                False))
    raise RuntimeError(f"{name}: Order {ord} not supported.")


def _restore_dims(out, dims, keepdim):
    """A result over the batch dims, with size-1 dims put back at ``dims`` for keepdim."""
    if not keepdim:
        return out
    for d in sorted(dims):
        out = out.unsqueeze(d)
    return out


@supports_out("linalg_norm")
def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """torch.linalg.norm: a vector norm over one dim (or all elements when ord and dim are
    None), a matrix norm over two dims (or for a 2-D input when ord is given without dim).

    >>> fastdl.linalg.norm(fastdl.tensor([[1.0, 2.0], [2.0, 4.0]])).item()
    5.0
    """
    check_float("linalg.norm", A)
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) == 2 or dim is None and (
            isinstance(ord, str) or ord is not None and A._data.ndim == 2):
        if dim is None and A._data.ndim != 2:
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input "
                               f"must be 1D or 2D. Got {A._data.ndim}D.")
        return matrix_norm(A, "fro" if ord is None else ord, (-2, -1) if dim is None else dim,
                           keepdim, dtype=dtype)
    if dim is None and ord is not None and A._data.ndim != 1:
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must "
                           f"be 1D or 2D. Got {A._data.ndim}D.")
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


@autocast_op("dist")
def dist(input, other, p=2):
    """The p-norm of ``input - other`` (broadcast), torch.dist.

    >>> fastdl.dist(fastdl.tensor([1.0, 1.0]), fastdl.tensor([4.0, 5.0])).item()
    5.0
    """
    return vector_norm(input - other, p)


__all__ = ["vector_norm", "matrix_norm", "norm", "dist"]
