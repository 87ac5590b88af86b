"""Gradient clipping (``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``)."""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Iterable

import numpy as np

from fastdl.backend import array_module
from fastdl.tensor import Tensor


def _grads(parameters) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = []
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"parameters must be Tensors, but item {i} is a {type(p).__name__}")
        if p.grad is not None:
            grads.append(p.grad.data)
    return grads


def _check_norm_type(norm_type) -> float:
    if isinstance(norm_type, str) and norm_type.lower() == "inf":
        return math.inf
    if not isinstance(norm_type, numbers.Real) or isinstance(norm_type, bool):
        raise TypeError(f"norm_type must be a real number or 'inf', got {norm_type!r}")
    return float(norm_type)


def _vector_norm(array, norm_type: float, xp):
    """The p-norm of all elements, as a 0-d array of the input's dtype."""
    flat = array.reshape(-1)
    if norm_type == math.inf:
        return xp.max(xp.abs(flat)) if flat.size else xp.zeros((), array.dtype)
    if norm_type == -math.inf:
        return xp.min(xp.abs(flat)) if flat.size else xp.full((), math.inf, array.dtype)
    if norm_type == 0:
        return xp.asarray(xp.count_nonzero(flat), dtype=array.dtype)
    if norm_type == 2:
        return xp.sqrt(xp.dot(flat, flat))
    if norm_type == 1:
        return xp.sum(xp.abs(flat))
    return xp.sum(xp.abs(flat) ** norm_type) ** (1.0 / norm_type)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """The norm of the norms of ``tensors`` (i.e. of all their elements as one vector)."""
    norm_type = _check_norm_type(norm_type)
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    arrays = [t.data if isinstance(t, Tensor) else t for t in tensors]
    if not arrays:
        return Tensor(np.zeros((), np.float32))
    xp = array_module(*arrays)
    norms = xp.stack([_vector_norm(a, norm_type, xp).astype(arrays[0].dtype) for a in arrays])
    total = _vector_norm(norms, norm_type, xp)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"the total norm of order {norm_type} of the gradients is "
                           f"{float(total)}, so they cannot be clipped; set "
                           "error_if_nonfinite=False to clip anyway")
    return Tensor(xp.asarray(total))


def clip_grads_with_norm_(parameters, max_norm: float, total_norm) -> None:
    """Scale the gradients by ``min(1, max_norm / (total_norm + 1e-6))`` in place."""
    grads = _grads(parameters)
    if not grads:
        return
    total = float(total_norm.item() if hasattr(total_norm, "item") else total_norm)
    clip_coef = min(float(max_norm) / (total + 1e-6), 1.0)
    for g in grads:
        g *= clip_coef


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Rescale the gradients in place so their joint ``norm_type``-norm is at most ``max_norm``.

    Returns the total norm before clipping (a 0-d Tensor), like torch.
    """
    if not isinstance(max_norm, numbers.Real) or isinstance(max_norm, bool):
        raise TypeError(f"max_norm must be a real number, got {max_norm!r}")
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    grads = _grads(parameters)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_norm(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                   norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach=None) -> Tensor:
    """Deprecated (a FutureWarning, as torch's): ``clip_grad_norm_`` under its old name.
    ``foreach`` is accepted and ignored: fastdl has no multi-tensor kernels to choose."""
    warnings.warn("`fastdl.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`fastdl.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite)


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]`` in place."""
    if not isinstance(clip_value, numbers.Real) or isinstance(clip_value, bool):
        raise TypeError(f"clip_value must be a real number, got {clip_value!r}")
    clip_value = float(clip_value)
    for g in _grads(parameters):
        xp = np if isinstance(g, np.ndarray) else array_module(g)
        xp.clip(g, -clip_value, clip_value, out=g)
