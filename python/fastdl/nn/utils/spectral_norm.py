"""Hook-based spectral normalization (``torch.nn.utils.spectral_norm``): ``weight = weight_orig
/ sigma``, sigma the largest singular value estimated by power iteration on the buffers
``weight_u`` / ``weight_v``, which advance one ``n_power_iterations`` round per training
forward and stay fixed in eval mode."""
from __future__ import annotations

import fastdl
from fastdl.autograd import no_grad
from fastdl.nn.functional import normalize
from fastdl.nn.parameter import Parameter
from fastdl.nn.utils.weight_norm import remove_hook
from fastdl.tensor import Tensor


def weight_as_matrix(weight: Tensor, dim: int) -> Tensor:
    """``weight`` with dimension ``dim`` moved first and the rest flattened: (size(dim), -1)."""
    if dim != 0:
        weight = weight.permute(dim, *[d for d in range(weight.dim()) if d != dim])
    return weight.reshape(weight.shape[0], -1)


def default_spectral_dim(module) -> int:
    """torch's default: dimension 1 (output channels) for transposed convolutions, else 0."""
    from fastdl.nn.modules.conv import _ConvTranspose
    return 1 if isinstance(module, _ConvTranspose) else 0


def random_unit_vector(length: int, like: Tensor, eps: float) -> Tensor:
    """A normalized standard-normal vector in ``like``'s dtype (torch draws from its own
    generator, so tests copy torch's u and v in)."""
    return normalize(fastdl.randn(length, dtype=like.dtype), dim=0, eps=eps)


class SpectralNorm:
    """The forward pre-hook that sets ``module.<name>`` to ``<name>_orig / sigma``."""

    def __init__(self, name: str = "weight", n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12) -> None:
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.name = name
        self.dim = dim
        self.n_power_iterations = n_power_iterations
        self.eps = eps

    def compute_weight(self, module, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        weight_mat = weight_as_matrix(weight, self.dim)
        if do_power_iteration:
            with no_grad():
                for _ in range(self.n_power_iterations):
                    # in place, as torch's normalize(..., out=v): the buffers advance
                    v.data[...] = normalize(fastdl.mv(weight_mat.t(), u), dim=0,
                                            eps=self.eps).data
                    u.data[...] = normalize(fastdl.mv(weight_mat, v), dim=0,
                                            eps=self.eps).data
            u, v = u.clone(), v.clone()
        sigma = fastdl.dot(u, fastdl.mv(weight_mat, v))
        return weight / sigma

    def remove(self, module) -> None:
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        delattr(module, self.name)
        delattr(module, self.name + "_u")
        delattr(module, self.name + "_v")
        delattr(module, self.name + "_orig")
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs) -> None:
        setattr(module, self.name,
                self.compute_weight(module, do_power_iteration=module.training))

    @staticmethod
    def apply(module, name: str, n_power_iterations: int, dim: int, eps: float):
        if any(isinstance(hook, SpectralNorm) and hook.name == name
               for hook in module._forward_pre_hooks.values()):
            raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter "
                               f"{name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters[name]
        with no_grad():
            height, width = weight_as_matrix(weight, dim).shape
            u = random_unit_vector(height, weight, eps)
            v = random_unit_vector(width, weight, eps)
        delattr(module, name)
        module.register_parameter(name + "_orig", weight)
        setattr(module, name, weight.detach())
        module.register_buffer(name + "_u", u)
        module.register_buffer(name + "_v", v)
        module.register_forward_pre_hook(fn)
        return fn


def spectral_norm(module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: int | None = None):
    """Divide ``module.<name>`` by its spectral norm before every forward. Returns the module."""
    if dim is None:
        dim = default_spectral_dim(module)
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module, name: str = "weight"):
    """Undo :func:`spectral_norm`, keeping the current normalized weight as the parameter."""
    return remove_hook(module, name, SpectralNorm, "spectral_norm")
