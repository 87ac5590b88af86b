"""The second batch of torch names composed in fastdl.functional.composites (nan_to_num ...
masked_scatter), against torch 2.13 on fresh random inputs: values, gradients (edge points
included), float64 gradchecks and the errors torch raises."""
import numpy as np
import pytest
import torch

import fastdl
from fastdl.testing import gradcheck

rng = np.random.default_rng(20261129)  # fixed: the same inputs on every run (CI must not flake)
INF, NAN = float("inf"), float("nan")


def _both(a, requires_grad=True):
    a = np.asarray(a)
    grad = requires_grad and a.dtype.kind == "f"
    return (fastdl.tensor(a.copy(), requires_grad=grad),
            torch.tensor(a.copy(), requires_grad=grad))


def _close(ours, theirs, rtol=None, atol=None):
    ours = ours.detach().numpy() if hasattr(ours, "detach") else np.asarray(ours)
    theirs = theirs.detach().numpy()
    single = theirs.dtype == np.float32
    rtol = rtol if rtol is not None else 1e-5 if single else 1e-6
    atol = atol if atol is not None else 1e-6 if single else 1e-8
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def _compare(fn_ours, fn_torch, arrays, check_grad=True, gradcheck_too=True):
    """Forward and (for float inputs) backward of fn on the same arrays vs torch."""
    pairs = [_both(a) for a in arrays]
    out, ref = fn_ours(*[p[0] for p in pairs]), fn_torch(*[p[1] for p in pairs])
    if isinstance(ref, (tuple, list)):
        assert len(out) == len(ref)
        for o, r in zip(out, ref):
            _close(o, r)
        return
    _close(out, ref)
    if check_grad and ref.requires_grad:
        seed = rng.standard_normal(ref.shape)
        out.backward(fastdl.tensor(seed.astype(out._data.dtype)))
        ref.backward(torch.tensor(seed.astype(out._data.dtype)))
        for ours, theirs in pairs:
            if theirs.grad is not None:
                _close(ours.grad, theirs.grad)
        floats = [p[0] for p in pairs if p[0]._data.dtype.kind == "f"]
        if gradcheck_too and all(f._data.dtype == np.float64 for f in floats):
            assert gradcheck(fn_ours, [fastdl.tensor(np.ascontiguousarray(f.detach().numpy()),
                                                     requires_grad=True) for f in floats])


def _randn(*shape):
    return rng.standard_normal(shape)


def test_every_name_is_where_torch_has_it():
    names = ("nan_to_num logaddexp2 xlogy logit sinc deg2rad rad2deg copysign signbit "
             "heaviside float_power tile tensor_split hsplit vsplit dsplit block_diag kron rot90 "
             "cartesian_prod combinations cdist ger renorm bucketize histc logcumsumexp unfold "
             "is_nonzero masked_scatter").split()
    for n in names:
        assert hasattr(fastdl, n) == hasattr(torch, n), n
        assert hasattr(fastdl.Tensor, n) == hasattr(torch.Tensor, n), n
        assert n in fastdl.__all__ or not hasattr(torch, n)


def test_nan_to_num():
    a = _randn(3, 5)
    a.flat[[0, 4, 7]] = [NAN, INF, -INF]
    for kw in ({}, {"nan": 1.5}, {"posinf": 9.0, "neginf": -9.0}):
        _compare(lambda x: fastdl.nan_to_num(x, **kw), lambda x: torch.nan_to_num(x, **kw), [a],
                 gradcheck_too=False)
        _compare(lambda x: x.nan_to_num(**kw), lambda x: x.nan_to_num(**kw),
                 [a.astype(np.float32)])
    _compare(fastdl.nan_to_num, torch.nan_to_num, [np.array([1, 2])])


def test_logaddexp2():
    _compare(fastdl.logaddexp2, torch.logaddexp2, [_randn(4, 1), _randn(3)])
    _compare(lambda a, b: a.logaddexp2(b), lambda a, b: a.logaddexp2(b),
             [np.array([1000.0, -1000.0]), np.array([1000.0, -999.0])], gradcheck_too=False)


