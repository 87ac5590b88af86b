"""``scaled_dot_product_attention`` with PyTorch's semantics on fastdl's flash-style kernels.

One op (``scaled_dot_product_attention``): the forward runs ``_C.attention_forward`` (tiled, online
softmax, memory O(L * D)) and leaves the per-row log-sum-exp -- and on the CPU each row's
(maximum, log of the sum) apart -- in ``Saved``; its backward is the registered op
``scaled_dot_product_attention_backward`` (``_C.attention_backward``, which recomputes the
probabilities from them). That op's own backward (second derivatives)
is composed from registered ops: the attention written out (``matmul``, ``softmax`` ...) is
differentiated twice by the autograd engine, so higher derivatives need no third kernel.

Shapes: query (..., Hq, L, E), key (..., Hk, S, E), value (..., Hk, S, Ev) -> (..., Hq, L, Ev).
Without ``enable_gqa`` all dimensions before the last two broadcast (torch's matmul rule); with
it, query head h reads key/value head h // (Hq // Hk). ``attn_mask``: bool (True = take part) or
additive float of the query's dtype, broadcastable to (..., Hq, L, S); a float mask that requires
grad gets its gradient. ``is_causal``: key j takes part in row i when j <= i (top-left aligned).
Rows where no key takes part give 0 (and gradient 0). ``dropout_p > 0`` drops attention
probabilities with a mask drawn from fastdl's generator (``fastdl.manual_seed``), computed on
the composed path (the O(L * S) probabilities exist then, as in PyTorch's math backend).
"""
from __future__ import annotations

import math

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl import _C, backend
from fastdl.autograd.grad_mode import enable_grad, grad_wanted
from fastdl.autograd.op import Saved, defop
from fastdl.backend.pool import result_array
from fastdl.nn import attention as _sdp_flags
from fastdl.nn.attention.bias import CausalBias
from fastdl.tensor import Tensor, _wrap


class _AttnSpec:
    """Static description of one call: the kernel layout and the flags."""

    __slots__ = ("causal", "scale", "bool_mask", "has_mask", "gqa", "q_full", "k_full",
                 "v_full", "out_batch", "n", "hq", "hk", "mask_shape", "grad_wanted")

    def __repr__(self):
        return f"<sdpa causal={self.causal} scale={self.scale:.4g} gqa={self.gqa}>"


def _broadcast(*shapes, what):
    if all(s == shapes[0] for s in shapes[1:]):  # the usual case, without numpy's ~3 us
        return tuple(shapes[0])
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise RuntimeError(f"scaled_dot_product_attention: {what} {shapes} do not "
                           "broadcast") from None


def _layout(q_shape, k_shape, v_shape, gqa):
    """Fill the kernel layout: (N, Hq, L, E) / (N, Hk, S, E) views of broadcast inputs."""
    spec = _AttnSpec()
    spec.grad_wanted = True  # until the caller knows better: the forward keeps row statistics
    L, E = q_shape[-2:]
    S, Ev = v_shape[-2:]
    if gqa and min(len(q_shape), len(k_shape), len(v_shape)) < 3:
        raise IndexError(f"scaled_dot_product_attention: enable_gqa needs a heads dimension "
                         f"(-3) in query, key and value, got shapes {tuple(q_shape)}, "
                         f"{tuple(k_shape)}, {tuple(v_shape)}")
    if gqa:
        hq, hk = q_shape[-3], k_shape[-3]
        if v_shape[-3] != hk:
            raise RuntimeError(f"scaled_dot_product_attention: key and value must have the same "
                               f"number of heads, got key {k_shape} and value {v_shape}")
        if (hk == 0 and hq != 0) or (hk and hq % hk):
            raise RuntimeError(f"scaled_dot_product_attention: with enable_gqa the number of "
                               f"query heads ({hq}) must be a multiple of the key/value heads "
                               f"({hk}); query {q_shape}, key {k_shape}")
        batch = _broadcast(q_shape[:-3], k_shape[:-3], v_shape[:-3], what="batch dimensions")
        spec.q_full = batch + (hq, L, E)
        spec.k_full = batch + (hk, S, E)
        spec.v_full = batch + (hk, S, Ev)
        spec.out_batch = batch + (hq,)
    else:
        batch = _broadcast(q_shape[:-2], k_shape[:-2], v_shape[:-2], what="batch dimensions")
        spec.q_full, spec.k_full, spec.v_full = batch + (L, E), batch + (S, E), batch + (S, Ev)
        spec.out_batch = batch  # every head its own batch item
        # the last batch dimension (the heads, as users call it) as the kernels' heads, one key
        # head per query head: (B, H, L, E) views of a (B, L, H, E) projection then reach the
        # kernels as they are
        if batch and batch[-1] > 0:
            hq = hk = batch[-1]
            batch = batch[:-1]
        else:  # no batch dimension, or an empty last one
            hq = hk = 1
    spec.n = math.prod(batch)  # math.prod: np.prod costs ~5 us a call
    spec.hq, spec.hk = hq, hk
    spec.gqa = gqa
    return spec


