"""Random problems for every loss in torch.nn, for the differential fuzzer
(test_fuzz_seq_layers.py): each draws a reduction, the loss's own arguments and shapes
(broadcast targets, class-probability targets, ignored classes, invalid values that must
raise) and calls the functional form (tensor arguments such as weights are inputs, so the
fuzzer casts them to the dtype under test)."""
from __future__ import annotations

import numpy as np
import torch

from fuzz_seq_cases import Case, _coin, _pick, _t

REDUCTIONS = ["mean", "sum", "none"]


def _shape(r, lo=0, hi=3):
    return tuple(int(v) for v in r.integers(1, 4, int(r.integers(lo, hi + 1))))


def _functional(name, tensors, grads, **kw):
    def call(lib, m, *xs):
        return getattr(lib.nn.functional, name)(*xs, **kw)
    return Case(f"{name} {[tuple(t.shape) for t in tensors]} {kw}", None, call,
                list(tensors), list(grads))


def _kw_tensors(name, tensors, grads, named, **kw):
    """Like _functional, with the tensors after the positional ones passed by keyword."""
    n_pos = len(tensors) - len(named)

    def call(lib, m, *xs):
        return getattr(lib.nn.functional, name)(*xs[:n_pos], **dict(zip(named, xs[n_pos:])),
                                                **kw)
    return Case(f"{name} {[tuple(t.shape) for t in tensors]} {named} {kw}", None, call,
                list(tensors), list(grads))