def test_xlogy_with_its_edge_points():
    x = np.array([0.0, 0.0, 0.0, 1.5, 2.0, -1.0, 0.0])
    y = np.array([0.0, -1.0, 2.0, 0.5, 3.0, 4.0, NAN])
    f, t = _both(x), _both(y)
    out, ref = fastdl.xlogy(f[0], t[0]), torch.xlogy(f[1], t[1])
    _close(out, ref)
    out.sum().backward()
    ref.sum().backward()
    _close(f[0].grad, f[1].grad)
    _close(t[0].grad, t[1].grad)  # other's gradient x / y: NaN at x == y == 0, as torch's
    _compare(fastdl.xlogy, torch.xlogy, [_randn(3, 4), np.abs(_randn(4)) + 0.1])
    _compare(lambda a: a.xlogy(2.0), lambda a: a.xlogy(2.0), [_randn(5)])
    _compare(lambda b: fastdl.xlogy(3, b), lambda b: torch.xlogy(3, b),
             [np.abs(_randn(2, 3)) + 0.1])


@pytest.mark.parametrize("eps", [None, 0.1, 0.25])
def test_logit(eps):
    a = rng.uniform(0.02, 0.98, (4, 5))
    if eps is not None:
        a[0, :2] = [eps, 1 - eps]  # torch's gradient passes at the clamp's ends
    _compare(lambda x: fastdl.logit(x, eps), lambda x: torch.logit(x, eps), [a],
             gradcheck_too=eps is None)
    _compare(lambda x: x.logit(eps), lambda x: x.logit(eps), [a.astype(np.float32)],
             gradcheck_too=False)


def test_sinc_and_degrees():
    a = _randn(3, 4)
    a[0, 0] = 0.0
    _compare(fastdl.sinc, torch.sinc, [a])  # gradient 0 at 0, as torch
    _compare(lambda x: x.sinc(), lambda x: x.sinc(), [np.array([0.0, 1.0, -2.0])],
             gradcheck_too=False)
    for name in ("deg2rad", "rad2deg"):
        _compare(getattr(fastdl, name), getattr(torch, name), [_randn(2, 3)])
        _compare(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(),
                 [_randn(3).astype(np.float32)])
        _compare(getattr(fastdl, name), getattr(torch, name), [np.array([1, 90])])
    _compare(fastdl.sinc, torch.sinc, [np.array([0, 1, 2])])


