"""Folding an eval-mode BatchNorm into the convolution or Linear before it
(``torch.nn.utils.fusion``): ``bn(conv(x)) == fused_conv(x)`` up to rounding, with torch's
formulas, dtypes and errors."""
from __future__ import annotations

import copy

import fastdl
from fastdl.nn.parameter import Parameter


def fuse_conv_bn_eval(conv, bn, transpose: bool = False):
    """A copy of ``conv`` whose weight and bias absorb ``bn``'s running statistics and affine
    parameters (both modules must be in eval mode). ``transpose=True`` for a ConvTranspose,
    whose output channels are the weight's dim 1.

    >>> conv = fastdl.nn.Conv2d(1, 2, 3).eval()
    >>> bn = fastdl.nn.BatchNorm2d(2).eval()
    >>> fused = fastdl.nn.utils.fuse_conv_bn_eval(conv, bn)
    >>> x = fastdl.ones(1, 1, 4, 4)
    >>> bool(fastdl.allclose(fused(x), bn(conv(x)), atol=1e-6))
    True
    """
    if conv.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    fused_conv = copy.deepcopy(conv)
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("bn.running_mean and bn.running_var must not be None")
    fused_conv.weight, fused_conv.bias = fuse_conv_bn_weights(
        fused_conv.weight, fused_conv.bias, bn.running_mean, bn.running_var, bn.eps,
        bn.weight, bn.bias, transpose)
    return fused_conv


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b,
                         transpose: bool = False):
    """(weight, bias) Parameters of the fused convolution: ``w * (gamma / sqrt(var + eps))``
    per output channel and ``(b - mean) * gamma / sqrt(var + eps) + beta``, cast back to the
    convolution's dtypes. ``conv_b``, ``bn_w`` and ``bn_b`` may be None (0, 1 and 0)."""
    conv_weight_dtype = conv_w.dtype
    conv_bias_dtype = conv_b.dtype if conv_b is not None else conv_weight_dtype
    if conv_b is None:
        conv_b = fastdl.zeros_like(bn_rm)
    if bn_w is None:
        bn_w = fastdl.ones_like(bn_rm)
    if bn_b is None:
        bn_b = fastdl.zeros_like(bn_rm)
    bn_var_rsqrt = fastdl.rsqrt(bn_rv + bn_eps)
    # the output channels: dim 0 of a convolution's weight, dim 1 of a transposed one's
    channel_dim_first = [-1, 1] if not transpose else [1, -1]
    shape = channel_dim_first + [1] * (conv_w.dim() - 2)
    fused_conv_w = (conv_w * (bn_w * bn_var_rsqrt).reshape(shape)).to(conv_weight_dtype)
    fused_conv_b = ((conv_b - bn_rm) * bn_var_rsqrt * bn_w + bn_b).to(conv_bias_dtype)
    return (Parameter(fused_conv_w.detach(), conv_w.requires_grad),
            Parameter(fused_conv_b.detach(), conv_b.requires_grad))


def fuse_linear_bn_eval(linear, bn):
    """A copy of ``linear`` whose weight and bias absorb the BatchNorm1d ``bn`` that follows it
    (both in eval mode; ``bn.num_features`` is ``out_features`` or 1).

    >>> linear = fastdl.nn.Linear(3, 2).eval()
    >>> bn = fastdl.nn.BatchNorm1d(2).eval()
    >>> fused = fastdl.nn.utils.fuse_linear_bn_eval(linear, bn)
    >>> x = fastdl.ones(4, 3)
    >>> bool(fastdl.allclose(fused(x), bn(linear(x)), atol=1e-6))
    True
    """
    if linear.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    fused_linear = copy.deepcopy(linear)
    if linear.out_features != bn.num_features and bn.num_features != 1:
        raise AssertionError(
            "To fuse, linear.out_features == bn.num_features or bn.num_features == 1, got "
            f"linear.out_features={linear.out_features} and bn.num_features={bn.num_features}")
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("bn.running_mean and bn.running_var must not be None")
    fused_linear.weight, fused_linear.bias = fuse_linear_bn_weights(
        fused_linear.weight, fused_linear.bias, bn.running_mean, bn.running_var, bn.eps,
        bn.weight, bn.bias)
    return fused_linear


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """(weight, bias) Parameters of the fused Linear: rows scaled by
    ``gamma / sqrt(var + eps)``, bias ``(b - mean) * scale + beta`` (torch's formulas and
    dtypes; ``linear_b`` may be None)."""
    linear_weight_dtype = linear_w.dtype
    linear_bias_dtype = linear_b.dtype if linear_b is not None else linear_weight_dtype
    if linear_b is None:
        linear_b = fastdl.zeros_like(bn_rm)
    bn_scale = bn_w * fastdl.rsqrt(bn_rv + bn_eps)
    fused_w = linear_w * bn_scale.unsqueeze(-1).to(linear_weight_dtype)
    fused_b = ((linear_b - bn_rm) * bn_scale + bn_b).to(linear_bias_dtype)
    return (Parameter(fused_w.detach(), linear_w.requires_grad),
            Parameter(fused_b.detach(), linear_b.requires_grad))