def _rows_contiguous(a):
    return (a.shape[-1] <= 1 or a.strides[-1] == a.itemsize) and min(a.strides) >= 0


def _kernel_view(a, full, n, h, xp=np, strided=False):
    """``a`` broadcast to ``full`` as an (n, h, rows, cols) array the kernels read: with
    ``strided`` (the CPU ones) any view with contiguous rows as it is (up to 4-D), else C order
    (the CUDA ones)."""
    if a.shape != full:
        a = xp.broadcast_to(a, full)
    shape = (n, h) + tuple(full[-2:])
    if strided and a.ndim <= 4:
        view = a.reshape(shape)  # up to 4-D: the same dims, or leading 1s added (a view)
        if _rows_contiguous(view):
            return view
    return xp.ascontiguousarray(a).reshape(shape)


def _c_ordered_result(a, xp=np):
    """Whether a result like the kernel view ``a`` is laid out in C order: on the device, or
    when a is C-contiguous or broadcast."""
    return xp is not np or a.flags.c_contiguous or 0 in a.strides or a.ndim != 4


def _result_like(a, xp=np):
    """An uninitialised result shaped like the kernel view ``a`` and laid out in memory in the
    order of a's strides (C order when _c_ordered_result), so that a gradient of heads split
    from a (B, L, H, E) projection is itself such a view and the transposes around attention
    cost no copy."""
    if _c_ordered_result(a, xp):
        return result_array(a.shape, a.dtype, xp, min_pooled_bytes=0)
    order = sorted(range(a.ndim), key=lambda d: -a.strides[d])
    memory = result_array(tuple(a.shape[d] for d in order), a.dtype, xp, min_pooled_bytes=0)
    return memory.transpose(np.argsort(order))


def _gradient_arrays(a4, full, shape, xp=np):
    """(where the kernel writes the gradient of an input of ``shape`` whose kernel view is a4
    and which broadcasts to ``full``, the gradient handed back -- None: sum the first to
    ``shape`` once written). An unbroadcast input laid out in C order gets its gradient
    allocated in its own shape, the kernel writing through a view: an array that owns its data
    is stored as .grad as is, where a reshaped view would be copied by the engine (3 x 8 MiB of
    fresh pages per call at B = 8, L = 512). Otherwise in a4's layout (_result_like)."""
    if tuple(full) == tuple(shape) and _c_ordered_result(a4, xp):
        g = result_array(shape, a4.dtype, xp, min_pooled_bytes=0)
        return g.reshape(a4.shape), g
    return _result_like(a4, xp), None


def _mask_view(m, spec, L, S, xp=np):
    full = spec.out_batch + (L, S)
    m = xp.broadcast_to(xp.asarray(m), full)  # strides 0 where broadcast: nothing is copied
    return m.reshape((spec.n, spec.hq, L, S))  # copies only if the batch dims cannot merge


