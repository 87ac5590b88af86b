"""nn.functional ops under torch's top-level names and signatures (``torch.conv2d``,
``torch.layer_norm``, ``torch.embedding``, ``torch.kl_div`` ...).

These are ATen's signatures, which differ from nn.functional's: losses take ``reduction`` as
the enum int (0 none, 1 mean, 2 sum; ATen reduces only for 1 and 2, so any other int means
none), ``embedding`` takes the weight first, ``batch_norm``/``instance_norm`` take the affine
parameters before the running statistics, the dropouts take ``train``, and
``max_pool1d_with_indices``/``adaptive_max_pool1d`` always return indices. Every function
delegates to the nn.functional implementation; ``cudnn_enable(d)`` is accepted and ignored.
"""
from __future__ import annotations

import operator

from fastdl.nn import functional as F
from fastdl.nn.functional.normalization import _group_norm

_REDUCTIONS = {1: "mean", 2: "sum"}


def _reduction(reduction, fn):
    if isinstance(reduction, bool) or not isinstance(reduction, int):
        raise TypeError(f"{fn}(): argument 'reduction' must be int (0: none, 1: mean, 2: sum), "
                        f"not {type(reduction).__name__}")
    return _REDUCTIONS.get(reduction, "none")


def _stride(stride):
    """ATen's default stride is the empty list, meaning the kernel size."""
    return None if stride is None or (isinstance(stride, (list, tuple)) and not stride) \
        else stride


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """nn.functional.conv1d: (N, C_in, L) with (C_out, C_in / groups, K) weights.

    >>> fastdl.conv1d(fastdl.ones(1, 1, 4), fastdl.ones(1, 1, 2)).tolist()
    [[[2.0, 2.0, 2.0]]]
    """
    return F.conv1d(input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """nn.functional.conv2d: (N, C_in, H, W) with (C_out, C_in / groups, kH, kW) weights.

    >>> fastdl.conv2d(fastdl.ones(1, 1, 3, 3), fastdl.ones(1, 1, 2, 2)).tolist()
    [[[[4.0, 4.0], [4.0, 4.0]]]]
    """
    return F.conv2d(input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """nn.functional.conv3d: (N, C_in, D, H, W) with (C_out, C_in / groups, kD, kH, kW).

    >>> fastdl.conv3d(fastdl.ones(1, 1, 2, 2, 2), fastdl.ones(1, 1, 2, 2, 2)).tolist()
    [[[[[8.0]]]]]
    """
    return F.conv3d(input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """nn.functional.conv_transpose1d: (N, C_in, L) with (C_in, C_out / groups, K) weights.

    >>> fastdl.conv_transpose1d(fastdl.ones(1, 1, 2), fastdl.ones(1, 1, 2)).tolist()
    [[[1.0, 2.0, 1.0]]]
    """
    return F.conv_transpose1d(input, weight, bias, stride, padding, output_padding, groups,
                              dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """nn.functional.conv_transpose2d: (N, C_in, H, W) with (C_in, C_out / groups, kH, kW).

    >>> fastdl.conv_transpose2d(fastdl.ones(1, 1, 1, 1), fastdl.ones(1, 1, 2, 2)).shape
    (1, 1, 2, 2)
    """
    return F.conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups,
                              dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """nn.functional.conv_transpose3d: (N, C_in, D, H, W) with (C_in, C_out / groups, k, k, k).

    >>> fastdl.conv_transpose3d(fastdl.ones(1, 1, 1, 1, 1), fastdl.ones(1, 2, 2, 2, 2)).shape
    (1, 2, 2, 2, 2)
    """
    return F.conv_transpose3d(input, weight, bias, stride, padding, output_padding, groups,
                              dilation)


def max_pool1d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """nn.functional.max_pool1d (values only; an empty ``stride`` means kernel_size).

    >>> fastdl.max_pool1d(fastdl.arange(6.0).view(1, 6), 2).tolist()
    [[1.0, 3.0, 5.0]]
    """
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode=False):
    """max_pool1d's values and the flat position of each maximum along L.

    >>> values, indices = fastdl.max_pool1d_with_indices(fastdl.arange(6.0).view(1, 6), 2)
    >>> values.tolist(), indices.tolist()
    ([[1.0, 3.0, 5.0]], [[1, 3, 5]])
    """
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode,
                        return_indices=True)


def max_pool2d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """nn.functional.max_pool2d (values only; an empty ``stride`` means kernel_size).

    >>> fastdl.max_pool2d(fastdl.arange(16.0).view(1, 4, 4), 2).tolist()
    [[[5.0, 7.0], [13.0, 15.0]]]
    """
    return F.max_pool2d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool3d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """nn.functional.max_pool3d (values only; an empty ``stride`` means kernel_size).

    >>> fastdl.max_pool3d(fastdl.arange(8.0).view(1, 2, 2, 2), 2).tolist()
    [[[[7.0]]]]
    """
    return F.max_pool3d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """nn.functional.avg_pool1d.

    >>> fastdl.avg_pool1d(fastdl.arange(4.0).view(1, 4), 2).tolist()
    [[0.5, 2.5]]
    """
    return F.avg_pool1d(input, kernel_size, _stride(stride), padding, ceil_mode,
                        count_include_pad)


def adaptive_avg_pool1d(input, output_size):
    """nn.functional.adaptive_avg_pool1d.

    >>> fastdl.adaptive_avg_pool1d(fastdl.arange(4.0).view(1, 4), 2).tolist()
    [[0.5, 2.5]]
    """
    return F.adaptive_avg_pool1d(input, output_size)


def adaptive_max_pool1d(input, output_size):
    """nn.functional.adaptive_max_pool1d; like torch's top level, always (values, indices).

    >>> values, indices = fastdl.adaptive_max_pool1d(fastdl.arange(6.0).view(1, 6), 2)
    >>> values.tolist(), indices.tolist()
    ([[2.0, 5.0]], [[2, 5]])
    """
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05, cudnn_enable=True):
    """nn.functional.layer_norm; ``normalized_shape`` is a tuple or list of ints.

    >>> fastdl.layer_norm(fastdl.tensor([[1.0, 3.0]]), (2,)).round(decimals=3).tolist()
    [[-1.0, 1.0]]
    """
    if not isinstance(normalized_shape, (tuple, list)):
        raise TypeError(f"layer_norm(): argument 'normalized_shape' (position 2) must be tuple "
                        f"of ints, not {type(normalized_shape).__name__}")
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05, cudnn_enabled=True):
    """nn.functional.group_norm over (N, C, *) with C divisible by ``num_groups``.

    >>> fastdl.group_norm(fastdl.tensor([[1.0, 3.0]]), 1).round(decimals=3).tolist()
    [[-1.0, 1.0]]
    """
    return _group_norm(input, num_groups, weight, bias, eps)


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
               cudnn_enabled):
    """nn.functional.batch_norm with ATen's argument order (affine parameters first); every
    argument is positional and required, as in torch.

    Unlike nn.functional's, it trains on one value per channel too (as torch's ATen op).

    >>> x = fastdl.tensor([[1.0], [3.0]])
    >>> y = fastdl.batch_norm(x, None, None, None, None, True, 0.1, 1e-5, False)
    >>> y.round(decimals=3).tolist()
    [[-1.0], [1.0]]
    """
    from fastdl.nn.functional.normalization import _batch_norm
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum,
                  eps, cudnn_enabled):
    """nn.functional.instance_norm with ATen's argument order (affine parameters first).

    >>> x = fastdl.tensor([[[1.0, 3.0]]])
    >>> y = fastdl.instance_norm(x, None, None, None, None, True, 0.1, 1e-5, False)
    >>> y.round(decimals=3).tolist()
    [[[-1.0, 1.0]]]
    """
    from fastdl.nn.functional.normalization import _instance_norm
    return _instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                          momentum, eps)


