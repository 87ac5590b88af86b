"""torch's ``native_layer_norm``, ``native_batch_norm`` and ``native_group_norm``: the
normalization plus the statistics ATen saves for its backward (mean and 1 / sqrt(var + eps),
the biased variance). The output is nn.functional's layer_norm / batch_norm / group_norm, with
their gradients; the statistics of layer and batch norm do not require grad (torch's do not),
those of group norm do (torch differentiates them).
"""
from __future__ import annotations

from fastdl.autograd import no_grad
from fastdl.functional.arithmetic import rsqrt
from fastdl.nn import functional as F


def _statistics(x, dims, eps):
    """(mean, 1 / sqrt(biased variance + eps)) of x over ``dims``, keeping them."""
    mean = x.mean(dims, keepdim=True)
    centered = x - mean
    return mean, rsqrt((centered * centered).mean(dims, keepdim=True) + eps)


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """(layer_norm(input, normalized_shape, weight, bias, eps), mean, rstd) with mean and
    rstd of shape input.shape[:-k] + (1,) * k for k = len(normalized_shape).

    >>> out, mean, rstd = fastdl.native_layer_norm(fastdl.tensor([[1.0, 3.0]]), [2], None,
    ...                                            None, 1e-5)
    >>> out.round(decimals=3).tolist(), mean.tolist(), tuple(rstd.shape)
    ([[-1.0, 1.0]], [[2.0]], (1, 1))
    """
    out = F.layer_norm(input, normalized_shape, weight, bias, eps)
    with no_grad():
        dims = tuple(range(input.ndim - len(normalized_shape), input.ndim))
        mean, rstd = _statistics(input.detach(), dims, eps)
    return out, mean, rstd


def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum,
                      eps):
    """(batch_norm(...), save_mean, save_rstd): the per-channel batch mean and
    1 / sqrt(biased var + eps) when ``training`` (running statistics updated in place), empty
    tensors otherwise, as in torch.

    >>> x = fastdl.tensor([[1.0], [3.0]])
    >>> out, mean, rstd = fastdl.native_batch_norm(x, None, None, None, None, True, 0.1, 1e-5)
    >>> out.round(decimals=3).tolist(), mean.tolist()
    ([[-1.0], [1.0]], [2.0])
    """
    out = F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    with no_grad():
        if not training:
            empty = input.new_empty(0)
            return out, empty, empty.clone()
        dims = (0,) + tuple(range(2, input.ndim))
        mean, rstd = _statistics(input.detach(), dims, eps)
    return out, mean.reshape(-1), rstd.reshape(-1)


def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    """(group_norm(input, group, weight, bias, eps), mean, rstd) for an input of N x C x HxW
    elements; mean and rstd have shape (N, group).

    >>> x = fastdl.tensor([[[1.0], [3.0]]])
    >>> out, mean, rstd = fastdl.native_group_norm(x, None, None, 1, 2, 1, 1, 1e-5)
    >>> out.round(decimals=3).tolist(), mean.tolist()
    ([[[-1.0], [1.0]]], [[2.0]])
    """
    if input.numel() != N * C * HxW or (input.ndim > 1 and input.shape[1] != C):
        raise RuntimeError(f"native_group_norm: expected an input of N * C * HxW = "
                           f"{N} * {C} * {HxW} elements with C channels, got shape "
                           f"{tuple(input.shape)}")
    out = F.group_norm(input, group, weight, bias, eps)
    per_group = C // group * HxW
    mean, rstd = _statistics(input.reshape(N, group, per_group), (2,), eps)
    return out, mean.reshape(N, group), rstd.reshape(N, group)


__all__ = ["native_batch_norm", "native_group_norm", "native_layer_norm"]
