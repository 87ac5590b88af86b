"""The pieces torch's ``SyncBatchNorm`` is built from, under torch's top-level names:
``batch_norm_stats``, ``batch_norm_gather_stats(_with_counts)``, ``batch_norm_elemt``,
``batch_norm_backward_reduce``, ``batch_norm_backward_elemt`` and ``batch_norm_update_stats``.

torch runs all but ``batch_norm_update_stats`` on CUDA only; fastdl runs them on its tensors'
device with the formulas of torch's CUDA kernels (aten/src/ATen/native/cuda/Normalization.cuh):
statistics in the accumulation dtype (float32 for float16 inputs, else the input's), the
inverse standard deviation 1 / sqrt(biased var + eps) (0 where var and eps are both 0), and the
gather merging the ranks' (mean, invstd, count) rows one by one with an integer running count.
The channel is dim 1; every other dim is reduced. torch has no derivative for any of them
(its backward raises), so fastdl's results do not require grad.
"""
from __future__ import annotations

import numpy as np

from fastdl.backend import array_module
from fastdl.functional._core import torch_dtype_name as _torch_type
from fastdl.nn.functional._checks import check_tensor
from fastdl.tensor import Tensor, _wrap, get_default_dtype


def _acc_dtype(dtype):
    """torch's CUDA accumulation type: float16 accumulates in float32."""
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


def _float_input(x, fn, name="input"):
    check_tensor(x, fn, name)
    if x._data.dtype.kind != "f":
        raise NotImplementedError(f'"{fn}" not implemented for '
                                  f"'{_torch_type(x._data.dtype)}'")
    if x.ndim < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-max(x.ndim, 1)}, {max(x.ndim, 1) - 1}], but got 1)")
    return x


def _per_channel(t, fn, name, channels, optional=False):
    """The values of a per-channel vector argument (None where optional and not given)."""
    if t is None and optional:
        return None
    check_tensor(t, fn, name)
    if t.ndim != 1 or t.shape[0] != channels:
        raise RuntimeError(f"{fn}(): expected {name} of shape ({channels},) (one value per "
                           f"channel of the input), got {tuple(t.shape)}")
    return t._data


def _flat(x):
    """(N, C, L) view of an (N, C, *) array, the layout torch's kernels reduce over."""
    return x.reshape(x.shape[0], x.shape[1], -1)


def _channel_view(v, ndim):
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _mean_var(xp, x, acc):
    """Per-channel mean and biased variance of an (N, C, *) array in ``acc``: mean 0 and a NaN
    variance over no values, as torch's Welford pass."""
    flat = _flat(x).astype(acc, copy=False)
    count = flat.shape[0] * flat.shape[2]
    if count == 0:
        zeros = xp.zeros(x.shape[1], acc)
        return zeros, zeros + np.nan
    mean = flat.mean(axis=(0, 2))
    centered = flat - mean[None, :, None]
    return mean, (centered * centered).mean(axis=(0, 2))