def _check_p(p):
    if not 0.0 <= p <= 1.0:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout(input, p, train):
    """nn.functional.dropout with torch's top-level signature (``train``, all required).

    >>> fastdl.dropout(fastdl.ones(3), 0.5, False).tolist()
    [1.0, 1.0, 1.0]
    """
    _check_p(p)
    return F.dropout(input, p, train)


def dropout_(input, p, train):
    """dropout written into ``input``.

    >>> x = fastdl.ones(3); fastdl.dropout_(x, 1.0, True) is x, x.tolist()
    (True, [0.0, 0.0, 0.0])
    """
    _check_p(p)
    return F.dropout(input, p, train, inplace=True)


def _feature(input, p, train, inplace):
    from fastdl.nn.functional.dropout import _feature_dropout
    from fastdl.nn.functional._checks import check_float
    _check_p(p)
    check_float(input, "feature_dropout")
    if train and p > 0 and input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return _feature_dropout(input, p, train, inplace, "feature_dropout")


def feature_dropout(input, p, train):
    """Dropout of whole channels of an (N, C, *) input (one draw per (n, c)), survivors scaled
    by 1 / (1 - p); the identity unless ``train``.

    >>> y = fastdl.feature_dropout(fastdl.ones(2, 3, 4), 0.5, True)
    >>> [len(set(channel)) for channel in y.reshape(6, 4).tolist()]
    [1, 1, 1, 1, 1, 1]
    """
    return _feature(input, p, train, False)


