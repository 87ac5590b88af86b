"""More random case generators for tests/test_fuzz_cnn_layers.py: fold/unfold, the
normalization layers, channel dropout in eval, F.pad, grid_sample and affine_grid."""
from __future__ import annotations

import numpy as np

from fuzz_cnn_cases import _batch, _pick, _spatial, _tup


def unfold(rng):
    k, d, p, s = _tup(rng, 2, 1, 3), _tup(rng, 2, 1, 2), _tup(rng, 2, 0, 2), _tup(rng, 2, 1, 3)
    shape = _batch(rng, int(rng.integers(1, 3)), _spatial(rng, 2, 1, 7))

    def build(lib):
        return lib.nn.Unfold(k, d, p, s)
    return f"Unfold({k},{d},{p},{s}) x{shape}", build, [shape], {}


def fold(rng):
    k, d, p, s = _tup(rng, 2, 1, 3), _tup(rng, 2, 1, 2), _tup(rng, 2, 0, 2), _tup(rng, 2, 1, 3)
    out = _spatial(rng, 2, 2, 7)
    kk, dd, pp, ss = ((v, v) if isinstance(v, int) else v for v in (k, d, p, s))
    blocks = 1
    for n, a, b, c, e in zip(out, kk, dd, pp, ss):
        blocks *= max((n + 2 * c - b * (a - 1) - 1) // e + 1, 0)
    c = int(rng.integers(1, 3))
    rows = c * kk[0] * kk[1] + (rng.random() < 0.1)
    shape = _batch(rng, rows, (blocks + (rng.random() < 0.1),))

    def build(lib):
        return lib.nn.Fold(out, k, d, p, s)
    return f"Fold({out},{k},{d},{p},{s}) x{shape}", build, [shape], {}


def batch_norm(rng):
    nd = int(rng.integers(1, 4))
    c = int(rng.integers(1, 4))
    spatial = _spatial(rng, nd, 1, 4) if nd > 1 else _pick(rng, [(), (int(rng.integers(1, 5)),)])
    shape = (int(rng.integers(1, 4)), c) + spatial
    if nd == 1 and not spatial and rng.random() < 0.3:
        shape = (1, c)  # one value per channel: an error in training
    kw = dict(eps=_pick(rng, [1e-5, 1e-3]), momentum=_pick(rng, [0.1, None, 0.5]),
              affine=bool(rng.random() < 0.7), track_running_stats=bool(rng.random() < 0.7))
    train = bool(rng.random() < 0.7)
    name = f"BatchNorm{nd}d"

    def build(lib):
        m = getattr(lib.nn, name)(c, **kw)
        if kw["track_running_stats"]:
            lib.nn.init.uniform_(m.running_var, 0.5, 2.0) if lib.__name__ == "torch" else None
        return m
    return f"{name}({c},{kw}) train={train} x{shape}", build, [shape], {"train": train}


def instance_norm(rng):
    nd = int(rng.integers(1, 4))
    c = int(rng.integers(1, 4))
    shape = _batch(rng, c, _spatial(rng, nd, 1, 4))
    kw = dict(eps=_pick(rng, [1e-5, 1e-3]), momentum=_pick(rng, [0.1, None]),
              affine=bool(rng.random() < 0.5), track_running_stats=bool(rng.random() < 0.5))
    train = bool(rng.random() < 0.7)
    name = f"InstanceNorm{nd}d"

    def build(lib):
        return getattr(lib.nn, name)(c, **kw)
    return f"{name}({c},{kw}) train={train} x{shape}", build, [shape], {"train": train}


def group_norm(rng):
    g = int(rng.integers(1, 4))
    c = g * int(rng.integers(1, 3))
    shape = (int(rng.integers(1, 3)), c) + _spatial(rng, int(rng.integers(0, 3)), 1, 4)
    if rng.random() < 0.2:
        shape = (c,) + shape[2:]
    affine = bool(rng.random() < 0.7)
    if c // g * int(np.prod(shape[2:])) == 1 and len(shape) > 1 and shape[0] > 1:
        # one value per group: float32 rounding noise, scaled by 1 / sqrt(eps), is the output
        shape = shape + (2,)

    def build(lib):
        return lib.nn.GroupNorm(g, c, affine=affine)
    # torch's float32 variance of a few close values loses digits (x - mean cancels)
    return f"GroupNorm({g},{c},affine={affine}) x{shape}", build, [shape], {"loose32": True}


def layer_norm(rng):
    shape = tuple(int(v) for v in rng.integers(1, 5, int(rng.integers(1, 5))))
    k = int(rng.integers(1, len(shape) + 1))
    norm = shape[-k:] if k > 1 or rng.random() < 0.5 else shape[-1]
    kw = dict(elementwise_affine=bool(rng.random() < 0.7), bias=bool(rng.random() < 0.7),
              eps=_pick(rng, [1e-5, 1e-2]))

    def build(lib):
        return lib.nn.LayerNorm(norm, **kw)
    return f"LayerNorm({norm},{kw}) x{shape}", build, [shape], {}


def local_response_norm(rng):
    nd = int(rng.integers(0, 4))
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 6))) + _spatial(rng, nd, 1, 4)
    kw = dict(size=int(rng.integers(1, 6)), alpha=_pick(rng, [1e-4, 0.5]),
              beta=_pick(rng, [0.75, 1.5]), k=_pick(rng, [1.0, 2.0]))

    def build(lib):
        return lib.nn.LocalResponseNorm(**kw)
    return f"LocalResponseNorm({kw}) x{shape}", build, [shape], {}


