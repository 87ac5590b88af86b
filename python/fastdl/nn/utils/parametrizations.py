"""Parametrization-based weight and spectral normalization and orthogonal weights
(``torch.nn.utils.parametrizations``; ``orthogonal`` lives in orthogonal.py), built on
:mod:`fastdl.nn.utils.parametrize`.
State dict keys are torch's: ``parametrizations.weight.original0`` (g) and ``original1`` (v) for
weight_norm; ``parametrizations.weight.original``, ``...weight.0._u`` and ``...weight.0._v``
for spectral_norm."""
from __future__ import annotations

import fastdl
from fastdl.autograd import no_grad
from fastdl.nn.functional import normalize
from fastdl.nn.modules.module import Module
from fastdl.nn.utils import parametrize
from fastdl.nn.utils.orthogonal import orthogonal  # noqa: F401  (torch's namespace)
from fastdl.nn.utils.spectral_norm import (default_spectral_dim, random_unit_vector,
                                           weight_as_matrix)
from fastdl.nn.utils.weight_norm import norm_except_dim, weight_norm_from
from fastdl.tensor import Tensor


class _WeightNorm(Module):
    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_norm_from(weight_v, weight_g, self.dim)

    def right_inverse(self, weight: Tensor):
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Reparametrize ``module.<name>`` as ``g * v / ||v||`` (``original0`` = g,
    ``original1`` = v). Returns the module."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    """``weight / sigma``; a training forward first runs ``n_power_iterations`` rounds of power
    iteration on the buffers ``_u`` and ``_v``. A 1-d weight is simply normalized."""

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.dim()
        if dim >= ndim or dim < -ndim:
            raise IndexError("Dimension out of range (expected to be in range of "
                             f"[-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            weight_mat = weight_as_matrix(weight, self.dim)
            height, width = weight_mat.shape
            with no_grad():
                self.register_buffer("_u", random_unit_vector(height, weight, eps))
                self.register_buffer("_v", random_unit_vector(width, weight, eps))
            # torch starts from 15 rounds so that sigma is accurate from the first forward
            self._power_method(weight_mat, 15)

    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        with no_grad():
            for _ in range(n_power_iterations):
                # in place (torch's out=): the buffers advance
                self._u.data[...] = normalize(fastdl.mv(weight_mat, self._v), dim=0,
                                              eps=self.eps).data
                self._v.data[...] = normalize(fastdl.mv(weight_mat.t(), self._u), dim=0,
                                              eps=self.eps).data

    def forward(self, weight: Tensor) -> Tensor:
        if weight.dim() == 1:
            return normalize(weight, dim=0, eps=self.eps)
        weight_mat = weight_as_matrix(weight, self.dim)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = fastdl.dot(u, fastdl.mv(weight_mat, v))
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: int | None = None) -> Module:
    """Divide ``module.<name>`` by its spectral norm (power iteration) at every read."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = default_spectral_dim(module)
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