def _forward(q, k, v, *rest, kernels=_C):
    *mask, spec, saved = rest
    L, S = q.shape[-2], k.shape[-2]
    xp = np if kernels is _C else backend.array_module(q)
    strided = kernels is _C
    q4 = _kernel_view(q, spec.q_full, spec.n, spec.hq, xp, strided)
    k4 = _kernel_view(k, spec.k_full, spec.n, spec.hk, xp, strided)
    v4 = _kernel_view(v, spec.v_full, spec.n, spec.hk, xp, strided)
    m4 = None
    if spec.bool_mask is not None:
        m4 = _mask_view(spec.bool_mask, spec, L, S, xp)
    elif mask:
        m4 = _mask_view(mask[0], spec, L, S, xp)
    # results from the pool at every size: fresh 32 MiB arrays cost page faults, and on a VM
    # sometimes 100 ms more (backend/pool.py); aligned, so that the CPU kernels write it by
    # streaming stores (no reads of the lines they overwrite)
    result = result_array(spec.out_batch + (L, v4.shape[-1]), q.dtype, xp, min_pooled_bytes=0,
                          aligned=True)
    out = result.reshape(q4.shape[:-1] + (v4.shape[-1],))
    lse = xp.empty(q4.shape[:-1], dtype=q.dtype)
    # the kernels also leave each row's (max, log sum) apart: exact probabilities in the
    # backward where lse alone would lose the sum next to a large max
    # (csrc/cpu/attention/attention.h)
    # (only wanted by a backward: without them a decoding step takes the kernels' short path)
    stats = xp.empty(q4.shape[:-1] + (2,), dtype=q.dtype) if spec.grad_wanted or not strided \
        else None
    kind = 0
    if spec.hk:  # no key/value heads (and so no query heads): nothing to compute
        kind = kernels.attention_forward(q4, k4, v4, out, lse, m4, spec.causal, spec.scale, stats)
    saved.values = (q4, k4, v4, m4, out, lse, stats, kind)
    return result


def _sum_to_shape(a, shape):
    """``a`` summed over the dimensions that broadcasting added or stretched to give ``shape``."""
    if a.shape == tuple(shape):
        return a
    lead = a.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                      if n == 1 and a.shape[i + lead] != 1)
    return a.sum(axis=axes, keepdims=True).reshape(shape)


def _backward_forward(g, q, k, v, *rest, kernels=_C):
    *mask, spec, saved = rest
    q4, k4, v4, m4, out, lse, stats, kind = saved.values
    xp = np if kernels is _C else backend.array_module(g)
    if any(st == 0 and n > 1 for st, n in zip(g.strides, g.shape)):
        g = xp.ascontiguousarray(g)  # a broadcast gradient (of a mean, an expand): its copy
    g4 = _kernel_view(g, g.shape, spec.n, spec.hq, xp, strided=kernels is _C)
    (gq4, gq), (gk4, gk), (gv4, gv) = (
        _gradient_arrays(a4, full, x.shape, xp)
        for a4, full, x in ((q4, spec.q_full, q), (k4, spec.k_full, k), (v4, spec.v_full, v)))
    gm = None
    if mask:
        gm = xp.empty(out.shape[:-1] + (k4.shape[-2],), dtype=q4.dtype)
    if spec.hk:
        kernels.attention_backward(q4, k4, v4, out, lse, g4, gq4, gk4, gv4, m4, spec.causal,
                                   spec.scale, gm, *((stats, kind) if kind else ()))
    gq, gk, gv = (g if g is not None else _sum_to_shape(g4.reshape(full), shape)
                  for g, g4, full, shape in ((gq, gq4, spec.q_full, q.shape),
                                             (gk, gk4, spec.k_full, k.shape),
                                             (gv, gv4, spec.v_full, v.shape)))
    if mask:
        L, S = q.shape[-2], k.shape[-2]
        gm = _sum_to_shape(gm.reshape(spec.out_batch + (L, S)), mask[0].shape)
    else:
        gm = xp.zeros((0,), dtype=q.dtype)  # no float mask: an empty fourth output
    return gq, gk, gv, gm


