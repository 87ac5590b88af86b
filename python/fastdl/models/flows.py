"""Normalizing flows: RealNVP (Dinh, Sohl-Dickstein and Bengio 2017) for vector data.

A flow is an invertible map f from data x to latent z with a tractable Jacobian, so the exact
log-likelihood is ``log p(x) = log N(f(x); 0, I) + log |det df/dx|``. An ``AffineCoupling``
layer keeps the entries where ``mask == 1`` and transforms the others with a scale and shift
computed from the kept ones:

    y = m * x + (1 - m) * (x * exp(s(m * x)) + t(m * x)),    log |det| = sum((1 - m) * s)

so its inverse and log-determinant are exact. ``RealNVP`` stacks couplings with alternating
masks over a standard normal base distribution.
"""
from __future__ import annotations

import math

import numpy as np

import fastdl
from fastdl import nn
from fastdl.models.mlp import MLP

__all__ = ["AffineCoupling", "RealNVP"]


class AffineCoupling(nn.Module):
    """One affine coupling layer over vectors of size ``len(mask)``.

    ``net`` (an MLP with ``num_hidden`` hidden layers of width ``hidden``) maps the kept
    entries ``mask * x`` to the log-scale s and the shift t of the others; the log-scale is
    bounded as ``scale * tanh(raw)`` with a learned per-feature ``scale`` (RealNVP's
    stabilisation), initialised at zero output so that the layer starts as the identity.

    ``forward(x)`` returns ``(y, log_det)`` (log |det dy/dx| per sample, shape (N,));
    ``inverse(y)`` returns ``(x, log_det)`` of the inverse map (the negative).

    Example:
        >>> _ = fastdl.manual_seed(0)
        >>> layer = fastdl.models.AffineCoupling([1, 0], hidden=16)
        >>> x = fastdl.randn(4, 2)
        >>> y, log_det = layer(x)
        >>> y.shape, log_det.shape
        ((4, 2), (4,))
        >>> x_back, _ = layer.inverse(y)
        >>> bool(fastdl.allclose(x_back, x, atol=1e-6))
        True
    """

    def __init__(self, mask, hidden: int = 64, num_hidden: int = 2, activation="relu"):
        super().__init__()
        mask = np.asarray(mask, dtype=np.float32).reshape(-1)
        if mask.size < 2 or not np.isin(mask, (0.0, 1.0)).all():
            raise ValueError(f"AffineCoupling: mask must be a 0/1 vector of length >= 2, got "
                             f"{mask.tolist()}")
        if mask.all() or not mask.any():
            raise ValueError("AffineCoupling: mask must keep some entries and transform others")
        if num_hidden < 1:
            raise ValueError(f"AffineCoupling: num_hidden must be >= 1, got {num_hidden}")
        self.features = int(mask.size)
        self.register_buffer("mask", fastdl.tensor(mask))
        self.net = MLP(self.features, [hidden] * num_hidden, 2 * self.features,
                       activation=activation)
        last = getattr(self.net, f"fc{num_hidden}")
        with fastdl.no_grad():
            last.weight.zero_()
            last.bias.zero_()
        self.scale = nn.Parameter(fastdl.zeros(self.features))

    def _check(self, x, where):
        if x.ndim != 2 or x.shape[1] != self.features:
            raise ValueError(f"AffineCoupling.{where}: expected input of shape "
                             f"(N, {self.features}), got {tuple(x.shape)}")

    def _scale_shift(self, kept):
        raw_s, t = fastdl.chunk(self.net(kept), 2, 1)
        free = 1.0 - self.mask
        s = self.scale.exp() * raw_s.tanh() * free
        return s, t * free

    def forward(self, x):
        self._check(x, "forward")
        kept = x * self.mask
        s, t = self._scale_shift(kept)
        y = kept + (1.0 - self.mask) * (x * s.exp() + t)
        return y, s.sum(1)

    def inverse(self, y):
        """``(x, log_det)``: the input that maps to ``y`` and log |det dx/dy| per sample."""
        self._check(y, "inverse")
        kept = y * self.mask
        s, t = self._scale_shift(kept)
        x = kept + (1.0 - self.mask) * ((y - t) * (-s).exp())
        return x, -s.sum(1)


def _alternating_masks(features, count):
    base = np.arange(features) % 2
    return [(base + i) % 2 for i in range(count)]


class RealNVP(nn.Module):
    """RealNVP density model for (N, features) data: ``num_layers`` affine couplings with
    alternating (checkerboard over features) masks and a standard normal base.

    ``forward(x)`` returns ``(z, log_det)``; ``log_prob(x)`` the exact log-density per sample
    (N,); ``inverse(z)`` maps latents back to data; ``sample(n)`` draws n points (no
    gradients). Train by minimising ``-model.log_prob(x).mean()``.

    Example:
        >>> _ = fastdl.manual_seed(0)
        >>> flow = fastdl.models.RealNVP(2, num_layers=4, hidden=16)
        >>> x = fastdl.randn(8, 2)
        >>> flow.log_prob(x).shape
        (8,)
        >>> (-flow.log_prob(x).mean()).backward()
        >>> flow.sample(5).shape
        (5, 2)
        >>> bool(fastdl.allclose(flow.inverse(flow(x)[0]), x, atol=1e-5))
        True
    """

    def __init__(self, features: int = 2, num_layers: int = 6, hidden: int = 64,
                 num_hidden: int = 2, activation="relu"):
        super().__init__()
        if features < 2:
            raise ValueError(f"RealNVP: features must be >= 2 (a coupling needs two parts), got "
                             f"{features}")
        if num_layers < 1:
            raise ValueError(f"RealNVP: num_layers must be >= 1, got {num_layers}")
        self.features = features
        self.layers = nn.ModuleList([AffineCoupling(m, hidden, num_hidden, activation)
                                     for m in _alternating_masks(features, num_layers)])

    def _check(self, x, where):
        if x.ndim != 2 or x.shape[1] != self.features:
            raise ValueError(f"RealNVP.{where}: expected input of shape (N, {self.features}), "
                             f"got {tuple(x.shape)}")

    def forward(self, x):
        self._check(x, "forward")
        log_det = None
        for layer in self.layers:
            x, ld = layer(x)
            log_det = ld if log_det is None else log_det + ld
        return x, log_det

    def inverse(self, z):
        """The data point (N, features) that maps to latent ``z``."""
        self._check(z, "inverse")
        for layer in reversed(self.layers):
            z, _ = layer.inverse(z)
        return z

    def base_log_prob(self, z):
        """log N(z; 0, I) per sample."""
        return -0.5 * (z * z).sum(1) - 0.5 * self.features * math.log(2.0 * math.pi)

    def log_prob(self, x):
        """Exact log-density per sample: ``base_log_prob(f(x)) + log |det df/dx|``."""
        z, log_det = self(x)
        return self.base_log_prob(z) + log_det

    def sample(self, n: int):
        """``n`` samples (n, features): the inverse flow of standard normal draws."""
        if int(n) < 1:
            raise ValueError(f"RealNVP.sample: n must be >= 1, got {n}")
        p = next(self.parameters())
        with fastdl.no_grad():
            return self.inverse(fastdl.randn(int(n), self.features, dtype=p.dtype,
                                             device=p.device))
