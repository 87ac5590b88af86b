"""``pad``: constant (any rank, negative pads crop), reflect, replicate and circular padding.

Two ops, each the other's adjoint, so both derivatives of any order are registered ops:
``pad`` maps x to the padded tensor; ``pad_backward`` maps a gradient of the padded tensor back
to x's shape (constant: the interior region; the other modes: every output position adds into
the input position it was read from). Both are linear in their input.

A spec is a tuple of ``(dim, left, right)`` for the padded dims (torch's ``pad`` lists the last
dim first). Each non-constant mode reads, for output position o of a dim of size n, the input
position i = o - left mapped into [0, n): reflect mirrors without repeating the edge,
replicate clamps, circular wraps (around the part left after negative pads crop, as torch).
"""
from __future__ import annotations

import numpy as np

from fastdl.autograd.op import defop
from fastdl.functional._core import xp_of
from fastdl.nn.functional._checks import check_tensor

MODES = ("constant", "reflect", "replicate", "circular")


def _source_index(n, left, right, mode):
    """For each output position along a dim of size n, the input position it reads."""
    i = np.arange(-left, n + right, dtype=np.int64)
    if mode == "reflect":
        i = np.abs(i)
        i = np.where(i >= n, 2 * (n - 1) - i, i)
    elif mode == "replicate":
        i = np.clip(i, 0, n - 1)
    else:  # circular: torch crops first (negative pads), then wraps around what is left
        c0, c1 = max(-left, 0), n - max(-right, 0)
        i = c0 + np.mod(np.arange(-max(left, 0), c1 - c0 + max(right, 0), dtype=np.int64),
                        c1 - c0)
    return i


def _regions(shape, spec):
    """(source slices in the unpadded tensor, destination slices in the padded one) of the
    constant mode's copied interior; None when nothing is copied."""
    src = [slice(None)] * len(shape)
    dst = [slice(None)] * len(shape)
    for dim, left, right in spec:
        n = shape[dim]
        s0, s1 = max(-left, 0), n - max(-right, 0)
        if s1 <= s0:
            return None
        src[dim] = slice(s0, s1)
        d0 = max(left, 0)
        dst[dim] = slice(d0, d0 + s1 - s0)
    return tuple(src), tuple(dst)


def _padded_shape(shape, spec):
    out = list(shape)
    for dim, left, right in spec:
        out[dim] = shape[dim] + left + right
    return tuple(out)


def _pad_forward(x, spec, mode, value):
    xp = xp_of(x)
    if mode == "constant":
        out = xp.full(_padded_shape(x.shape, spec), value, dtype=x.dtype)
        regions = _regions(x.shape, spec)
        if regions is not None:
            out[regions[1]] = x[regions[0]]
        return out
    for dim, left, right in spec:
        idx = _source_index(x.shape[dim], left, right, mode)
        x = xp.take(x, xp.asarray(idx), axis=dim)
    return xp.ascontiguousarray(x)


def _pad_backward_forward(g, in_shape, spec, mode, value):
    xp = xp_of(g)
    if mode == "constant":
        out = xp.zeros(in_shape, dtype=g.dtype)
        regions = _regions(in_shape, spec)
        if regions is not None:
            out[regions[0]] = g[regions[1]]
        return out
    # the forward padded the dims in spec's order; undo them in reverse
    shape = list(_padded_shape(in_shape, spec))
    for dim, left, right in reversed(spec):
        n = in_shape[dim]
        idx = _source_index(n, left, right, mode)
        shape[dim] = n
        acc = xp.zeros(tuple(shape), dtype=g.dtype)
        # positions whose source is the plain shift i = o - left form one slice: copy it, then
        # add the few border positions that were mirrored, clamped or wrapped
        o = np.arange(idx.size)
        shifted = idx == o - left
        moved_acc = xp.moveaxis(acc, dim, 0)
        moved_g = xp.moveaxis(g, dim, 0)
        if shifted.any():
            lo, hi = int(o[shifted][0]), int(o[shifted][-1]) + 1
            moved_acc[lo - left:hi - left] += moved_g[lo:hi]
            border = np.concatenate([o[:lo], o[hi:]])
        else:
            border = o
        if border.size:
            xp_add_at = xp.add.at
            xp_add_at(moved_acc, xp.asarray(idx[border]), moved_g[xp.asarray(border)])
        g = acc
    return g


def _pad_backward(ctx, g):
    spec, mode, value = ctx.args
    return (pad_backward_op.apply((g,), tuple(ctx.inputs[0]._data.shape), spec, mode, value),)


def _pad_backward_backward(ctx, v):
    _, spec, mode, _ = ctx.args
    return (pad_op.apply((v,), spec, mode, 0),)