def _forward_cuda(*args):
    return _forward(*args, kernels=backend.cuda_kernels())


def _backward_forward_cuda(*args):
    return _backward_forward(*args, kernels=backend.cuda_kernels())


def _attention_backward(ctx, g):
    q, k, v, *mask = ctx.inputs
    spec, saved = ctx.args
    grads = sdpa_backward_op.apply((g, q, k, v, *mask), spec, saved)
    return tuple(grads[:3]) + ((grads[3],) if mask else ())


def _attention_backward_backward(ctx, cotangents):
    """Second derivatives: the attention composed from registered ops, differentiated twice."""
    from fastdl.autograd import grad as autograd_grad
    g, q, k, v, *mask = ctx.inputs
    spec = ctx.args[0]
    with enable_grad():
        # each input as a fresh node (a clone, or a leaf when it needs no grad): grad() w.r.t.
        # the clone counts only the paths through the composed attention, not those through
        # another input's own graph (g = 2 o depends on q: the engine carries that part back
        # itself -- counted here too it was twice), while the seconds stay connected to the
        # inputs for higher derivatives
        xs = [x.clone() if x._requires_grad else x.detach().requires_grad_()
              for x in ctx.inputs]
        out = _composed_attention(xs[1], xs[2], xs[3], xs[4] if mask else None, spec)
        firsts = autograd_grad([out], xs[1:], [xs[0]], create_graph=True, allow_unused=True)
        pairs = [(f, c) for f, c in zip(firsts, cotangents) if f is not None and c is not None]
        if not pairs:
            return (None,) * len(xs)
        seconds = autograd_grad([f for f, _ in pairs], xs, [c for _, c in pairs],
                                create_graph=True, allow_unused=True)
    return tuple(seconds)


sdpa_op = defop("scaled_dot_product_attention", cpu=_forward,
                cuda=_forward_cuda, backward=_attention_backward, saves=(0, 1, 2, 3),
                float_only=True)
sdpa_backward_op = defop("scaled_dot_product_attention_backward", cpu=_backward_forward,
                         cuda=_backward_forward_cuda, backward=_attention_backward_backward,
                         saves=(0, 1, 2, 3, 4), float_only=True, n_outputs=4)


def _keep_mask(spec, L, S):
    """The bool mask (True = take part) from attn_mask and is_causal, or None."""
    keep = spec.bool_mask
    if spec.causal:
        tril = np.tril(np.ones((L, S), dtype=bool))
        keep = tril if keep is None else keep & tril
    return keep


def _composed_attention(q, k, v, mask, spec, dropout_mask=None):
    """The attention from registered ops (torch's math path): for second derivatives and
    dropout. Rows where no key takes part give 0."""
    from fastdl.functional.activations import softmax
    from fastdl.functional.indexing import masked_fill
    L, S = q._data.shape[-2], k._data.shape[-2]
    if spec.gqa and spec.hq != spec.hk:
        group = spec.hq // spec.hk
        k = _repeat_heads(k, group)
        v = _repeat_heads(v, group)
    scores = (q @ k.transpose(-2, -1)) * spec.scale
    if mask is not None:
        scores = scores + mask
    xp = backend.array_module(scores._data)
    keep = _keep_mask(spec, L, S)
    dead = None
    if keep is not None:
        keep = xp.asarray(np.broadcast_to(keep, np.broadcast_shapes(keep.shape,
                                                                    scores._data.shape)))
        scores = masked_fill(scores, ~keep, -math.inf)
    if keep is not None or mask is not None:
        # rows with no key (a bool mask, causal, or a float mask of -inf): a finite row for
        # softmax, then zeroed
        dead = xp.isneginf(scores._data).all(axis=-1, keepdims=True)
        if dead.any():
            scores = masked_fill(scores, xp.broadcast_to(dead, scores._data.shape), 0.0)
    p = softmax(scores, -1)
    if dead is not None and dead.any():
        p = masked_fill(p, xp.broadcast_to(dead, p._data.shape), 0.0)
    if dropout_mask is not None:
        p = p * dropout_mask
    return p @ v


