"""``BatchNorm1d/2d/3d``, ``InstanceNorm1d/2d/3d``, ``GroupNorm`` and ``LayerNorm``."""
from __future__ import annotations

import warnings

import numpy as np

from fastdl.nn import functional as F
from fastdl.nn import init
from fastdl.nn.modules.module import Module
from fastdl.nn.parameter import Parameter
from fastdl.tensor import Tensor, as_dtype, get_default_dtype


def _affine_parameters(module, shape, dtype, affine, bias):
    """``weight`` (ones) and ``bias`` (zeros) of ``shape``, or None where not wanted."""
    module.register_parameter("weight", Parameter(np.ones(shape, dtype=dtype)) if affine
                              else None)
    module.register_parameter("bias", Parameter(np.zeros(shape, dtype=dtype))
                              if affine and bias else None)


class _NormBase(Module):
    """Batch normalization over (N, C, *) inputs, per channel C.

    Training normalizes with the batch statistics and updates ``running_mean``/``running_var``
    (``momentum=None`` gives a cumulative average); eval uses the running statistics.
    ``bias=False`` (keyword only, as in torch) keeps the learned scale without a shift.
    """

    # torch's state-dict format version for batch norm (2: has num_batches_tracked); it shows
    # in state_dict()._metadata
    _version = 2

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *,
                 bias: bool = True):
        super().__init__()
        if not isinstance(num_features, (int, np.integer)) or num_features <= 0:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive int, got "
                             f"{num_features!r}")
        dt = as_dtype(dtype or get_default_dtype())
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _affine_parameters(self, (num_features,), dt, affine, bias)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dt)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        if device is not None:
            self.to(device)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    _ranks = ()

    def _check_input_dim(self, input):
        if input.ndim not in self._ranks:
            ranks = " or ".join(f"{r}D" for r in self._ranks)
            raise ValueError(f"{type(self).__name__}: expected {ranks} input (got {input.ndim}D "
                             f"input of shape {tuple(input.shape)})")

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    def _count_batch(self):
        """Count a training batch; returns (use_batch_stats, running_mean, running_var,
        momentum) for batch_norm: the running buffers only where they are used or updated,
        and the cumulative average's factor when ``momentum`` is None."""
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked._data)
        use_batch_stats = self.training or self.running_mean is None
        keep_running = not self.training or self.track_running_stats
        return (use_batch_stats, self.running_mean if keep_running else None,
                self.running_var if keep_running else None, factor)

    def forward(self, input):
        self._check_input_dim(input)
        use_batch_stats, running_mean, running_var, factor = self._count_batch()
        return F.batch_norm(input, running_mean, running_var, self.weight, self.bias,
                            use_batch_stats, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L) inputs, per channel C.

    Shape: input (N, C) or (N, C, L); output the same shape.

    >>> m = fastdl.nn.BatchNorm1d(4)
    >>> m(fastdl.randn(8, 4)).shape, m(fastdl.randn(8, 4, 5)).shape
    ((8, 4), (8, 4, 5))
    """
    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W) inputs, per channel C.

    Shape: input (N, C, H, W); output the same shape.

    >>> fastdl.nn.BatchNorm2d(3)(fastdl.randn(2, 3, 4, 4)).shape
    (2, 3, 4, 4)
    """
    _ranks = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalization over (N, C, D, H, W) inputs, per channel C.

    Shape: input (N, C, D, H, W); output the same shape.

    >>> fastdl.nn.BatchNorm3d(3)(fastdl.randn(2, 3, 2, 4, 4)).shape
    (2, 3, 2, 4, 4)
    """
    _ranks = (5,)


class _InstanceNorm(_NormBase):
    """Instance normalization: each (sample, channel) plane over its spatial positions. Inputs
    without the batch dim are taken as a batch of one. ``track_running_stats`` keeps running
    statistics (the batch mean of the per-instance ones), used in eval mode."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1, affine: bool = False,
                 track_running_stats: bool = False, device=None, dtype=None, *,
                 bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)

    def forward(self, input):
        self._check_input_dim(input)
        unbatched = input.ndim == self._ranks[0]
        feature_dim = 0 if unbatched else 1
        if input.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(f"expected input's size at dim={feature_dim} to match "
                                 f"num_features ({self.num_features}), but got: "
                                 f"{input.shape[feature_dim]}.")
            warnings.warn(f"input's size at dim={feature_dim} does not match num_features. You "
                          f"can silence this warning by not passing in num_features, which is "
                          f"not used because affine=False", stacklevel=2)
        x = input.unsqueeze(0) if unbatched else input
        out = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                              self.training or not self.track_running_stats,
                              0.0 if self.momentum is None else self.momentum, self.eps)
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization over (N, C, L) or (C, L) inputs.

    Shape: output the same shape as input.

    >>> fastdl.nn.InstanceNorm1d(3)(fastdl.randn(2, 3, 5)).shape
    (2, 3, 5)
    """
    _ranks = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization over (N, C, H, W) or (C, H, W) inputs.

    Shape: output the same shape as input.

    >>> fastdl.nn.InstanceNorm2d(3)(fastdl.randn(2, 3, 4, 4)).shape
    (2, 3, 4, 4)
    """
    _ranks = (3, 4)


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization over (N, C, D, H, W) or (C, D, H, W) inputs.

    Shape: output the same shape as input.

    >>> fastdl.nn.InstanceNorm3d(3)(fastdl.randn(2, 3, 2, 4, 4)).shape
    (2, 3, 2, 4, 4)
    """
    _ranks = (4, 5)


class GroupNorm(Module):
    """Normalize groups of channels over the group's channels and spatial positions, with a
    learned per-channel scale and shift (``affine``).

    Shape: input (N, C, *) with C = num_channels divisible by num_groups; output the same
    shape.

    >>> m = fastdl.nn.GroupNorm(2, 4)
    >>> m(fastdl.randn(2, 4, 3, 3)).shape
    (2, 4, 3, 3)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels must be divisible by num_groups (got "
                             f"num_channels={num_channels}, num_groups={num_groups})")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps, self.affine = eps, affine
        dt = as_dtype(dtype or get_default_dtype())
        _affine_parameters(self, (num_channels,), dt, affine, bias)
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class LayerNorm(Module):
    """Normalize over the trailing ``normalized_shape`` dims, with a learned scale and shift.

    Shape: input (*, *normalized_shape); output the same shape.

    >>> m = fastdl.nn.LayerNorm(4)
    >>> m(fastdl.randn(2, 3, 4)).shape
    (2, 3, 4)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dt = as_dtype(dtype or get_default_dtype())
        _affine_parameters(self, self.normalized_shape, dt, elementwise_affine, bias)
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")