def _inv_std(xp, var, eps):
    """torch's InvStd: 1 / sqrt(var + eps), but 0 where var and eps are both 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        invstd = 1.0 / xp.sqrt(var + eps)
    if eps == 0:
        invstd = xp.where(var == 0, xp.zeros_like(invstd), invstd)
    return invstd.astype(var.dtype, copy=False)


def batch_norm_stats(input, eps):
    """(mean, invstd) of each channel (dim 1) of an (N, C, *) input: the batch mean and
    1 / sqrt(biased variance + eps), in float32 for a float16 input.

    >>> mean, invstd = fastdl.batch_norm_stats(fastdl.tensor([[1.0], [3.0]]), 0.0)
    >>> mean.tolist(), invstd.tolist()
    ([2.0], [1.0])
    """
    _float_input(input, "batch_norm_stats")
    x = input._data
    xp = array_module(x)
    mean, var = _mean_var(xp, x, _acc_dtype(x.dtype))
    return _wrap(mean), _wrap(_inv_std(xp, var, eps))


def _gather_dtypes(fn, input, mean, invstd, running_mean):
    """The dtype the running statistics and counts are in (running_mean's, else input's) and
    the accumulation dtype mean and invstd must have."""
    _float_input(input, fn)
    scalar = (running_mean if running_mean is not None else input)._data.dtype
    acc = _acc_dtype(scalar)
    for name, t in (("mean", mean), ("invstd", invstd)):
        check_tensor(t, fn, name)
        if t._data.dtype != acc:
            raise RuntimeError(f"Expected {name} to have type {_torch_type(acc)} but got "
                               f"{_torch_type(t._data.dtype)}")
        if t.ndim != 2 or t.shape != mean.shape:
            raise RuntimeError(f"{fn}(): mean and invstd must both be (world_size, C), got "
                               f"{tuple(mean.shape)} and {tuple(t.shape)}")
    return scalar, acc


def batch_norm_gather_stats_with_counts(input, mean, invstd, running_mean, running_var,
                                        momentum, eps, counts):
    """The statistics of all ranks' batches together: ``mean`` and ``invstd`` hold one row
    (C values) per rank, as ``batch_norm_stats`` gave them, and ``counts`` each rank's number
    of values per channel. Returns the global (mean, invstd); the running statistics, when
    given, move towards the global mean and unbiased variance by ``momentum`` in place.

    >>> mean, invstd = fastdl.tensor([[0.0], [2.0]]), fastdl.tensor([[1.0], [1.0]])
    >>> m, s = fastdl.batch_norm_gather_stats_with_counts(
    ...     fastdl.zeros(2, 1), mean, invstd, None, None, 0.1, 0.0, fastdl.tensor([1.0, 1.0]))
    >>> m.tolist(), round(s.item(), 4)
    ([1.0], 0.7071)
    """
    fn = "batch_norm_gather_stats_with_counts"
    scalar, acc = _gather_dtypes(fn, input, mean, invstd, running_mean)
    check_tensor(counts, fn, "counts")
    if counts.ndim != 1 or counts.shape[0] != mean.shape[0]:
        raise RuntimeError(f"{fn}(): counts must have one entry per row of mean "
                           f"({mean.shape[0]}), got shape {tuple(counts.shape)}")
    if counts._data.dtype != scalar:
        raise RuntimeError(f"Expected counts to have type {_torch_type(scalar)} but got "
                           f"{_torch_type(counts._data.dtype)}")
    channels = mean.shape[1]
    rm = _per_channel(running_mean, fn, "running_mean", channels, optional=True)
    rv = _per_channel(running_var, fn, "running_var", channels, optional=True)
    m_all, s_all, c_all = mean._data, invstd._data, counts._data
    xp = array_module(m_all, s_all)
    avg = xp.zeros(channels, acc)
    var_n = xp.zeros(channels, acc)
    n = 0  # torch keeps the running count in an integer (index_t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for j in range(m_all.shape[0]):
            count = acc.type(c_all[j])
            m = m_all[j]
            v = 1.0 / s_all[j]
            v = (v * v - acc.type(eps)) * count
            factor = acc.type(1.0) / (n + count)
            var_n = var_n + v + (avg - m) * (avg - m) * n * count * factor
            avg = n * factor * avg + count * factor * m
            n = int(n + count)
        global_invstd = acc.type(1.0) / xp.sqrt(var_n / n + acc.type(eps))
        if rm is not None:
            rm[...] = ((1 - momentum) * rm.astype(acc) + momentum * avg).astype(scalar)
        if rv is not None:
            unbiased = var_n / (n - 1)
            rv[...] = ((1 - momentum) * rv.astype(acc) + momentum * unbiased).astype(scalar)
    _bump_versions(running_mean, running_var)
    return _wrap(avg.astype(acc)), _wrap(global_invstd.astype(acc))


def _bump_versions(*tensors):
    from fastdl.autograd.graph import version_counter
    for t in tensors:
        if t is not None:
            version_counter(t).value += 1


def batch_norm_gather_stats(input, mean, invstd, running_mean, running_var, momentum, eps,
                            count):
    """``batch_norm_gather_stats_with_counts`` where every rank had ``count`` values per
    channel.

    >>> mean, invstd = fastdl.tensor([[0.0], [2.0]]), fastdl.tensor([[1.0], [1.0]])
    >>> m, _ = fastdl.batch_norm_gather_stats(fastdl.zeros(2, 1), mean, invstd, None, None,
    ...                                       0.1, 0.0, 3)
    >>> m.tolist()
    [1.0]
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
        raise TypeError(f"batch_norm_gather_stats(): argument 'count' (position 8) must be "
                        f"int, not {type(count).__name__}")
    fn = "batch_norm_gather_stats"
    scalar, _ = _gather_dtypes(fn, input, mean, invstd, running_mean)
    xp = array_module(mean._data)
    counts = _wrap(xp.full(mean.shape[0], count, dtype=scalar))
    return batch_norm_gather_stats_with_counts(input, mean, invstd, running_mean, running_var,
                                               momentum, eps, counts)


