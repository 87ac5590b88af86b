"""Activation functions (torch.nn.functional names and signatures).

Each is one op (``defop``) whose backward is a dedicated ``*_backward`` op, as in PyTorch's
derivatives.yaml: a fused array forward (reading what the forward left in ``Saved``) and its own
backward written with registered ops, so higher derivatives are exact. ``relu``, ``sigmoid``,
``tanh``, ``softmax`` and ``log_softmax`` are fastdl.functional's ops. ``inplace=True`` goes
through ``apply_inplace``: recorded on a non-leaf, refused on a leaf that requires grad.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from fastdl.autograd.op import defop
from fastdl.functional import activations as _core_act
from fastdl.functional import arithmetic as A
from fastdl.nn.functional._checks import check_float, check_tensor
from fastdl.autograd.op import Saved
from fastdl.nn.functional._special import normal_cdf

sigmoid = A.sigmoid
tanh = A.tanh

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_COEFF = 0.044715


def _cast(value, dtype):
    return value.astype(dtype, copy=False)


def _sigmoid_array(x):
    # exp(-x) overflows to inf for x << 0, and 1 / (1 + inf) = 0 is the right limit
    with np.errstate(over="ignore"):
        return (1.0 / (1.0 + np.exp(-x))).astype(x.dtype, copy=False)


# ---- forwards on arrays: out = f(x), leaving in ``saved`` what f'(x) reuses ----
def _leaky_relu_fwd(x, slope, saved):
    positive = saved.values = x > 0
    return _cast(np.where(positive, x, x * slope), x.dtype)


def _elu_fwd(x, alpha, saved):
    positive = x > 0
    negative_part = alpha * np.expm1(np.minimum(x, 0))
    saved.values = positive, negative_part
    return _cast(np.where(positive, x, negative_part), x.dtype)


def _gelu_fwd(x, approximate, saved):
    if approximate == "none":
        cdf = saved.values = normal_cdf(x)
        return _cast(x * cdf, x.dtype)
    if _blockable(x):
        return _gelu_tanh_blocked(x, saved)
    t = saved.values = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_TANH_COEFF * x * x * x))
    return _cast(0.5 * x * (1.0 + t), x.dtype)


# Large float numpy arrays (a GPT's MLP: 2048 x 1536): the tanh GELU and its derivative
# evaluated block by block with in-place ufuncs, so the temporaries stay in L1/L2 and no
# array-sized temporary is allocated (each costs page faults): forward 34 -> 10 ms, backward
# 40 -> 9 ms at 2048 x 1536 float32 (1 thread, CPU time; torch's kernels: 10.5 and 6 ms).
# numpy releases the GIL inside each ufunc, so with fastdl.set_num_threads(n) the flat range is
# split into n contiguous parts run on n Python threads (each with its own buffers).
_BLOCK = 16384
_POOL = None


def _blockable(x):
    return type(x) is np.ndarray and x.dtype.kind == "f" and x.size >= 4 * _BLOCK


def _in_parallel(size, work):
    """work(start, stop) over [0, size) in up to get_num_threads() contiguous parts, each a
    multiple of _BLOCK long (at least 16 blocks per part)."""
    global _POOL
    from fastdl._threads import get_num_threads
    parts = max(1, min(get_num_threads(), size // (16 * _BLOCK)))
    if parts == 1:
        work(0, size)
        return
    if _POOL is None or _POOL._max_workers < parts - 1:
        from concurrent.futures import ThreadPoolExecutor
        _POOL = ThreadPoolExecutor(max_workers=parts - 1, thread_name_prefix="fastdl-ew")
    step = -(-size // parts // _BLOCK) * _BLOCK
    bounds = [(i, min(i + step, size)) for i in range(0, size, step)]
    futures = [_POOL.submit(work, a, b) for a, b in bounds[1:]]
    work(*bounds[0])
    for f in futures:
        f.result()


def _gelu_tanh_blocked(x, saved):
    k, c = _SQRT_2_OVER_PI, _GELU_TANH_COEFF
    xf = np.ascontiguousarray(x).reshape(-1)
    out, t = np.empty_like(xf), np.empty_like(xf)

    def work(start, stop):
        buf = np.empty(_BLOCK, x.dtype)
        for i in range(start, stop, _BLOCK):
            j = min(i + _BLOCK, stop)
            xs, ts, os_, b = xf[i:j], t[i:j], out[i:j], buf[:j - i]
            np.multiply(xs, xs, out=b)  # k (x + c x^3) = x (k + k c x^2)
            b *= k * c
            b += k
            b *= xs
            np.tanh(b, out=ts)
            np.add(ts, 1.0, out=os_)  # 0.5 x (1 + t)
            os_ *= xs
            os_ *= 0.5

    _in_parallel(xf.size, work)
    saved.values = t.reshape(x.shape)
    return out.reshape(x.shape)


def _gelu_tanh_bwd_blocked(g, x, t):
    k, c = _SQRT_2_OVER_PI, _GELU_TANH_COEFF
    xf, tf = np.ascontiguousarray(x).reshape(-1), np.ascontiguousarray(t).reshape(-1)
    gf = np.ascontiguousarray(g).reshape(-1)
    out = np.empty_like(gf)

    def work(start, stop):
        b, d = np.empty(_BLOCK, x.dtype), np.empty(_BLOCK, x.dtype)
        for i in range(start, stop, _BLOCK):
            j = min(i + _BLOCK, stop)
            xs, ts, gs, os_, bb, dd = xf[i:j], tf[i:j], gf[i:j], out[i:j], b[:j - i], d[:j - i]
            # 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2)
            np.multiply(xs, xs, out=bb)
            bb *= 1.5 * k * c
            bb += 0.5 * k
            bb *= xs
            np.multiply(ts, ts, out=dd)
            np.subtract(1.0, dd, out=dd)
            bb *= dd
            bb += 0.5
            np.multiply(ts, 0.5, out=dd)
            bb += dd
            np.multiply(gs, bb, out=os_)

    _in_parallel(xf.size, work)
    return out.reshape(g.shape)


def _silu_fwd(x, saved):
    s = saved.values = _sigmoid_array(x)
    return x * s


def _softplus_fwd(x, beta, threshold, saved):
    z = x * beta
    linear = z > threshold
    saved.values = z, linear
    # relu(z) + log1p(exp(-|z|)) never overflows
    soft = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta
    return _cast(np.where(linear, x, soft), x.dtype)


# ---- backward ops' forwards: g * f'(x) on arrays ----
def _leaky_relu_bwd_fwd(g, x, slope, saved):
    return _cast(np.where(saved.values, g, g * slope), g.dtype)


def _elu_bwd_fwd(g, x, alpha, saved):
    positive, negative_part = saved.values
    return g * _cast(np.where(positive, 1.0, negative_part + alpha), g.dtype)


def _gelu_bwd_fwd(g, x, approximate, saved):
    if approximate == "none":
        pdf = np.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return g * _cast(saved.values + x * pdf, g.dtype)
    t = saved.values
    if _blockable(x) and type(g) is np.ndarray and g.dtype == x.dtype and g.shape == x.shape:
        return _gelu_tanh_bwd_blocked(g, x, t)
    d_inner = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_TANH_COEFF * x * x)
    return g * _cast(0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner, g.dtype)


def _silu_bwd_fwd(g, x, saved):
    s = saved.values
    return g * (s * (1.0 + x * (1.0 - s)))


def _softplus_bwd_fwd(g, x, beta, threshold, saved):
    z, linear = saved.values
    return g * _cast(np.where(linear, 1.0, _sigmoid_array(z)), g.dtype)


# ---- second derivatives f''(x) with registered ops (the backward ops' backward) ----
def _elu_second(x, alpha):  # alpha * exp(x) for x < 0, else 0 (torch masks with x < 0)
    negative = x < 0
    return A.where(negative, A.exp(A.where(negative, x, 0.0)) * alpha, 0.0)


def _gelu_second(x, approximate):
    x2 = x * x
    if approximate == "none":  # phi(x) * (2 - x^2)
        return A.exp(x2 * -0.5) * _INV_SQRT_2PI * (2.0 - x2)
    # with u = k (x + c x^3), t = tanh(u): (1 - t^2) (u' - x t u'^2 + 3 k c x^2)
    k, c = _SQRT_2_OVER_PI, _GELU_TANH_COEFF
    t = A.tanh((x + x2 * x * c) * k)
    du = (x2 * (3.0 * c) + 1.0) * k
    return (1.0 - t * t) * (du - x * t * du * du + x2 * (3.0 * k * c))


def _silu_second(x):  # s (1 - s) (2 + x (1 - 2 s))
    s = A.sigmoid(x)
    return s * (1.0 - s) * (x * (1.0 - s * 2.0) + 2.0)


def _softplus_second(x, beta, threshold):  # beta s (1 - s) with s = sigmoid(beta x), 0 if linear
    z = x * beta
    s = A.sigmoid(z)
    return A.where(z > threshold, 0.0, s * (1.0 - s) * beta)


def _activation(name, forward, backward_forward, second):
    """``name`` and ``name_backward`` ops: y = f(x); the backward op is g * f'(x), whose own
    backward is ``(g_backward(gg, x), gg * g * f''(x))`` (None for piecewise-linear f)."""
    def backward_backward(ctx, gg):
        g, x = ctx.inputs
        grad_g = backward_op.apply((gg, x), *ctx.args)
        if second is None or ctx.edges[1] is None:
            return grad_g, None
        return grad_g, gg * g * second(x, *ctx.args[:-1])

    backward_op = defop(f"{name}_backward", forward=backward_forward,
                        backward=backward_backward, saves=(0, 1))
    op = defop(name, forward=forward, saves=(0,),
               backward=lambda ctx, g: (backward_op.apply((g, ctx.inputs[0]), *ctx.args),))
    return op


leaky_relu_op = _activation("leaky_relu", _leaky_relu_fwd, _leaky_relu_bwd_fwd, None)
elu_op = _activation("elu", _elu_fwd, _elu_bwd_fwd, _elu_second)
gelu_op = _activation("gelu", _gelu_fwd, _gelu_bwd_fwd, _gelu_second)
silu_op = _activation("silu", _silu_fwd, _silu_bwd_fwd, _silu_second)
softplus_op = _activation("softplus", _softplus_fwd, _softplus_bwd_fwd, _softplus_second)


def _apply(op, input, inplace, *args):
    if inplace:
        return op.apply_inplace(input, (), *args, Saved())
    return op.apply((input,), *args, Saved())


def relu(input, inplace: bool = False):
    """max(x, 0); the gradient at 0 is 0 (torch's choice)."""
    check_float(input, "relu")
    return A.relu_op.apply_inplace(input, ()) if inplace else A.relu(input)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """x if x > 0 else negative_slope * x."""
    check_float(input, "leaky_relu")
    return _apply(leaky_relu_op, input, inplace, negative_slope)


def elu(input, alpha: float = 1.0, inplace: bool = False):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    check_float(input, "elu")
    return _apply(elu_op, input, inplace, alpha)


def gelu(input, approximate: str = "none"):
    """x * Phi(x) (``approximate='none'``) or its tanh approximation (``'tanh'``)."""
    check_float(input, "gelu")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu(): approximate must be 'none' or 'tanh', got {approximate!r}")
    return _apply(gelu_op, input, False, approximate)


def silu(input, inplace: bool = False):
    """x * sigmoid(x)."""
    check_float(input, "silu")
    return _apply(silu_op, input, inplace)


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    """log(1 + exp(beta * x)) / beta, or x where beta * x > threshold (as torch)."""
    check_float(input, "softplus")
    return _apply(softplus_op, input, False, beta, threshold)


def _softmax_dim(ndim: int, name: str) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def _check_softmax_input(input, dtype, name):
    # with dtype given, integer inputs are cast first, as in torch
    if dtype is None:
        check_float(input, name)
    else:
        check_tensor(input, name)


def softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim`` (max-shifted, so large inputs do not overflow)."""
    _check_softmax_input(input, dtype, "softmax")
    if dim is None:
        dim = _softmax_dim(input.ndim, "softmax")
    if input.ndim == 0:
        return _core_act.softmax(input.reshape(1), 0, dtype).reshape(())
    return _core_act.softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    """x - logsumexp(x) along ``dim``."""
    _check_softmax_input(input, dtype, "log_softmax")
    if dim is None:
        dim = _softmax_dim(input.ndim, "log_softmax")
    if input.ndim == 0:
        return _core_act.log_softmax(input.reshape(1), 0, dtype).reshape(())
    return _core_act.log_softmax(input, dim, dtype)


def _relu6_backward(ctx, g):
    # torch's hardtanh rule: no gradient where x <= 0 or x >= 6 (NaN passes it on)
    x = ctx.inputs[0]._data
    return (A.where(A._wrap((x <= 0) | (x >= 6)), 0.0, g),)


relu6_op = defop("relu6", forward=lambda d: np.clip(d, 0, 6).astype(d.dtype, copy=False),
                 backward=_relu6_backward, saves=(0,),
                 inplace=lambda d: np.clip(d, 0, 6, out=d))


def relu6(input, inplace: bool = False):
    """min(max(x, 0), 6); the gradient is 0 at 0 and 6 (torch's hardtanh rule)."""
    check_float(input, "relu6")
    return relu6_op.apply_inplace(input, ()) if inplace else relu6_op.unary(input)
