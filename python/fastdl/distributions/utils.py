"""Helpers shared by the distributions: parameter broadcasting, probs <-> logits, lazily
computed parameters and draws from fastdl's global generator (so ``manual_seed`` replays)."""
from __future__ import annotations

import numbers

import numpy as np

import fastdl
from fastdl import random as _random
from fastdl.autograd import enable_grad
from fastdl.tensor import Tensor, _wrap, get_default_dtype


def broadcast_all(*values):
    """Tensors of one broadcast shape; Python numbers become tensors of the first tensor's dtype
    (the default dtype when there is none), as in torch."""
    if not all(isinstance(v, (Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of Number, "
                         "torch.Tensor or objects implementing __torch_function__.")
    tensors = [v for v in values if isinstance(v, Tensor)]
    dtype = tensors[0].dtype if tensors else get_default_dtype()
    device = tensors[0].device if tensors else "cpu"
    values = [v if isinstance(v, Tensor) else fastdl.tensor(float(v), dtype=dtype, device=device)
              for v in values]
    shape = tuple(np.broadcast_shapes(*[v.shape for v in values]))
    return tuple(v if v.shape == shape else v.expand(*shape) for v in values)


def as_float_tensor(value):
    """A parameter given as a Tensor or a Python number (the default dtype for numbers)."""
    return value if isinstance(value, Tensor) else broadcast_all(value)[0]


def clamp_probs(probs):
    """probs kept inside (eps, 1 - eps) so their logs stay finite."""
    eps = float(np.finfo(probs.dtype).eps)
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits, is_binary=False):
    return logits.sigmoid() if is_binary else fastdl.softmax(logits, dim=-1)


def probs_to_logits(probs, is_binary=False):
    clamped = clamp_probs(probs)
    if is_binary:
        return clamped.log() - (-clamped).log1p()
    return clamped.log()


class lazy_property:
    """A property computed on first access (with grad enabled) and then cached on the instance:
    Bernoulli(probs=p).logits is built from p once and keeps p's graph."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        with enable_grad():
            value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value
        return value


def standard_normal(shape, like):
    """N(0, 1) draws of ``shape`` in ``like``'s dtype and device (no graph)."""
    return _wrap(_random.normal_array(tuple(shape), 0.0, 1.0, like.dtype, like.device))


def standard_uniform(shape, like):
    """U[0, 1) draws of ``shape`` in ``like``'s dtype and device (no graph)."""
    return _wrap(_random.uniform_array(tuple(shape), 0.0, 1.0, like.dtype, like.device))


def array_sampler(like):
    """What draws gamma/poisson/binomial variates for ``like``'s device: fastdl's numpy
    Generator on the CPU (seeded by ``manual_seed``), cupy.random (seeded with it) on a GPU."""
    if like.device == "cpu":
        return _random.generator()
    return _random._cupy_random()


def tiny(dtype):
    return float(np.finfo(dtype).tiny)
