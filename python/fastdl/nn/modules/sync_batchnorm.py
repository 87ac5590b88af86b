"""``SyncBatchNorm``: batch normalization whose training statistics span every rank's batch.

Each rank computes its batch's per-channel (mean, invstd, count) with ``batch_norm_stats``;
one ``Allgather`` gives every rank all of them (a gather, not a sum, as the counts may
differ), and ``batch_norm_gather_stats_with_counts`` merges them into the global mean and
invstd, updating the running statistics with the global unbiased variance. The backward sums
each rank's ``sum_dy`` and ``sum_dy_xmu`` with one ``Allreduce`` before
``batch_norm_backward_elemt``; the weight and bias gradients stay per rank, as in torch
(DistributedDataParallel averages them). Outside training, with one process, or without an
initialized process group it is plain batch normalization.
"""
from __future__ import annotations

import numpy as np

from fastdl import distributed as dist
from fastdl.autograd.function import Function
from fastdl.nn import functional as F
from fastdl.nn.functional.batch_norm_parts import (batch_norm_backward_elemt,
                                                   batch_norm_backward_reduce,
                                                   batch_norm_elemt,
                                                   batch_norm_gather_stats_with_counts,
                                                   batch_norm_stats)
from fastdl.nn.modules.module import Module
from fastdl.nn.modules.normalization import _BatchNorm
from fastdl.tensor import Tensor, _wrap


def _like(reference, values):
    """``values`` (numpy) as a tensor on ``reference``'s device."""
    return _wrap(values).to(reference.device)


class _SyncBatchNormFunction(Function):
    @staticmethod
    def forward(ctx, input, weight, bias, running_mean, running_var, eps, momentum, group):
        channels = input.shape[1]
        size = input.numel() // channels
        if size == 1 and group.size < 2:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {size}")
        if input.numel() > 0:
            mean, invstd = batch_norm_stats(input, eps)
            mean_host = dist.host_buffer(mean)
            combined = np.concatenate([mean_host, dist.host_buffer(invstd),
                                       np.array([size], mean_host.dtype)])
        else:
            # an empty batch still joins the collective (its peers wait for it); its zero
            # count drops it from the merge below
            combined = np.zeros(2 * channels + 1, np.dtype(input.dtype))
        gathered = np.empty((group.size, combined.size), combined.dtype)
        group.comm.Allgather(combined, gathered)
        gathered = gathered[gathered[:, -1] >= 1]
        counts = gathered[:, -1]
        if running_mean is not None:
            counts = counts.astype(np.dtype(running_mean.dtype))
        mean, invstd = batch_norm_gather_stats_with_counts(
            input, _like(input, np.ascontiguousarray(gathered[:, :channels])),
            _like(input, np.ascontiguousarray(gathered[:, channels:2 * channels])),
            running_mean, running_var, momentum, eps, _like(input, counts))
        ctx.save_for_backward(input, weight, mean, invstd,
                              _like(input, gathered[:, -1].astype(np.int32)))
        ctx.group = group
        if input.numel() == 0:
            return input.new_empty(tuple(input.shape))
        return batch_norm_elemt(input, weight, bias, mean, invstd, eps)

    @staticmethod
    def backward(ctx, grad_output):
        input, weight, mean, invstd, counts = ctx.saved_tensors
        needs_input, needs_weight, needs_bias = ctx.needs_input_grad[:3]
        grad_input = grad_weight = grad_bias = None
        channels = input.shape[1]
        if input.numel() > 0:
            sum_dy, sum_dy_xmu, grad_weight, grad_bias = batch_norm_backward_reduce(
                grad_output, input, mean, invstd, weight, needs_input, needs_weight, needs_bias)
            if needs_input:
                combined = np.concatenate([dist.host_buffer(sum_dy), dist.host_buffer(sum_dy_xmu)])
                dist.allreduce_array(ctx.group.comm, combined, dist.ReduceOp.SUM)
                grad_input = batch_norm_backward_elemt(
                    grad_output, input, mean, invstd, weight,
                    _like(input, combined[:channels]), _like(input, combined[channels:]),
                    counts)
            if weight is None or not needs_weight:
                grad_weight = None
            if weight is None or not needs_bias:
                grad_bias = None
        elif needs_input:
            # nothing of its own to add, but the peers' Allreduce needs this rank
            dist.allreduce_array(ctx.group.comm, np.zeros(2 * channels, np.dtype(input.dtype)),
                                 dist.ReduceOp.SUM)
        return grad_input, grad_weight, grad_bias, None, None, None, None, None


class SyncBatchNorm(_BatchNorm):
    """Batch normalization over (N, C, *) inputs whose training statistics are those of all
    ranks' batches together (fastdl.distributed; call ``init_process_group`` first).

    In eval mode, with one process or without an initialized process group it is BatchNorm.
    ``process_group`` must be None or the default group (fastdl has no other). Use
    ``convert_sync_batchnorm`` to turn a model's BatchNorm*d layers into SyncBatchNorm before
    wrapping it in DistributedDataParallel.

    Shape: input (N, C, *) with at least 2 dims; output the same shape.

    >>> fastdl.nn.SyncBatchNorm(3)(fastdl.randn(4, 3, 5)).shape
    (4, 3, 5)
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")

    def _check_non_zero_input_channels(self, input):
        if input.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")

    def forward(self, input):
        if not isinstance(input, Tensor):
            raise TypeError(f"SyncBatchNorm: input must be a fastdl.Tensor, got "
                            f"{type(input).__name__}")
        self._check_input_dim(input)
        self._check_non_zero_input_channels(input)
        use_batch_stats, running_mean, running_var, factor = self._count_batch()
        group = None
        if use_batch_stats and self.training and dist.is_initialized():
            group = dist._group(self.process_group)
        if group is None or group.size < 2:
            return F.batch_norm(input, running_mean, running_var, self.weight, self.bias,
                                use_batch_stats, factor, self.eps)
        return _SyncBatchNormFunction.apply(input, self.weight, self.bias, running_mean,
                                            running_var, self.eps, factor, group)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm*d layer in it replaced by a SyncBatchNorm holding
        the same parameters and buffers (a BatchNorm*d ``module`` itself gives a new
        SyncBatchNorm), as torch's.

        >>> net = fastdl.nn.Sequential(fastdl.nn.Conv2d(1, 2, 3), fastdl.nn.BatchNorm2d(2))
        >>> type(fastdl.nn.SyncBatchNorm.convert_sync_batchnorm(net)[1]).__name__
        'SyncBatchNorm'
        """
        if not isinstance(module, Module):
            raise TypeError(f"convert_sync_batchnorm: module must be a fastdl.nn.Module, got "
                            f"{type(module).__name__}")
        converted = module
        if isinstance(module, _BatchNorm):
            converted = SyncBatchNorm(module.num_features, module.eps, module.momentum,
                                      module.affine, module.track_running_stats, process_group,
                                      bias=module.bias is not None)
            if module.affine:
                converted.weight = module.weight
                converted.bias = module.bias
            converted.running_mean = module.running_mean
            converted.running_var = module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
            converted.training = module.training
            if hasattr(module, "qconfig"):
                converted.qconfig = module.qconfig
        for name, child in module.named_children():
            converted.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return converted