def gen_pointwise(r):
    name = _pick(r, ["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "soft_margin_loss"])
    shape = _shape(r)
    tshape = shape
    if _coin(r, 0.2) and shape:  # broadcast target (torch warns, or raises when incompatible)
        tshape = tuple(1 if _coin(r) else d for d in shape)[int(r.integers(0, len(shape))):]
    target = _t(r, *tshape)
    if name == "soft_margin_loss":
        target = torch.sign(target) + (target == 0)
    kw = dict(reduction=_pick(r, REDUCTIONS))
    if name == "smooth_l1_loss":
        kw["beta"] = _pick(r, [1.0, 0.0, 0.5])
    if name == "huber_loss":
        kw["delta"] = _pick(r, [1.0, 0.3, 2.0])
    return _functional(name, [_t(r, *shape), target], [True, _coin(r, 0.5)], **kw)


def gen_classification(r):
    name = _pick(r, ["cross_entropy", "nll_loss"])
    C = int(r.integers(1, 5))
    layout = _pick(r, ["N", "unbatched", "spatial"])
    N = int(r.integers(0 if _coin(r, 0.1) else 1, 4))
    extra = _shape(r, 1, 2) if layout == "spatial" else ()
    x_shape = (C,) if layout == "unbatched" else (N, C) + extra
    t_shape = () if layout == "unbatched" else (N,) + extra
    kw = dict(reduction=_pick(r, REDUCTIONS))
    ignore = _pick(r, [None, int(r.integers(0, C)), -100])
    if ignore is not None:
        kw["ignore_index"] = ignore
    probs = name == "cross_entropy" and _coin(r, 0.3)
    if probs:
        target = torch.softmax(_t(r, *x_shape), dim=0 if layout == "unbatched" else 1)
    else:
        target = torch.from_numpy(np.asarray(r.integers(0, C, t_shape)))
        if ignore is not None and target.numel():
            hit = torch.from_numpy(np.asarray(r.random(t_shape) < 0.3))
            target = target.masked_fill(hit, ignore)
        if _coin(r, 0.05) and target.numel():
            hit = torch.from_numpy(np.asarray(r.random(t_shape) < 0.5))
            target = target.masked_fill(hit, C)  # a class out of range: an error
    if name == "cross_entropy" and _coin(r, 0.4):
        kw["label_smoothing"] = float(_pick(r, [0.1, 0.5, 1.0]))
    x = _t(r, *x_shape)
    if name == "nll_loss":
        x = torch.log_softmax(x, dim=0 if layout == "unbatched" else 1)
    tensors, grads, named = [x, target], [True, probs and _coin(r)], []
    if _coin(r, 0.4):
        tensors.append(torch.from_numpy(r.uniform(0.1, 2, C)))
        grads.append(_coin(r, 0.3))
        named.append("weight")
    return _kw_tensors(name, tensors, grads, named, **kw)


def gen_binary(r):
    name = _pick(r, ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
    shape = _shape(r)
    x = _t(r, *shape)
    if name == "binary_cross_entropy":
        x = torch.sigmoid(x)
        if _coin(r, 0.05):
            x = x + 1.5  # out of [0, 1]: an error
    target = torch.from_numpy(np.asarray(r.random(shape)))
    if _coin(r, 0.3):
        target = (target > 0.5).double()
    tensors, grads, named = [x, target], [True, _coin(r, 0.4)], []
    if _coin(r, 0.4):
        w_shape = shape[int(r.integers(0, len(shape) + 1)):]  # broadcasts to the input
        tensors.append(torch.from_numpy(np.asarray(r.uniform(0.1, 2, w_shape))))
        grads.append(_coin(r, 0.3))  # torch raises: not differentiable in the weight
        named.append("weight")
    if name.endswith("logits") and _coin(r, 0.4) and shape:
        tensors.append(torch.from_numpy(r.uniform(0.1, 3, shape[-1:])))
        grads.append(_coin(r, 0.3))
        named.append("pos_weight")
    return _kw_tensors(name, tensors, grads, named, reduction=_pick(r, REDUCTIONS))


def gen_kl_poisson_gaussian(r):
    name = _pick(r, ["kl_div", "poisson_nll_loss", "gaussian_nll_loss"])
    shape = _shape(r, 1, 3)
    red = _pick(r, REDUCTIONS)
    if name == "kl_div":
        log_target = _coin(r)
        x = torch.log_softmax(_t(r, *shape), -1)
        target = torch.softmax(_t(r, *shape), -1)
        zeros = not log_target and _coin(r, 0.2)
        if log_target:
            target = target.log()
        elif zeros:
            target = target.masked_fill(target < 0.3, 0.0)  # zero targets: 0 * log 0 = 0
        # at a zero target torch's target gradient is NaN, fastdl's 0: not compared
        return _functional(name, [x, target], [True, not zeros and _coin(r)],
                           log_target=log_target,
                           reduction=_pick(r, REDUCTIONS + ["batchmean"]))
    if name == "poisson_nll_loss":
        log_input = _coin(r)
        x = _t(r, *shape) if log_input else torch.from_numpy(np.asarray(r.uniform(0, 3, shape)))
        target = torch.from_numpy(np.asarray(r.integers(0, 5, shape), dtype=np.float64))
        return _functional(name, [x, target], [True, _coin(r, 0.3)], log_input=log_input,
                           full=_coin(r), eps=_pick(r, [1e-8, 0.1]), reduction=red)
    var_shape = _pick(r, [shape, shape[:-1] + (1,), shape[:-1]])
    var = torch.from_numpy(r.uniform(0.1, 2, var_shape))
    if _coin(r, 0.05):
        var = -var  # negative variance: an error
    return _functional(name, [_t(r, *shape), _t(r, *shape), var], [True, _coin(r), True],
                       full=_coin(r), eps=_pick(r, [1e-6, 0.5]), reduction=red)


def gen_margin(r):
    name = _pick(r, ["hinge_embedding_loss", "multilabel_margin_loss", "cosine_embedding_loss",
                     "margin_ranking_loss", "multi_margin_loss", "multilabel_soft_margin_loss"])
    red = _pick(r, REDUCTIONS)
    N, C = int(r.integers(1, 4)), int(r.integers(1, 5))
    unbatched = _coin(r, 0.25)
    lead = () if unbatched else (N,)

    def pm1(*shape):
        return torch.from_numpy(np.asarray(r.choice([-1.0, 1.0], shape)))
    if name == "hinge_embedding_loss":
        shape = _shape(r)
        return _functional(name, [_t(r, *shape), pm1(*shape)], [True, False],
                           margin=_pick(r, [1.0, 0.5, -0.2]), reduction=red)
    if name == "multilabel_margin_loss":
        target = torch.from_numpy(r.integers(-1, C, lead + (C,)))
        return _functional(name, [_t(r, *lead, C), target], [True, False], reduction=red)
    if name == "cosine_embedding_loss":
        D = int(r.integers(1, 4))
        return _functional(name, [_t(r, *lead, D), _t(r, *lead, D), pm1(*lead)],
                           [True, True, False], margin=_pick(r, [0.0, 0.5, -0.3]),
                           reduction=red)
    if name == "margin_ranking_loss":
        shape = _shape(r)
        return _functional(name, [_t(r, *shape), _t(r, *shape), pm1(*shape)],
                           [True, True, False], margin=_pick(r, [0.0, 0.5]), reduction=red)
    if name == "multi_margin_loss":
        tensors = [_t(r, *lead, C), torch.from_numpy(np.asarray(r.integers(0, C, lead)))]
        named = []
        if _coin(r, 0.4):
            tensors.append(torch.from_numpy(r.uniform(0.1, 2, C)))
            named.append("weight")
        return _kw_tensors(name, tensors, [True, False] + [_coin(r, 0.3)] * len(named), named,
                           p=_pick(r, [1, 2]), margin=_pick(r, [1.0, 0.3]), reduction=red)
    tensors = [_t(r, *lead, C), torch.from_numpy(r.integers(0, 2, lead + (C,)).astype(float))]
    named = []
    if _coin(r, 0.4):
        tensors.append(torch.from_numpy(r.uniform(0.1, 2, C)))
        named.append("weight")
    return _kw_tensors(name, tensors, [True, _coin(r, 0.3)] + [False] * len(named), named,
                       reduction=red)


def gen_triplet(r):
    with_distance = _coin(r)
    N, D = int(r.integers(1, 4)), int(r.integers(1, 4))
    lead = () if _coin(r, 0.2) else (N,)
    xs = [_t(r, *lead, D) for _ in range(3)]
    kw = dict(margin=_pick(r, [1.0, 0.2, 3.0]), swap=_coin(r), reduction=_pick(r, REDUCTIONS))
    if not with_distance:
        return _functional("triplet_margin_loss", xs, [True] * 3, p=_pick(r, [1.0, 2.0, 3.0]),
                           eps=_pick(r, [1e-6, 0.1]), **kw)
    dist = _pick(r, [None, "cosine", "l1"])

    def call(lib, m, a, p, n):
        fn = None
        if dist == "cosine":
            fn = lambda x, y: 1.0 - lib.nn.functional.cosine_similarity(x, y)  # noqa: E731
        elif dist == "l1":
            fn = lambda x, y: (x - y).abs().sum(-1)  # noqa: E731
        return lib.nn.functional.triplet_margin_with_distance_loss(a, p, n, distance_function=fn,
                                                                  **kw)
    return Case(f"triplet_margin_with_distance_loss {lead} D={D} dist={dist} {kw}", None, call,
                xs, [True] * 3)


def gen_ctc(r):
    T, N, C = int(r.integers(1, 7)), int(r.integers(1, 4)), int(r.integers(2, 5))
    blank = int(r.integers(0, C))
    unbatched = _coin(r, 0.2)
    if unbatched:
        N = 1
    in_lens = r.integers(0 if _coin(r, 0.2) else 1, T + 1, N)
    if not unbatched and _coin(r, 0.5):
        in_lens[0] = T
    tgt_lens = r.integers(0, T + 2, N)
    labels = [c for c in range(C) if c != blank]
    S = int(tgt_lens.max()) if _coin(r) else int(tgt_lens.max()) + 1
    padded = torch.from_numpy(r.choice(labels, (N, max(S, 1)))) if S else \
        torch.zeros(N, 0, dtype=torch.int64)
    x = torch.log_softmax(_t(r, *((T, C) if unbatched else (T, N, C))), -1)
    concat = not unbatched and _coin(r, 0.3)
    if concat:
        target = torch.cat([padded[i, :int(tgt_lens[i])] for i in range(N)])
    else:
        target = padded[0, :int(tgt_lens[0])] if unbatched else padded
    as_tensor = _coin(r)
    kw = dict(blank=blank, reduction=_pick(r, REDUCTIONS), zero_infinity=_coin(r))
    il = [int(v) for v in in_lens] if _coin(r, 0.95) else int(in_lens[0])  # int: TypeError
    tl = [int(v) for v in tgt_lens]
    tensors = [x, target]
    if as_tensor:
        tensors += [torch.tensor(il), torch.tensor(tl)]

    def call(lib, m, x, target, *lens):
        a, b = lens if lens else (il, tl)
        return lib.nn.functional.ctc_loss(x, target, a, b, **kw)
    return Case(f"ctc_loss x{tuple(x.shape)} target{tuple(target.shape)} in={il} tgt={tl} "
                f"{kw} as_tensor={as_tensor}", None, call, tensors,
                [True] + [False] * (len(tensors) - 1))


LOSS_GENERATORS = dict(loss_pointwise=gen_pointwise, loss_class=gen_classification,
                       loss_binary=gen_binary, loss_kl_poisson_gaussian=gen_kl_poisson_gaussian,
                       loss_margin=gen_margin, loss_triplet=gen_triplet, loss_ctc=gen_ctc)
