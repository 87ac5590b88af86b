"""Random case generators for tests/test_fuzz_cnn_layers.py. Each takes a numpy Generator and
returns (description, build, input shapes, run options); ``build(lib)`` makes the same layer or
call in torch and in fastdl. Arguments are drawn over their whole legal range and a little past
it, so some cases check that both libraries refuse them."""
from __future__ import annotations

import numpy as np


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _tup(rng, nd, lo, hi):
    """An int or an nd-tuple of ints in [lo, hi]."""
    if rng.random() < 0.5:
        return int(rng.integers(lo, hi + 1))
    return tuple(int(v) for v in rng.integers(lo, hi + 1, nd))


def _spatial(rng, nd, lo=1, hi=7):
    return tuple(int(v) for v in rng.integers(lo, hi + 1, nd))


def _batch(rng, c, spatial, unbatched_ok=True):
    if unbatched_ok and rng.random() < 0.25:
        return (c,) + spatial
    return (int(rng.integers(1, 3)), c) + spatial


def conv(rng):
    nd = int(rng.integers(1, 4))
    groups = _pick(rng, [1, 1, 2, 3])
    cin, cout = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    k, dil = _tup(rng, nd, 1, 3), _tup(rng, nd, 1, 2)
    stride = _pick(rng, [1, 1, _tup(rng, nd, 1, 3)])
    padding = _pick(rng, ["same", "valid", _tup(rng, nd, 0, 2), 0])
    mode = _pick(rng, ["zeros", "zeros", "reflect", "replicate", "circular"])
    bias = bool(rng.random() < 0.7)
    shape = _batch(rng, cin, _spatial(rng, nd, 2, 7))
    name = f"Conv{nd}d"
    args = dict(stride=stride, padding=padding, dilation=dil, groups=groups, bias=bias,
                padding_mode=mode)

    def build(lib):
        return getattr(lib.nn, name)(cin, cout, k, **args)
    return f"{name}({cin},{cout},{k},{args}) x{shape}", build, [shape], {}