def _repeat_heads(x, group):
    """(..., H, S, D) -> (..., H * group, S, D), each head repeated ``group`` times in a row."""
    shape = x._data.shape
    x = x.unsqueeze(-3).expand(*shape[:-2], group, *shape[-2:])
    return x.reshape(*shape[:-3], shape[-3] * group, *shape[-2:])


def _flash_cpu_eligible(query, key, value, attn_mask, dropout_p):
    """Whether torch 2.13's CPU backend choice takes its flash kernel, which applies both
    is_causal and an explicit attn_mask (its math fallback refuses the pair): 4-D inputs with
    one batch size, query heads a multiple of key/value heads, equal head sizes, unit stride
    in the last dim, no dropout and a mask that does not require grad."""
    arrays = (query._data, key._data, value._data)
    if any(a.ndim != 4 for a in arrays) or dropout_p > 0.0 or attn_mask.requires_grad:
        return False
    (n, hq, _, e), (nk, hk, _, ek), (nv, hv, _, ev) = (a.shape for a in arrays)
    if not (n == nk == nv and hk == hv and hk and hq % hk == 0 and e == ek == ev):
        return False
    return all(a.shape[-1] <= 1 or a.strides[-1] == a.itemsize for a in arrays)


def _check(query, key, value, attn_mask, dropout_p, is_causal):
    fn = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}(): {name} must be a fastdl.Tensor, got {type(t).__name__}")
        if t._data.dtype.kind != "f":
            raise TypeError(f"{fn}(): {name} must be a floating point tensor, got dtype "
                            f"{t._data.dtype} with shape {tuple(t._data.shape)}")
        if t._data.ndim < 2:
            raise RuntimeError(f"{fn}(): {name} must have at least 2 dimensions, got shape "
                               f"{tuple(t._data.shape)}")
    qs, ks, vs = query._data.shape, key._data.shape, value._data.shape
    if not (query._data.dtype == key._data.dtype == value._data.dtype):
        raise TypeError(f"{fn}(): expected query, key and value to have the same dtype, got "
                        f"{query._data.dtype}, {key._data.dtype} and {value._data.dtype}")
    if qs[-1] != ks[-1]:
        raise RuntimeError(f"{fn}(): query and key must have the same embedding size, got "
                           f"query {tuple(qs)} and key {tuple(ks)}")
    if ks[-2] != vs[-2]:
        raise RuntimeError(f"{fn}(): key and value must have the same sequence length, got "
                           f"key {tuple(ks)} and value {tuple(vs)}")
    if attn_mask is not None:
        if not isinstance(attn_mask, Tensor):
            raise TypeError(f"{fn}(): attn_mask must be a fastdl.Tensor or None, got "
                            f"{type(attn_mask).__name__}")
        if (attn_mask._data.ndim < 2 and len(qs) == len(ks) == len(vs) == 4
                and not attn_mask.requires_grad):
            # torch's CPU backend choice reads the mask's dim -2 for 4-D inputs (a mask that
            # requires grad skips that check and broadcasts)
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[-1, 0], but got -2): attn_mask of shape "
                             f"{tuple(attn_mask._data.shape)} for 4-D query, key and value")
        if is_causal and not _flash_cpu_eligible(query, key, value, attn_mask, dropout_p):
            raise RuntimeError(f"{fn}(): an explicit attn_mask should not be set when "
                               "is_causal=True")
        md = attn_mask._data.dtype
        if md != np.bool_ and md != query._data.dtype:
            raise TypeError(f"{fn}(): attn_mask must be bool or have the query's dtype "
                            f"({query._data.dtype}), got {md}")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{fn}(): dropout_p must be in [0, 1], got {dropout_p}")