def test_copysign_signbit_heaviside():
    a = _randn(3, 4)
    a[0, 0] = 0.0
    b = _randn(4)
    b[1] = -0.0
    b[2] = 0.0
    _compare(fastdl.copysign, torch.copysign, [a, b], gradcheck_too=False)
    _compare(lambda x: x.copysign(-1.0), lambda x: x.copysign(-1.0), [_randn(5)])
    _compare(lambda x: fastdl.copysign(x, fastdl.tensor([1, -1, 1])),
             lambda x: torch.copysign(x, torch.tensor([1, -1, 1])), [_randn(2, 3)])
    c = np.array([-1.0, -0.0, 0.0, 2.0, -INF, NAN])
    _compare(fastdl.signbit, torch.signbit, [c])
    _compare(lambda x: x.signbit(), lambda x: x.signbit(), [np.array([-3, 0, 4])])
    x = np.array([-1.5, 0.0, 2.0, 0.0])
    _compare(fastdl.heaviside, torch.heaviside, [x, np.array([0.5])], check_grad=False)
    _compare(lambda a, v: a.heaviside(v), lambda a, v: a.heaviside(v),
             [x.reshape(2, 2), np.array([[7.0], [8.0]])], check_grad=False)
    with pytest.raises(RuntimeError, match="different dtypes"):
        torch.heaviside(torch.zeros(2), torch.zeros(2, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="different dtypes"):
        fastdl.heaviside(fastdl.zeros(2), fastdl.zeros(2, dtype=fastdl.float64))


def test_float_power():
    a = np.abs(_randn(3, 4)) + 0.1
    _compare(fastdl.float_power, torch.float_power, [a, _randn(4)])
    _compare(lambda x: x.float_power(2), lambda x: x.float_power(2), [a.astype(np.float32)],
             gradcheck_too=False)
    _compare(lambda x: fastdl.float_power(x, 0.5), lambda x: torch.float_power(x, 0.5),
             [np.array([1, 4, 9])])
    _compare(lambda x: fastdl.float_power(2, x), lambda x: torch.float_power(2, x), [_randn(3)])


@pytest.mark.parametrize("dims", [(2,), (2, 1), (1, 3, 2), (2, 2, 1, 2), ()])
def test_tile(dims):
    _compare(lambda x: fastdl.tile(x, dims), lambda x: torch.tile(x, dims), [_randn(3, 2)])
    _compare(lambda x: x.tile(dims), lambda x: x.tile(dims), [_randn(4)])


@pytest.mark.parametrize("split", [1, 2, 3, 5, 8, [1, 4], [0, 2, 2, 9], [-2], [3, 1]])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_tensor_split(split, dim):
    a = _randn(7, 5, 3)
    ours_split = fastdl.tensor(np.array(split)) if isinstance(split, int) and split == 3 else split
    theirs_split = torch.tensor(np.array(split)) if isinstance(split, int) and split == 3 else split
    pairs = _both(a)
    out = fastdl.tensor_split(pairs[0], ours_split, dim)
    ref = torch.tensor_split(pairs[1], theirs_split, dim)
    assert len(out) == len(ref)
    for o, r in zip(out, ref):
        _close(o, r)
    seeds = [rng.standard_normal(r.shape) for r in ref]
    sum(fastdl.sum(o * fastdl.tensor(s)) for o, s in zip(out, seeds)).backward()
    sum(torch.sum(r * torch.tensor(s)) for r, s in zip(ref, seeds)).backward()
    _close(pairs[0].grad, pairs[1].grad)
    for o, r in zip(pairs[0].tensor_split(split, dim=dim), pairs[1].tensor_split(split, dim=dim)):
        _close(o, r)


def test_tensor_split_errors():
    for bad in (lambda m: m.tensor_split(m.tensor(1.0), 1),
                lambda m: m.tensor_split(m.zeros(3), m.tensor([[1]]))):
        with pytest.raises(RuntimeError):
            bad(torch)
        with pytest.raises(RuntimeError):
            bad(fastdl)


def test_tensor_split_sections_zero():
    with pytest.raises(RuntimeError):
        torch.tensor_split(torch.zeros(3), 0)
    with pytest.raises(RuntimeError):
        fastdl.tensor_split(fastdl.zeros(3), 0)


@pytest.mark.parametrize("name,shape,split", [
    ("hsplit", (6,), 3), ("hsplit", (2, 6, 3), 2), ("hsplit", (2, 6), [1, 4]),
    ("vsplit", (6, 2), 3), ("vsplit", (5, 2, 2), [2]), ("dsplit", (2, 3, 4), 2),
    ("dsplit", (1, 2, 5, 2), [1, 3])])
def test_direction_splits(name, shape, split):
    _compare(lambda x: getattr(fastdl, name)(x, split), lambda x: getattr(torch, name)(x, split),
             [_randn(*shape)])
    _compare(lambda x: getattr(x, name)(split), lambda x: getattr(x, name)(split),
             [_randn(*shape)])


@pytest.mark.parametrize("name,shape,split", [
    ("hsplit", (5,), 2), ("hsplit", (), 1), ("vsplit", (4,), 2), ("dsplit", (2, 2), 1),
    ("dsplit", (2, 2, 3), 2), ("vsplit", (3, 3), 0)])
def test_direction_split_errors(name, shape, split):
    with pytest.raises(RuntimeError) as theirs:
        getattr(torch, name)(torch.zeros(shape), split)
    with pytest.raises(RuntimeError) as ours:
        getattr(fastdl, name)(fastdl.zeros(*shape), split)
    assert str(ours.value).split(",")[0] == str(theirs.value).split(",")[0]


def test_block_diag():
    _compare(fastdl.block_diag, torch.block_diag,
             [_randn(2, 3), _randn(3), np.array(1.5), _randn(1, 1), _randn(3, 2)])
    _compare(fastdl.block_diag, torch.block_diag, [_randn(0, 2), _randn(2, 0), _randn(2, 2)],
             gradcheck_too=False)
    _compare(fastdl.block_diag, torch.block_diag, [np.array([[1, 2]]), np.array([3.5])],
             gradcheck_too=False)
    _close(fastdl.block_diag(), torch.block_diag())
    with pytest.raises(RuntimeError):
        torch.block_diag(torch.zeros(1, 1, 1))
    with pytest.raises(RuntimeError):
        fastdl.block_diag(fastdl.zeros(1, 1, 1))


@pytest.mark.parametrize("sa,sb", [((2,), (3,)), ((2, 3), (3, 2)), ((2, 1, 3), (2, 2)),
                                   ((3,), (2, 2)), ((), (3,)), ((), ())])
def test_kron(sa, sb):
    _compare(fastdl.kron, torch.kron, [_randn(*sa), _randn(*sb)])
    _compare(lambda a, b: a.kron(b), lambda a, b: a.kron(b), [_randn(*sa), _randn(*sb)],
             gradcheck_too=False)
    _compare(fastdl.kron, torch.kron, [np.arange(4).reshape(2, 2), np.array([1, -1])])


@pytest.mark.parametrize("k", [-5, -1, 0, 1, 2, 3, 4, 7])
@pytest.mark.parametrize("dims", [(0, 1), (1, 0), (2, 0), (-1, 1)])
def test_rot90(k, dims):
    _compare(lambda x: fastdl.rot90(x, k, dims), lambda x: torch.rot90(x, k, dims),
             [_randn(2, 3, 4)], gradcheck_too=k in (1, -1))
    _compare(lambda x: x.rot90(k, list(dims[:2])), lambda x: x.rot90(k, list(dims[:2])),
             [_randn(3, 5, 2)], gradcheck_too=False)


def test_rot90_defaults_and_errors():
    _compare(fastdl.rot90, torch.rot90, [_randn(3, 2)])
    for k, dims, shape in ((1, (0, 0), (2, 2)), (1, (0, 1, 2), (2, 2, 2)), (1, (0, 1), (3,))):
        with pytest.raises(RuntimeError) as theirs:
            torch.rot90(torch.zeros(shape), k, dims)
        with pytest.raises(RuntimeError) as ours:
            fastdl.rot90(fastdl.zeros(*shape), k, dims)
        assert str(ours.value).split(",")[0] == str(theirs.value).split(",")[0]


def test_cartesian_prod():
    _compare(fastdl.cartesian_prod, torch.cartesian_prod, [_randn(3), _randn(2), _randn(4)])
    _compare(fastdl.cartesian_prod, torch.cartesian_prod, [_randn(3)])
    _compare(fastdl.cartesian_prod, torch.cartesian_prod, [np.array([1, 2]), np.array([3])])
    for args in (((2, 2),), ((2,), (3,))):
        with pytest.raises(RuntimeError):
            torch.cartesian_prod(*[torch.zeros(s, dtype=torch.float64 if i else torch.float32)
                                   for i, s in enumerate(args)])
        with pytest.raises(RuntimeError):
            fastdl.cartesian_prod(*[fastdl.zeros(*s, dtype=fastdl.float64 if i else
                                                 fastdl.float32) for i, s in enumerate(args)])


@pytest.mark.parametrize("r", [0, 1, 2, 3, 5, 6])
@pytest.mark.parametrize("with_replacement", [False, True])
def test_combinations(r, with_replacement):
    _compare(lambda x: fastdl.combinations(x, r, with_replacement),
             lambda x: torch.combinations(x, r, with_replacement), [_randn(5)],
             check_grad=r > 0)
    _compare(lambda x: fastdl.combinations(x, r=r, with_replacement=with_replacement),
             lambda x: torch.combinations(x, r=r, with_replacement=with_replacement),
             [np.arange(4)])


def test_combinations_errors():
    with pytest.raises(RuntimeError):
        torch.combinations(torch.zeros(2, 2))
    with pytest.raises(RuntimeError):
        fastdl.combinations(fastdl.zeros(2, 2))


@pytest.mark.parametrize("p", [0.0, 1.0, 2.0, 3.0, 0.5, INF])
@pytest.mark.parametrize("s1,s2", [((4, 3), (5, 3)), ((2, 4, 3), (2, 5, 3)),
                                   ((2, 1, 3, 2), (4, 5, 2)), ((1, 2), (3, 2))])
def test_cdist(p, s1, s2):
    _compare(lambda a, b: fastdl.cdist(a, b, p), lambda a, b: torch.cdist(a, b, p),
             [_randn(*s1), _randn(*s2)], gradcheck_too=p != 0.5)


@pytest.mark.parametrize("p", [0.0, 1.0, 2.0, 3.0, INF])
def test_cdist_at_coincident_points(p):
    a = _randn(3, 2)
    b = np.concatenate([a[:2], _randn(2, 2)])
    b[3, 0] = a[2, 0]  # one coordinate in common
    _compare(lambda x, y: fastdl.cdist(x, y, p=p), lambda x, y: torch.cdist(x, y, p=p),
             [a, b], gradcheck_too=False)


def test_cdist_inf_ties_get_the_full_gradient():
    _compare(lambda x, y: fastdl.cdist(x, y, INF), lambda x, y: torch.cdist(x, y, INF),
             [np.array([[1.0, 3.0]]), np.array([[0.0, 2.0]])], gradcheck_too=False)


def test_cdist_errors():
    for args in (((2, 3), (2, 4), 2.0), ((2, 3), (2, 3), -1.0), ((3,), (2, 3), 2.0)):
        with pytest.raises(RuntimeError):
            torch.cdist(torch.zeros(args[0]), torch.zeros(args[1]), args[2])
        with pytest.raises(RuntimeError):
            fastdl.cdist(fastdl.zeros(*args[0]), fastdl.zeros(*args[1]), args[2])


def test_ger_is_outer():
    _compare(fastdl.ger, torch.ger, [_randn(3), _randn(4)])
    _compare(lambda a, b: a.ger(b), lambda a, b: a.ger(b), [_randn(2), _randn(5)])


@pytest.mark.parametrize("p", [1, 2, 3.5, INF])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_renorm(p, dim):
    a = _randn(3, 4, 2) * 2
    _compare(lambda x: fastdl.renorm(x, p, dim, 1.5), lambda x: torch.renorm(x, p, dim, 1.5),
             [a], gradcheck_too=p != INF)
    _compare(lambda x: x.renorm(p, dim, 100.0), lambda x: x.renorm(p, dim, 100.0), [a])


def test_renorm_errors():
    for args in ((torch.zeros(3), 2, 0, 1.0), (torch.zeros(2, 2), 0, 0, 1.0),
                 (torch.zeros(2, 2), 2, 0, -1.0)):
        with pytest.raises(RuntimeError):
            torch.renorm(*args)
        with pytest.raises(RuntimeError):
            fastdl.renorm(fastdl.tensor(args[0].numpy()), *args[1:])


@pytest.mark.parametrize("right", [False, True])
@pytest.mark.parametrize("out_int32", [False, True])
def test_bucketize(right, out_int32):
    bounds = np.array([-1.0, 0.0, 0.5, 2.0])
    values = np.concatenate([_randn(3, 4).ravel(), bounds]).reshape(4, 4)
    _close(fastdl.bucketize(fastdl.tensor(values), fastdl.tensor(bounds), right=right,
                            out_int32=out_int32),
           torch.bucketize(torch.tensor(values), torch.tensor(bounds), right=right,
                           out_int32=out_int32))
    with pytest.raises(RuntimeError):
        torch.bucketize(torch.tensor(values), torch.tensor(values), right=right)
    with pytest.raises(RuntimeError):
        fastdl.bucketize(fastdl.tensor(values), fastdl.tensor(values), right=right)


@pytest.mark.parametrize("bins,lo,hi", [(100, 0, 0), (7, -1, 1), (3, 0.5, 0.5), (1, -3, 3),
                                        (10, 0, 0.5)])
def test_histc(bins, lo, hi):
    a = _randn(5, 7).astype(np.float32)
    a[0, 0] = -1.0
    a[0, 1] = 1.0
    _close(fastdl.histc(fastdl.tensor(a), bins, lo, hi), torch.histc(torch.tensor(a), bins, lo, hi))
    _close(fastdl.tensor(a).histc(bins=bins, min=lo, max=hi),
           torch.tensor(a).histc(bins=bins, min=lo, max=hi))
    _close(fastdl.histc(fastdl.tensor(np.full(3, 2.0)), 4),
           torch.histc(torch.tensor(np.full(3, 2.0)), 4))
    with pytest.raises(RuntimeError):
        torch.histc(torch.tensor(a), bins, 1, -1)
    with pytest.raises(RuntimeError):
        fastdl.histc(fastdl.tensor(a), bins, 1, -1)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_logcumsumexp(dim):
    _compare(lambda x: fastdl.logcumsumexp(x, dim), lambda x: torch.logcumsumexp(x, dim),
             [_randn(3, 5, 2) * 3])
    a = np.array([[0.0, 1000.0, -1000.0, 5.0], [-INF, 0.0, 1.0, INF]])
    _compare(lambda x: x.logcumsumexp(1), lambda x: x.logcumsumexp(1), [a[:1]],
             gradcheck_too=False)
    _close(fastdl.logcumsumexp(fastdl.tensor(a), 1), torch.logcumsumexp(torch.tensor(a), 1))
    _compare(lambda x: x.logcumsumexp(0), lambda x: x.logcumsumexp(0), [np.array(1.5)])


@pytest.mark.parametrize("shape,dim,size,step", [((7,), 0, 2, 1), ((7,), 0, 3, 2),
                                                 ((4, 6), 1, 3, 3), ((5, 3, 2), 0, 2, 2),
                                                 ((5, 3), -1, 3, 1), ((4, 3), 0, 4, 5),
                                                 ((), 0, 1, 1), ((3, 2), 0, 0, 1)])
def test_unfold(shape, dim, size, step):
    _compare(lambda x: x.unfold(dim, size, step), lambda x: x.unfold(dim, size, step),
             [_randn(*shape)], gradcheck_too=size > 0)


def test_unfold_errors():
    for args in ((0, 5, 1), (0, 2, 0)):
        with pytest.raises(RuntimeError):
            torch.zeros(4).unfold(*args)
        with pytest.raises(RuntimeError):
            fastdl.zeros(4).unfold(*args)


def test_is_nonzero():
    for value in ([0.0], [[2]], 0.5, [False], [True], 0):
        assert fastdl.is_nonzero(fastdl.tensor(value)) == torch.is_nonzero(torch.tensor(value))
        assert fastdl.tensor(value).is_nonzero() == torch.tensor(value).is_nonzero()
    for value in ([], [1, 2]):
        with pytest.raises(RuntimeError) as theirs:
            torch.is_nonzero(torch.tensor(value))
        with pytest.raises(RuntimeError) as ours:
            fastdl.is_nonzero(fastdl.tensor(value))
        assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("mshape", [(3, 4), (4,), (3, 1), ()])
def test_masked_scatter(mshape):
    mask = rng.random(mshape) < 0.5
    fm, tm = fastdl.tensor(mask), torch.tensor(mask)
    _compare(lambda x, s: fastdl.masked_scatter(x, fm, s),
             lambda x, s: torch.masked_scatter(x, tm, s), [_randn(3, 4), _randn(15)])
    _compare(lambda x, s: x.masked_scatter(fm, s), lambda x, s: x.masked_scatter(tm, s),
             [_randn(3, 4), _randn(3, 4)], gradcheck_too=False)


def test_masked_scatter_without_trues_or_source():
    source = np.array([NAN, 1.0])
    _compare(lambda x, s: x.masked_scatter(fastdl.zeros(3, dtype=fastdl.bool), s),
             lambda x, s: x.masked_scatter(torch.zeros(3, dtype=torch.bool), s),
             [_randn(2, 3), source], gradcheck_too=False)
    _compare(lambda x: x.masked_scatter(fastdl.zeros(3, dtype=fastdl.bool), fastdl.zeros(0,
                                        dtype=fastdl.float64)),
             lambda x: x.masked_scatter(torch.zeros(3, dtype=torch.bool), torch.zeros(0,
                                        dtype=torch.float64)), [_randn(3)])


def test_masked_scatter_errors():
    mask = np.ones((2, 2), bool)
    for args in ((np.zeros((2, 2)), mask, np.zeros(3)),
                 (np.zeros((2, 2)), mask.astype(np.int64), np.zeros(4)),
                 (np.zeros((2, 2)), mask, np.zeros(4, np.float32))):
        with pytest.raises(RuntimeError):
            torch.masked_scatter(*[torch.tensor(a) for a in args])
        with pytest.raises(RuntimeError):
            fastdl.masked_scatter(*[fastdl.tensor(a) for a in args])
