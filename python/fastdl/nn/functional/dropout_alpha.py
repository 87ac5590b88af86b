"""Random activations and dropouts for self-normalizing nets: RReLU and alpha dropout.

Their noise comes from fastdl's generator (``fastdl.manual_seed``), as dropout's does, and is a
constant of the graph: the output is ``input * noise (+ shift)``, so the gradient is ``noise``.
"""
from __future__ import annotations

import math

from fastdl import random as fastdl_random
from fastdl.nn.functional._checks import check_float
from fastdl.nn.functional.activation import leaky_relu
from fastdl.nn.functional.activation_more import SELU_ALPHA, SELU_SCALE
from fastdl.tensor import _wrap

# the value SELU saturates to for x -> -inf (negated): dropped units take it, as in torch
_SELU_SATURATION = SELU_ALPHA * SELU_SCALE


def rrelu(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False):
    """Randomized leaky ReLU: in training each x <= 0 is multiplied by its own slope drawn from
    U(lower, upper); in eval the slope is (lower + upper) / 2.

    Shape: output the same shape as input.

    >>> fastdl.rrelu(fastdl.tensor([-1.0, 2.0]), 0.1, 0.3).tolist()
    [-0.20000000298023224, 2.0]
    """
    check_float(input, "rrelu")
    if lower > upper:
        raise RuntimeError(f"Lower bound should be less than or equal to the upper bound "
                           f"(rrelu got lower={lower}, upper={upper})")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    x = input._data
    slopes = fastdl_random.uniform_array(x.shape, lower, upper, x.dtype, input.device)
    slopes[x > 0] = 1  # torch's noise: 1 where x > 0, the drawn slope elsewhere
    noise = _wrap(slopes)
    return input.mul_(noise) if inplace else input * noise


def rrelu_(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False):
    """rrelu written into ``input``.

    >>> x = fastdl.tensor([-1.0, 2.0]); fastdl.rrelu_(x, 0.5, 0.5).tolist()
    [-0.5, 2.0]
    """
    return rrelu(input, lower, upper, training, inplace=True)


def _alpha_dropout(input, p, training, inplace, per_channel, fn):
    """Drop units to SELU's saturation value -alpha', then an affine map a x + b that keeps a
    zero-mean unit-variance input so: a = 1 / sqrt((alpha'^2 p + 1)(1 - p)), b = alpha' a p
    (Klambauer et al. 2017; torch's formulas). ``per_channel`` drops whole (N, C) channels."""
    check_float(input, fn)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    x = input._data
    if not training or p == 0.0 or x.size == 0:
        return input
    if per_channel and x.ndim < 2:
        raise RuntimeError(f"{fn}(): Feature dropout requires at least 2 dimensions in the "
                           f"input, got shape {tuple(x.shape)}")
    if p == 1.0:  # torch multiplies by 0: everything is 0 (not the saturation value)
        return input.mul_(0.0) if inplace else input * 0.0
    mask_shape = tuple(x.shape[:2]) + (1,) * (x.ndim - 2) if per_channel else x.shape
    keep = (fastdl_random.uniform_array(mask_shape, 0.0, 1.0, x.dtype, input.device)
            >= p).astype(x.dtype)
    a = 1.0 / math.sqrt((_SELU_SATURATION ** 2 * p + 1.0) * (1.0 - p))
    scale = _wrap(keep * x.dtype.type(a))
    shift = _wrap((keep - 1.0) * x.dtype.type(_SELU_SATURATION * a)
                  + x.dtype.type(_SELU_SATURATION * a * p))
    if inplace:
        return input.mul_(scale).add_(shift)
    return input * scale + shift


def alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False):
    """Dropout that keeps SELU activations' mean and variance (see ``_alpha_dropout``); the
    identity unless ``training``.

    Shape: output the same shape as input.

    >>> x = fastdl.randn(1000, 100)
    >>> y = fastdl.nn.functional.alpha_dropout(x, 0.2, training=True)
    >>> abs(y.mean().item()) < 0.05, abs(y.std().item() - 1) < 0.05
    (True, True)
    """
    return _alpha_dropout(input, p, training, inplace, False, "alpha_dropout")


def feature_alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False):
    """Alpha dropout of whole channels of an (N, C, *) input; the identity unless ``training``.

    Shape: output the same shape as input.

    >>> y = fastdl.nn.functional.feature_alpha_dropout(fastdl.ones(2, 3, 4), 0.5, training=True)
    >>> [len(set(channel)) for channel in y.reshape(6, 4).tolist()]
    [1, 1, 1, 1, 1, 1]
    """
    return _alpha_dropout(input, p, training, inplace, True, "feature_alpha_dropout")