def _mask_in_query_dtype(query, attn_mask):
    """A floating mask of another dtype than a floating query, cast to it (as torch adds it to
    the scores): differentiable, its gradient comes back in the mask's own dtype."""
    if (isinstance(attn_mask, Tensor) and isinstance(query, Tensor)
            and attn_mask._data.dtype.kind == "f" and query._data.dtype.kind == "f"
            and attn_mask._data.dtype != query._data.dtype):
        return attn_mask.to(query._data.dtype)
    return attn_mask


def _make_spec(query, key, value, attn_mask, is_causal, scale, enable_gqa):
    qs, ks, vs = query._data.shape, key._data.shape, value._data.shape
    spec = _layout(qs, ks, vs, enable_gqa)
    L, S = qs[-2], ks[-2]
    if attn_mask is not None:
        _broadcast(attn_mask._data.shape, spec.out_batch + (L, S), what="attn_mask and scores")
    spec.causal = bool(is_causal)
    if not qs[-1]:
        # E = 0: every score is an empty dot product, 0 whatever the scale (torch: the mean of
        # the values); 0 * its default 1 / sqrt(0) = inf would be NaN in the kernels
        spec.scale = 1.0
    elif scale is None:  # torch's 1 / sqrt(E)
        spec.scale = 1.0 / math.sqrt(qs[-1])
    else:
        spec.scale = float(scale)
    is_bool = attn_mask is not None and attn_mask._data.dtype == np.bool_
    spec.bool_mask = attn_mask._data if is_bool else None
    spec.has_mask = attn_mask is not None and not is_bool
    return spec


@autocast_op("scaled_dot_product_attention")
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale=None, enable_gqa: bool = False):
    """softmax(query @ key^T * scale + mask) @ value, as ``torch.nn.functional``'s (see the
    module docstring for shapes, masks, causal alignment and dropout)."""
    if isinstance(attn_mask, CausalBias):  # torch reaches it through __torch_function__
        return CausalBias._dispatch(query, key, value, attn_mask, dropout_p, is_causal, scale,
                                    enable_gqa)
    if _sdp_flags.restricted:  # sdpa_kernel left some backends out
        _sdp_flags.check_runnable(isinstance(query, Tensor) and type(query._data) is np.ndarray)
    attn_mask = _mask_in_query_dtype(query, attn_mask)
    _check(query, key, value, attn_mask, dropout_p, is_causal)
    spec = _make_spec(query, key, value, attn_mask, is_causal, scale, enable_gqa)
    if dropout_p > 0.0:
        return _attention_with_dropout(query, key, value, attn_mask, dropout_p, spec)
    inputs = (query, key, value) + ((attn_mask,) if spec.has_mask else ())
    spec.grad_wanted = grad_wanted(*inputs)
    return sdpa_op.apply(inputs, spec, Saved())


def dropout_keep_mask(shape, p, dtype, device="cpu"):
    """The scaled keep mask dropout multiplies by: 1 / (1 - p) with probability 1 - p, else 0."""
    from fastdl import random as fastdl_random
    keep = fastdl_random.uniform_array(shape, 0.0, 1.0, dtype, device) >= p
    scale = 0.0 if p >= 1.0 else 1.0 / (1.0 - p)
    return keep.astype(dtype) * dtype.type(scale)


def _attention_with_dropout(query, key, value, attn_mask, p, spec, keep_mask=None):
    L, S = query._data.shape[-2], key._data.shape[-2]
    if keep_mask is None:
        keep_mask = _wrap(dropout_keep_mask(spec.out_batch + (L, S), p, query._data.dtype,
                                            query.device))
    mask = attn_mask if spec.has_mask else None
    return _composed_attention(query, key, value, mask, spec, keep_mask)


def _scaled_dot_product_attention_with_dropout_mask(query, key, value, keep_mask,
                                                    attn_mask=None, is_causal=False, scale=None,
                                                    enable_gqa=False):
    """The dropout path with a given scaled keep mask (tests: deterministic dropout)."""
    _check(query, key, value, attn_mask, 0.0, is_causal)
    spec = _make_spec(query, key, value, attn_mask, is_causal, scale, enable_gqa)
    return _attention_with_dropout(query, key, value, attn_mask, 1.0, spec, keep_mask)