def feature_dropout_(input, p, train):
    """feature_dropout written into ``input``.

    >>> x = fastdl.ones(2, 2); fastdl.feature_dropout_(x, 1.0, True) is x, x.tolist()
    (True, [[0.0, 0.0], [0.0, 0.0]])
    """
    return _feature(input, p, train, True)


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` at ``indices`` (torch's top-level order: weight first). A negative
    ``padding_idx`` means none; row ``padding_idx`` otherwise gets no gradient.

    Shape: indices' shape + (embedding_dim,).

    >>> fastdl.embedding(fastdl.eye(3), fastdl.tensor([2, 0])).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    padding_idx = operator.index(padding_idx)
    return F.embedding(indices, weight, None if padding_idx < 0 else padding_idx,
                       scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


def bilinear(input1, input2, weight, bias=None):
    """nn.functional.bilinear: ``x1^T A x2 + b`` with weight (out, in1, in2).

    >>> fastdl.bilinear(fastdl.ones(1, 2), fastdl.ones(1, 3), fastdl.ones(1, 2, 3)).tolist()
    [[6.0]]
    """
    return F.bilinear(input1, input2, weight, bias)


def kl_div(input, target, reduction=1, *, log_target=False):
    """nn.functional.kl_div with the reduction enum (1, the default, is the elementwise mean).

    >>> fastdl.kl_div(fastdl.zeros(2), fastdl.ones(2), 2).item()
    0.0
    """
    return F.kl_div(input, target, reduction=_reduction(reduction, "kl_div"),
                    log_target=log_target)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=1):
    """nn.functional.cosine_embedding_loss with the reduction enum.

    >>> a = fastdl.tensor([[1.0, 0.0]]); b = fastdl.tensor([[0.0, 1.0]])
    >>> fastdl.cosine_embedding_loss(a, b, fastdl.tensor([1.0])).item()
    1.0
    """
    return F.cosine_embedding_loss(input1, input2, target, margin,
                                   reduction=_reduction(reduction, "cosine_embedding_loss"))


def hinge_embedding_loss(input, target, margin=1.0, reduction=1):
    """nn.functional.hinge_embedding_loss with the reduction enum.

    >>> fastdl.hinge_embedding_loss(fastdl.tensor([0.5]), fastdl.tensor([-1.0])).item()
    0.5
    """
    return F.hinge_embedding_loss(input, target, margin,
                                  reduction=_reduction(reduction, "hinge_embedding_loss"))


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=1):
    """nn.functional.margin_ranking_loss with the reduction enum.

    >>> fastdl.margin_ranking_loss(fastdl.tensor([1.0]), fastdl.tensor([2.0]),
    ...                            fastdl.tensor([1.0])).item()
    1.0
    """
    return F.margin_ranking_loss(input1, input2, target, margin,
                                 reduction=_reduction(reduction, "margin_ranking_loss"))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    """nn.functional.poisson_nll_loss; all arguments positional and required, as in torch.

    >>> round(fastdl.poisson_nll_loss(fastdl.ones(2), fastdl.ones(2), True, False, 1e-8,
    ...                               1).item(), 4)
    1.7183
    """
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps,
                              reduction=_reduction(reduction, "poisson_nll_loss"))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-06, swap=False,
                        reduction=1):
    """nn.functional.triplet_margin_loss with the reduction enum.

    >>> a = fastdl.zeros(1, 2)
    >>> fastdl.triplet_margin_loss(a, a, a + 3, margin=1.0).item()
    0.0
    """
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                 reduction=_reduction(reduction, "triplet_margin_loss"))


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=1):
    """nn.functional.binary_cross_entropy_with_logits; ``pos_weight`` comes before the
    reduction enum, as in torch's top level.

    >>> round(fastdl.binary_cross_entropy_with_logits(fastdl.zeros(2), fastdl.ones(2)).item(), 4)
    0.6931
    """
    return F.binary_cross_entropy_with_logits(
        input, target, weight, reduction=_reduction(reduction, "binary_cross_entropy_with_logits"),
        pos_weight=pos_weight)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=1,
             zero_infinity=False):
    """nn.functional.ctc_loss with the reduction enum (1: mean over the batch of each loss
    divided by its target length).

    >>> lp = fastdl.zeros(2, 1, 2).log_softmax(2)
    >>> round(fastdl.ctc_loss(lp, fastdl.tensor([[1]]), [2], [1], 0, 0).item(), 4)
    0.2877
    """
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                      reduction=_reduction(reduction, "ctc_loss"), zero_infinity=zero_infinity)


__all__ = ["adaptive_avg_pool1d", "adaptive_max_pool1d", "avg_pool1d", "batch_norm",
           "bilinear", "binary_cross_entropy_with_logits", "conv1d", "conv2d", "conv3d",
           "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "cosine_embedding_loss",
           "ctc_loss", "dropout", "dropout_", "embedding", "feature_dropout", "feature_dropout_",
           "group_norm", "hinge_embedding_loss", "instance_norm", "kl_div", "layer_norm",
           "margin_ranking_loss", "max_pool1d", "max_pool1d_with_indices", "max_pool2d",
           "max_pool3d", "poisson_nll_loss", "triplet_margin_loss"]