def _convt_out(n, k, s, p, d, op):
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def conv_transpose(rng):
    nd = int(rng.integers(1, 4))
    groups = _pick(rng, [1, 1, 2])
    cin, cout = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    k = tuple(int(v) for v in rng.integers(1, 4, nd))
    s = tuple(int(v) for v in rng.integers(1, 4, nd))
    d = tuple(int(v) for v in rng.integers(1, 3, nd))
    p = tuple(int(v) for v in rng.integers(0, 3, nd))
    op = tuple(int(rng.integers(0, max(a, b))) for a, b in zip(s, d))
    if rng.random() < 0.1:  # output_padding past max(stride, dilation): an error in both
        op = tuple(max(a, b) for a, b in zip(s, d))
    bias = bool(rng.random() < 0.7)
    spatial = _spatial(rng, nd, 1, 5)
    # an empty output is an error in some of torch's paths and not in others: keep it >= 1
    p = tuple(min(pp, max((_convt_out(n, kk, ss, 0, dd, oo) - 1) // 2, 0))
              for n, kk, ss, pp, dd, oo in zip(spatial, k, s, p, d, op))
    shape = _batch(rng, cin, spatial)
    name = f"ConvTranspose{nd}d"
    output_size = None
    use_out = rng.random() < 0.35
    if use_out:
        base = [_convt_out(n, *a, 0) for n, a in zip(spatial, zip(k, s, p, d))]
        output_size = [max(b + int(rng.integers(0, ss + (rng.random() < 0.1))), 1)
                       for b, ss in zip(base, s)]  # (an empty output: see the padding above)
        if rng.random() < 0.3:
            output_size = shape[:len(shape) - nd] + tuple(output_size)
        op = 0
    one = lambda t: t[0] if rng.random() < 0.5 and len(set(t)) == 1 else t  # noqa: E731
    args = dict(stride=one(s), padding=one(p), output_padding=op if op == 0 else one(op),
                groups=groups, bias=bias, dilation=one(d))

    def build(lib):
        m = getattr(lib.nn, name)(cin, cout, one(k), **args)
        if output_size is None:
            return m
        return m, lambda x: m(x, output_size=list(output_size))
    return f"{name}({cin},{cout},{k},{args}) out={output_size} x{shape}", build, [shape], {}


def _window(rng, past_limit=0.1):
    """(nd, kernel, stride, padding) of a pooling window; padding past torch's kernel // 2
    limit with probability ``past_limit``."""
    nd = int(rng.integers(1, 4))
    k = _tup(rng, nd, 1, 3)
    stride = _pick(rng, [None, _tup(rng, nd, 1, 3)])
    kmin = min(np.broadcast_to(k, nd))
    return nd, k, stride, _tup(rng, nd, 0, kmin // 2 + (rng.random() < past_limit))


def max_pool(rng):
    nd, k, stride, padding = _window(rng)
    dil, ceil, ri = _tup(rng, nd, 1, 2), bool(rng.random() < 0.5), bool(rng.random() < 0.4)
    shape = _batch(rng, int(rng.integers(1, 4)), _spatial(rng, nd, 1, 8))
    name = f"MaxPool{nd}d"
    args = dict(stride=stride, padding=padding, dilation=dil, ceil_mode=ceil, return_indices=ri)

    def build(lib):
        return getattr(lib.nn, name)(k, **args)
    return f"{name}({k},{args}) x{shape}", build, [shape], {"distinct": True}


def avg_pool(rng):
    nd, k, stride, padding = _window(rng)
    args = dict(stride=stride, padding=padding, ceil_mode=bool(rng.random() < 0.5),
                count_include_pad=bool(rng.random() < 0.5))
    if nd > 1 and rng.random() < 0.4:
        args["divisor_override"] = int(rng.integers(1, 5))
    shape = _batch(rng, int(rng.integers(1, 4)), _spatial(rng, nd, 1, 8))
    name = f"AvgPool{nd}d"

    def build(lib):
        return getattr(lib.nn, name)(k, **args)
    return f"{name}({k},{args}) x{shape}", build, [shape], {}


def adaptive_pool(rng):
    nd = int(rng.integers(1, 4))
    kind = _pick(rng, ["Avg", "Max"])
    spatial = _spatial(rng, nd, 1, 9)
    if nd == 1 or rng.random() < 0.3:
        out = int(rng.integers(1, 11))
    else:
        out = tuple(_pick(rng, [None, int(rng.integers(1, 11))]) for _ in range(nd))
    ri = kind == "Max" and bool(rng.random() < 0.5)
    shape = _batch(rng, int(rng.integers(1, 4)), spatial)
    name = f"Adaptive{kind}Pool{nd}d"

    def build(lib):
        return getattr(lib.nn, name)(out, return_indices=ri) if kind == "Max" else \
            getattr(lib.nn, name)(out)
    return f"{name}({out}, ri={ri}) x{shape}", build, [shape], {"distinct": True}


def lp_pool(rng):
    nd = int(rng.integers(1, 4))
    k = _tup(rng, nd, 1, 3) if nd > 1 else int(rng.integers(1, 4))
    stride = _pick(rng, [None, _tup(rng, nd, 1, 3) if nd > 1 else int(rng.integers(1, 4))])
    p = _pick(rng, [1, 2, 3, 1.5])
    ceil = bool(rng.random() < 0.5)
    shape = _batch(rng, int(rng.integers(1, 4)), _spatial(rng, nd, 1, 7))
    name = f"LPPool{nd}d"

    def build(lib):
        return getattr(lib.nn, name)(p, k, stride=stride, ceil_mode=ceil)
    return f"{name}({p},{k},{stride},ceil={ceil}) x{shape}", build, [shape], {"positive": True}


def max_unpool(rng):
    nd, k, stride, padding = _window(rng, past_limit=0.0)
    spatial = _spatial(rng, nd, 2, 7)
    shape = _batch(rng, int(rng.integers(1, 3)), spatial)
    with_size = rng.random() < 0.4
    kk, ss, pp = (np.broadcast_to(v, nd) for v in (k, stride if stride else k, padding))
    default = [(n - 1) * s - 2 * p + q for n, q, s, p in
               zip([(m + 2 * p - q) // s + 1 for m, q, s, p in zip(spatial, kk, ss, pp)],
                   kk, ss, pp)]
    size = [int(v) + int(rng.integers(0, s)) for v, s in zip(default, ss)] if with_size else None

    def build(lib):
        pool = getattr(lib.nn, f"MaxPool{nd}d")(k, stride, padding, return_indices=True)
        unpool = getattr(lib.nn, f"MaxUnpool{nd}d")(k, stride, padding)

        def f(x):
            y, idx = pool(x)
            return unpool(y, idx, output_size=size)
        return f
    # torch's backward of an empty unpooled output fails (an index out of bounds)
    empty = min(size or default) == 0
    return f"MaxUnpool{nd}d({k},{stride},{padding}) size={size} x{shape}", build, [shape], \
        {"distinct": True, "grad": not empty}


MODES = {1: ["nearest", "nearest-exact", "linear", "area"],
         2: ["nearest", "nearest-exact", "bilinear", "bicubic", "area"],
         3: ["nearest", "nearest-exact", "trilinear", "area"]}


def interpolate(rng):
    nd = int(rng.integers(1, 4))
    mode = _pick(rng, MODES[nd])
    spatial = _spatial(rng, nd, 1, 7)
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) + spatial
    kw = {"mode": mode}
    if rng.random() < 0.5:
        kw["size"] = _tup(rng, nd, 1, 11) if nd > 1 else int(rng.integers(1, 11))
    else:
        kw["scale_factor"] = _pick(rng, [2, 0.5, 1.7, 3, 0.7,
                                         tuple(float(v) for v in rng.uniform(0.4, 3.0, nd))])
        kw["recompute_scale_factor"] = _pick(rng, [None, True, False])
    if mode in ("linear", "bilinear", "bicubic", "trilinear"):
        kw["align_corners"] = _pick(rng, [None, True, False])
    # torch's anti-aliased kernels go wrong on a size-1 input dim (every output reads its first
    # pixel) and, with a scale factor, its backward resamples a dim its forward left alone
    # (torch's gradcheck fails there): fastdl does neither, so those are not compared
    if mode in ("bilinear", "bicubic") and rng.random() < 0.4 and min(spatial) > 1:
        kw["antialias"] = True
        if "scale_factor" in kw:
            kw["recompute_scale_factor"] = True

    def build(lib):
        return lambda x: lib.nn.functional.interpolate(x, **kw)
    return f"interpolate({kw}) x{shape}", build, [shape], {}


def upsample_module(rng):
    desc, _, shapes, opts = interpolate(rng)
    kw = eval(desc[len("interpolate("):desc.index(") x")])  # noqa: S307 - our own repr
    kw.pop("antialias", None)
    kw.pop("recompute_scale_factor", None)

    def build(lib):
        return lib.nn.Upsample(**kw)
    return f"Upsample({kw}) x{shapes[0]}", build, shapes, opts


def pixel_shuffle(rng):
    r = int(rng.integers(1, 4))
    if rng.random() < 0.5:
        c = int(rng.integers(1, 3)) * r * r + (rng.random() < 0.1)
        shape = _batch(rng, c, _spatial(rng, 2, 1, 4))
        name, arg = "PixelShuffle", r
    else:
        shape = _batch(rng, int(rng.integers(1, 3)),
                       tuple(r * int(v) + (rng.random() < 0.1) for v in rng.integers(1, 4, 2)))
        name, arg = "PixelUnshuffle", r
    if rng.random() < 0.3:
        shape = (2,) + shape

    def build(lib):
        return getattr(lib.nn, name)(arg)
    return f"{name}({arg}) x{shape}", build, [shape], {}


def fractional_max_pool(rng):
    """Torch draws the window starts from its own generator; both get the same
    ``_random_samples`` here, so values and indices must agree exactly."""
    nd = int(rng.integers(2, 4))
    k = _tup(rng, nd, 1, 3)
    spatial = _spatial(rng, nd, 2, 8)
    kw = {"return_indices": bool(rng.random() < 0.5)}
    if rng.random() < 0.5:
        kw["output_size"] = _tup(rng, nd, 1, 5)
    else:
        kw["output_ratio"] = _pick(rng, [0.5, 0.75, tuple(float(v) for v in
                                                           rng.uniform(0.3, 0.9, nd))])
    shape = _batch(rng, int(rng.integers(1, 3)), spatial)
    n = shape[0] if len(shape) == nd + 2 else 1
    samples = rng.uniform(0.0, 1.0, (n, shape[-nd - 1], nd))
    name = f"fractional_max_pool{nd}d"

    def build(lib):
        s = lib.tensor(samples)
        f = getattr(lib.nn.functional, name)
        return lambda x: f(x, k, _random_samples=s.to(x.dtype), **kw)
    return f"{name}({k},{kw}) x{shape}", build, [shape], {"distinct": True}