def _stats_pair(fn, input, mean, invstd):
    channels = input.shape[1]
    m = _per_channel(mean, fn, "mean", channels)
    s = _per_channel(invstd, fn, "invstd", channels)
    if m.dtype != s.dtype:
        raise RuntimeError("mean and invstd need to have the same data types")
    return m, s


def batch_norm_elemt(input, weight, bias, mean, invstd, eps):
    """(input - mean) * invstd * weight + bias per channel (dim 1), with given statistics;
    ``eps`` is unused (invstd already holds it), as in torch.

    >>> fastdl.batch_norm_elemt(fastdl.tensor([[1.0], [3.0]]), None, None, fastdl.tensor([2.0]),
    ...                         fastdl.tensor([0.5]), 1e-5).tolist()
    [[-0.5], [0.5]]
    """
    fn = "batch_norm_elemt"
    _float_input(input, fn)
    x = input._data
    m, s = _stats_pair(fn, input, mean, invstd)
    w = _per_channel(weight, fn, "weight", x.shape[1], optional=True)
    b = _per_channel(bias, fn, "bias", x.shape[1], optional=True)
    acc = _acc_dtype(x.dtype)
    out = (x.astype(acc, copy=False) - _channel_view(m, x.ndim)) * _channel_view(s, x.ndim)
    if w is not None:
        out = out * _channel_view(w, x.ndim)
    if b is not None:
        out = out + _channel_view(b, x.ndim)
    return _wrap(out.astype(x.dtype, copy=False))


def _grad_output(fn, grad_out, input):
    check_tensor(grad_out, fn, "grad_out")
    if tuple(grad_out.shape) != tuple(input.shape):
        raise RuntimeError(f"{fn}(): grad_out has shape {tuple(grad_out.shape)} but the input "
                           f"has shape {tuple(input.shape)}")
    return grad_out._data


def batch_norm_backward_reduce(grad_out, input, mean, invstd, weight, input_g, weight_g,
                               bias_g):
    """The per-channel sums a batch norm backward needs: (sum_dy, sum_dy_xmu, grad_weight,
    grad_bias) with sum_dy = sum(grad_out), sum_dy_xmu = sum(grad_out * (input - mean)),
    grad_weight = sum_dy_xmu * invstd and grad_bias = sum_dy; each pair is None unless its
    flag (``input_g`` for the sums, then ``weight_g``, ``bias_g``) asks for it.

    >>> x, g = fastdl.tensor([[1.0], [3.0]]), fastdl.tensor([[1.0], [2.0]])
    >>> out = fastdl.batch_norm_backward_reduce(g, x, fastdl.tensor([2.0]),
    ...                                         fastdl.tensor([0.5]), None, True, True, True)
    >>> [t.tolist() for t in out]
    [[3.0], [1.0], [0.5], [3.0]]
    """
    fn = "batch_norm_backward_reduce"
    _float_input(input, fn)
    x = input._data
    dy = _grad_output(fn, grad_out, input)
    m, s = _stats_pair(fn, input, mean, invstd)
    w = _per_channel(weight, fn, "weight", x.shape[1], optional=True)
    acc = m.dtype
    flat_dy = _flat(dy).astype(acc, copy=False)
    sum_dy = flat_dy.sum(axis=(0, 2))
    sum_dy_xmu = (flat_dy * (_flat(x).astype(acc, copy=False) - m[None, :, None])).sum(axis=(0, 2))
    param_dtype = w.dtype if w is not None else get_default_dtype()
    return (_wrap(sum_dy) if input_g else None,
            _wrap(sum_dy_xmu) if input_g else None,
            _wrap((sum_dy_xmu * s).astype(param_dtype)) if weight_g else None,
            _wrap(sum_dy.astype(param_dtype)) if bias_g else None)


