"""Hook-based weight normalization (``torch.nn.utils.weight_norm``; torch deprecates it in favour
of ``parametrizations.weight_norm``): ``weight = g * v / ||v||``, the norm over every dimension
except ``dim``, recomputed before each forward from the parameters ``weight_g`` and ``weight_v``."""
from __future__ import annotations

import warnings

from fastdl.nn.parameter import Parameter
from fastdl.tensor import Tensor


def norm_except_dim(v: Tensor, pow: float = 2, dim: int = 0) -> Tensor:
    """The ``pow``-norm of ``v`` over every dimension except ``dim``, kept as size-1 dimensions
    (``dim=-1``: the norm of the whole tensor, a 0-d tensor), as torch's ``norm_except_dim``."""
    if dim == -1:
        return (v.abs() ** pow).sum() ** (1.0 / pow)
    dim = dim % v.dim()
    reduced = tuple(d for d in range(v.dim()) if d != dim)
    if not reduced:
        return v.abs()
    return (v.abs() ** pow).sum(reduced, keepdim=True) ** (1.0 / pow)


def weight_norm_from(v: Tensor, g: Tensor, dim: int) -> Tensor:
    """``v * (g / ||v||)`` (torch's ``_weight_norm``)."""
    return v * (g / norm_except_dim(v, 2, dim))


class WeightNorm:
    """The forward pre-hook that recomputes ``module.<name>`` from ``<name>_g`` and
    ``<name>_v``."""

    def __init__(self, name: str, dim: int) -> None:
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module) -> Tensor:
        return weight_norm_from(getattr(module, self.name + "_v"),
                                getattr(module, self.name + "_g"), self.dim)

    @staticmethod
    def apply(module, name: str, dim: int) -> "WeightNorm":
        if any(isinstance(hook, WeightNorm) and hook.name == name
               for hook in module._forward_pre_hooks.values()):
            raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter "
                               f"{name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        del module._parameters[name]
        module.register_parameter(name + "_g",
                                  Parameter(norm_except_dim(weight, 2, fn.dim).detach()))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module) -> None:
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name: str = "weight", dim: int | None = 0):
    """Reparametrize ``module.<name>`` as ``g * v / ||v||`` (norm over all dims but ``dim``;
    ``dim=None`` normalizes the whole tensor). Returns the module."""
    warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                  "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=2)
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name: str = "weight"):
    """Undo :func:`weight_norm`: ``<name>`` becomes a plain parameter holding the current
    normalized weight."""
    return remove_hook(module, name, WeightNorm, "weight_norm")


def remove_hook(module, name: str, hook_type: type, what: str):
    """Remove the ``hook_type`` pre-hook for ``name`` (restoring the parameter), as torch's
    ``remove_weight_norm`` / ``remove_spectral_norm``."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, hook_type) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"{what} of '{name}' not found in {module}")
