"""Argument checks shared by the nn.functional ops: clear TypeError/ValueError with shapes."""
from __future__ import annotations

from fastdl.tensor import Tensor

REDUCTIONS = ("none", "mean", "sum")


def check_tensor(x, fn: str, name: str = "input") -> Tensor:
    if type(x) is not Tensor and not isinstance(x, Tensor):  # exact type first: on every op's path
        raise TypeError(f"{fn}(): argument '{name}' must be a fastdl.Tensor, "
                        f"got {type(x).__name__}")
    return x


def check_float(x, fn: str, name: str = "input", error=TypeError) -> Tensor:
    """``x`` if it is a floating point Tensor; else ``error`` (where torch's kernel refuses
    other dtypes with its own exception type, the caller names it)."""
    if type(x) is not Tensor:
        check_tensor(x, fn, name)
    if x._data.dtype.kind != "f":
        raise error(f"{fn}(): '{name}' must be a floating point tensor, got dtype "
                        f"{x._data.dtype} with shape {tuple(x._data.shape)}")
    return x


def check_same_dtype(fn: str, **tensors) -> None:
    dtype = None
    for t in tensors.values():
        if t is not None:
            if dtype is None:
                dtype = t._data.dtype
            elif t._data.dtype != dtype:
                break
    else:
        return
    described = ", ".join(f"{name}: {t._data.dtype}" for name, t in tensors.items()
                          if t is not None)
    raise TypeError(f"{fn}(): expected all tensors to have the same dtype, got {described}")


def check_reduction(reduction: str, fn: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{fn}(): reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def check_same_shape(fn: str, input: Tensor, target: Tensor) -> None:
    if input._data.shape != target._data.shape:
        raise ValueError(f"{fn}(): target shape {tuple(target._data.shape)} must match input "
                         f"shape {tuple(input._data.shape)}")


def check_dim(dim: int, ndim: int, fn: str) -> int:
    """``dim`` wrapped into [0, ndim) (a 0-d tensor takes dims 0 and -1, as in torch); an
    IndexError with torch's message otherwise."""
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(f"{fn}(): Dimension out of range (expected to be in range of "
                         f"[{-rank}, {rank - 1}], but got {dim})")
    return dim % rank


def reject_bool(fn: str, **tensors) -> None:
    """torch's formulas subtract or negate these (input - target, 1 - target, -target), which
    torch refuses for bool tensors with a RuntimeError; fastdl's arithmetic would promote them."""
    for name, t in tensors.items():
        if t is not None and t._data.dtype.kind == "b":
            raise RuntimeError(f"{fn}(): '{name}' is a bool tensor: subtraction or negation, the "
                               "`-` operator, of a bool tensor is not supported")


def check_not_differentiable(fn: str, **tensors) -> None:
    """torch's autograd refuses, at the call (with grad mode on), an argument its derivative
    formulas leave out (loss weights, some targets) that requires grad: a gradient for it
    would otherwise be silently missing."""
    from fastdl.autograd.grad_mode import state
    if not state.enabled:
        return
    for name, t in tensors.items():
        if isinstance(t, Tensor) and t.requires_grad:
            raise RuntimeError(f"The function '{fn}' is not differentiable with respect to "
                               f"argument '{name}'. This input cannot have requires_grad True.")