def batch_norm_backward_elemt(grad_out, input, mean, invstd, weight, sum_dy, sum_dy_xmu, count):
    """The input gradient of a batch norm whose statistics came from all ranks: ``sum_dy``
    and ``sum_dy_xmu`` summed over the ranks' ``batch_norm_backward_reduce`` results, and
    ``count`` (int32) each rank's number of values per channel.

    >>> x, g = fastdl.tensor([[1.0], [3.0]]), fastdl.tensor([[1.0], [2.0]])
    >>> fastdl.batch_norm_backward_elemt(g, x, fastdl.tensor([2.0]), fastdl.tensor([1.0]), None,
    ...                                  fastdl.tensor([3.0]), fastdl.tensor([1.0]),
    ...                                  fastdl.tensor([2], dtype=fastdl.int32)).tolist()
    [[0.0], [0.0]]
    """
    fn = "batch_norm_backward_elemt"
    _float_input(input, fn)
    x = input._data
    dy = _grad_output(fn, grad_out, input)
    m, s = _stats_pair(fn, input, mean, invstd)
    channels = x.shape[1]
    w = _per_channel(weight, fn, "weight", channels, optional=True)
    sdy = _per_channel(sum_dy, fn, "sum_dy", channels)
    sdyx = _per_channel(sum_dy_xmu, fn, "sum_dy_xmu", channels)
    check_tensor(count, fn, "count")
    if count._data.dtype != np.int32:
        raise RuntimeError(f"expected scalar type Int but found "
                           f"{_torch_type(count._data.dtype)}")
    acc = m.dtype
    total = int(count._data.astype(np.int64).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = acc.type(1.0) / acc.type(total)
        scale = s * (w.astype(acc) if w is not None else acc.type(1.0))
        proj = s * s * sdyx * norm
        view = lambda v: _channel_view(v, x.ndim)  # noqa: E731
        grad = (dy.astype(acc, copy=False) - view(sdy * norm)
                - (x.astype(acc, copy=False) - view(m)) * view(proj)) * view(scale)
    return _wrap(grad.astype(x.dtype, copy=False))


def batch_norm_update_stats(input, running_mean, running_var, momentum):
    """(mean, biased variance) of each channel of the batch, moving the running statistics
    (each updated when given) towards the mean and the unbiased variance by ``momentum``.

    >>> mean, var = fastdl.zeros(1), fastdl.ones(1)
    >>> fastdl.batch_norm_update_stats(fastdl.tensor([[1.0], [3.0]]), mean, var, 0.5)
    (tensor([2.]), tensor([1.]))
    >>> mean.tolist(), var.tolist()
    ([1.0], [1.5])
    """
    fn = "batch_norm_update_stats"
    _float_input(input, fn)
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float, np.floating)):
        raise TypeError(f"{fn}(): argument 'momentum' (position 4) must be float, not "
                        f"{type(momentum).__name__}")
    x = input._data
    if x.size == 0:
        raise RuntimeError(f"input tensor must have at least one element, but got "
                           f"input_sizes = {list(x.shape)}")
    channels = x.shape[1]
    rm = _per_channel(running_mean, fn, "running_mean", channels, optional=True)
    rv = _per_channel(running_var, fn, "running_var", channels, optional=True)
    params = {t.dtype for t in (rm, rv) if t is not None}
    # torch's CPU rule: float16 input may have float32 statistics; otherwise one dtype
    if params and params != {x.dtype} and not (x.dtype == np.float16
                                               and params == {np.dtype(np.float32)}):
        raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of "
                           f"{_torch_type(x.dtype)}")
    out_dtype = params.pop() if params else x.dtype
    xp = array_module(x)
    mean, var = _mean_var(xp, x, _acc_dtype(out_dtype))
    n = x.size // channels
    with np.errstate(divide="ignore", invalid="ignore"):
        unbiased = var * (n / (n - 1)) if n > 1 else var + np.nan
    if rm is not None:
        rm[...] = momentum * mean + (1 - momentum) * rm
    if rv is not None:
        rv[...] = momentum * unbiased + (1 - momentum) * rv
    _bump_versions(running_mean, running_var)
    return _wrap(mean.astype(out_dtype)), _wrap(var.astype(out_dtype))


__all__ = ["batch_norm_backward_elemt", "batch_norm_backward_reduce", "batch_norm_elemt",
           "batch_norm_gather_stats", "batch_norm_gather_stats_with_counts",
           "batch_norm_stats", "batch_norm_update_stats"]