pad_op = defop("pad", forward=_pad_forward, backward=_pad_backward)
pad_backward_op = defop("pad_backward", forward=_pad_backward_forward,
                        backward=_pad_backward_backward)


def _check_pad_list(pad, fn):
    if isinstance(pad, (int, np.integer)):
        raise TypeError(f"{fn}(): pad must be a tuple or list of ints, got an int ({pad})")
    try:
        pads = [int(p) for p in pad]
    except (TypeError, ValueError):
        raise TypeError(f"{fn}(): pad must be a tuple or list of ints, got {pad!r}") from None
    for p, q in zip(pads, pad):
        if p != q:
            raise TypeError(f"{fn}(): pad must contain ints, got {pad!r}")
    return pads


def pad(input, pad, mode: str = "constant", value=None):
    """torch.nn.functional.pad: ``pad`` lists (left, right) pairs starting from the last dim;
    negative values crop. Non-constant modes pad the last 1, 2 or 3 dims of a tensor with one
    or two more leading dims (batch and channel, or channel only)."""
    check_tensor(input, "pad")
    pads = _check_pad_list(pad, "pad")
    x = input._data
    nd = x.ndim
    if len(pads) % 2:
        raise RuntimeError(f"pad(): padding length must be divisible by 2, got {len(pads)} "
                           f"({pads})")
    k = len(pads) // 2
    if k > nd:
        raise RuntimeError(f"pad(): padding length should be less than or equal to two times "
                           f"the input dimension but got padding length {len(pads)} and input "
                           f"of dimension {nd} (shape {tuple(x.shape)})")
    if mode not in MODES:
        raise NotImplementedError(f"pad(): unrecognised padding mode {mode!r}; expected one of "
                                  f"{MODES}")
    spec = tuple((nd - 1 - i, pads[2 * i], pads[2 * i + 1]) for i in range(k))
    if mode == "constant":
        for dim, left, right in spec:
            # torch crops (narrow) before it pads, so the crops alone must fit in the dim
            if x.shape[dim] + min(left, 0) + min(right, 0) < 0:
                raise RuntimeError(
                    f"pad(): the input size {x.shape[dim]}, plus negative padding {left} and "
                    f"{right} resulted in a negative output size, which is invalid. Check "
                    f"dimension {dim} of your input (shape {tuple(x.shape)})")
        fill = 0 if value is None else value
        if x.dtype.kind in "iub" and isinstance(fill, float) and not float(fill).is_integer():
            raise TypeError(f"pad(): value {fill} cannot be used with an integer tensor")
        return pad_op.apply((input,), spec, mode, x.dtype.type(fill))
    if value is not None and value != 0:
        raise RuntimeError(f"pad(): padding mode {mode!r} doesn't take in value argument")
    if k not in (1, 2, 3) or nd not in (k + 1, k + 2):
        raise NotImplementedError(
            f"pad(): mode {mode!r} pads the last 1, 2 or 3 dims of a 2D-3D, 3D-4D or 4D-5D "
            f"input; got padding of length {len(pads)} for an input of shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"pad(): mode {mode!r} needs a floating point input, got {x.dtype}")
    batch_dims = nd - k
    for dim in range(batch_dims):
        if x.shape[dim] == 0 and dim != 0 or (dim == 0 and batch_dims == 1 and not x.shape[0]):
            raise RuntimeError(f"pad(): mode {mode!r} expects non-empty non-batch dims, got "
                               f"an input of shape {tuple(x.shape)}")
    for dim, left, right in spec:
        n = x.shape[dim]
        if n == 0:
            raise RuntimeError(f"pad(): mode {mode!r} cannot pad the empty dim {dim} of an "
                               f"input of shape {tuple(x.shape)}")
        if mode == "reflect" and (left >= n or right >= n):
            raise RuntimeError(f"pad(): padding size should be less than the corresponding "
                               f"input dimension, but got padding ({left}, {right}) at dimension "
                               f"{dim} of input of shape {tuple(x.shape)}")
        if mode == "circular" and (left > n or right > n):
            raise RuntimeError(f"pad(): padding value causes wrapping around more than once "
                               f"(padding ({left}, {right}) at dimension {dim} of input of shape "
                               f"{tuple(x.shape)})")
        if n + left + right < 0:
            raise RuntimeError(f"pad(): input of shape {tuple(x.shape)} padded by ({left}, "
                               f"{right}) at dimension {dim} gives a negative output size "
                               f"{n + left + right}")
    # torch's reflect/replicate kernels accept an empty output dim as long as another padded dim
    # keeps some size (circular accepts any empty output)
    if mode != "circular" and all(x.shape[d] + lt + rt < 1 for d, lt, rt in spec):
        raise RuntimeError(f"pad(): input of shape {tuple(x.shape)} is too small for padding "
                           f"{pads}: every padded output size is 0")
    return pad_op.apply((input,), spec, mode, None)