def dropout_eval(rng):
    name = _pick(rng, ["Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
                       "FeatureAlphaDropout"])
    shape = tuple(int(v) for v in rng.integers(1, 4, int(rng.integers(2, 6))))
    p = _pick(rng, [0.0, 0.3, 1.0])

    def build(lib):
        return getattr(lib.nn, name)(p)
    return f"{name}({p}) eval x{shape}", build, [shape], {"train": False}


def pad(rng):
    nd = int(rng.integers(1, 4))
    mode = _pick(rng, ["constant", "constant", "reflect", "replicate", "circular"])
    spatial = _spatial(rng, nd, 1, 5)
    lead = int(rng.integers(1 if mode == "constant" else max(nd - 1, 1), 3))  # non-spatial dims
    shape = tuple(int(v) for v in rng.integers(1, 3, lead)) + spatial
    npad = int(rng.integers(1, nd + 1)) * 2 if mode == "constant" else 2 * nd
    if mode == "constant":
        pads = tuple(int(v) for v in rng.integers(-2, 4, npad))
    else:  # torch reads outside the input (garbage, not an error) past these bounds
        pads = []
        for n in reversed(spatial):
            crop = [-int(rng.integers(0, (n - 1) // 2 + 1)) if rng.random() < 0.3 else 0
                    for _ in range(2)]
            room = n + sum(crop) - (mode == "reflect")
            pads += [c if c else int(rng.integers(0, room + 1)) for c in crop]
        if rng.random() < 0.15:  # one pad past its limit: an error in both
            pads[int(rng.integers(npad))] = max(spatial) + 1
        pads = tuple(pads)
    kw = {"mode": mode}
    if mode == "constant" and rng.random() < 0.5:
        kw["value"] = 1.5

    def build(lib):
        return lambda x: lib.nn.functional.pad(x, pads, **kw)
    return f"pad({pads},{kw}) x{shape}", build, [shape], {}


def grid_sample(rng):
    nd = int(rng.integers(2, 4))
    mode = _pick(rng, ["bilinear", "nearest"] + (["bicubic"] if nd == 2 else []))
    kw = dict(mode=mode, padding_mode=_pick(rng, ["zeros", "border", "reflection"]),
              align_corners=bool(rng.random() < 0.5))
    n, c = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    x = (n, c) + _spatial(rng, nd, 1, 5)
    grid = (n,) + _spatial(rng, nd, 1, 4) + (nd,)

    def build(lib):
        return lambda a, g: lib.nn.functional.grid_sample(a, g, **kw)
    # grid values past [-1, 1] exercise every padding mode
    return f"grid_sample({kw}) x{x} grid{grid}", build, [x, grid], {"scale": [1.0, 1.4]}


def affine_grid(rng):
    nd = int(rng.integers(2, 4))
    n = int(rng.integers(1, 3))
    size = (n, int(rng.integers(1, 3))) + _spatial(rng, nd, 1, 5)
    theta = (n, nd, nd + 1)
    ac = bool(rng.random() < 0.5)

    def build(lib):
        return lambda t: lib.nn.functional.affine_grid(t, list(size), align_corners=ac)
    return f"affine_grid({size}, ac={ac}) theta{theta}", build, [theta], {}
