"""scatter, scatter_reduce, diagonal, diag_embed, fmod and Tensor.type against PyTorch (the
oracle): values and gradients on fresh random inputs of odd shapes, every argument form, finite
differences (fastdl.testing.gradcheck in float64), in-place variants, determinism with duplicate
indices, and the errors torch raises."""
from __future__ import annotations

import numpy as np
import pytest

import fastdl
from fastdl.functional import scattering
from fastdl.testing import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-12)}
REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def _leaves(*arrays):
    """(torch leaves, fastdl leaves) holding the same values; float ones require grad."""
    t = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    f = [fastdl.tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays]
    return t, f


def _check(t_out, f_out, t_leaves, f_leaves, rng, dtype=np.float64):
    """Same values; then the gradients of the same random-weighted sum."""
    assert tuple(f_out.shape) == tuple(t_out.shape)
    assert f_out.dtype == np.dtype(str(t_out.dtype).replace("torch.", ""))
    np.testing.assert_allclose(f_out.detach().numpy(), t_out.detach().numpy(), **TOL[dtype])
    if not t_out.requires_grad:
        return
    w = rng.standard_normal(tuple(t_out.shape)).astype(dtype)
    (t_out * torch.tensor(w)).sum().backward()
    (f_out * fastdl.tensor(w)).sum().backward()
    for t, f in zip(t_leaves, f_leaves):
        if t.grad is None:
            assert f.grad is None or not f.grad.numpy().any()
        else:
            np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), **TOL[dtype])


def _unique_index(rng, shape, dim, size):
    """An index of ``shape`` whose entries along ``dim`` never repeat within a fiber."""
    moved = (shape[dim],) + tuple(n for i, n in enumerate(shape) if i != dim)
    fibers = int(np.prod(moved[1:]))
    cols = [rng.permutation(size)[:shape[dim]] for _ in range(fibers)]
    return np.moveaxis(np.stack(cols, axis=1).reshape(moved), 0, dim).astype(np.int64)


def _fastdl_grad(out, leaves, g):
    return fastdl.autograd.grad([out], leaves, [fastdl.tensor(g)], allow_unused=True)


# ---- scatter ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,dim,index_shape,src_shape", [
    ((3, 5), 1, (3, 4), (3, 4)), ((3, 5), -1, (2, 3), (3, 4)),  # src larger than index
    ((4, 3, 5), 0, (3, 2, 5), (3, 2, 5)), ((4, 3, 5), -2, (4, 3, 2), (4, 3, 2)),
    ((7,), 0, (5,), (6,)), ((2, 3), 0, (2, 3), (2, 3))])
def test_scatter_src_matches_torch(dtype, shape, dim, index_shape, src_shape):
    rng = np.random.default_rng(1)
    x, src = rng.standard_normal(shape).astype(dtype), rng.standard_normal(src_shape).astype(dtype)
    idx = _unique_index(rng, index_shape, dim % len(shape), shape[dim])
    (tx, ts), (fx, fs) = _leaves(x, src)
    t_out = torch.scatter(tx, dim, torch.tensor(idx), ts)
    f_out = fastdl.scatter(fx, dim, fastdl.tensor(idx), fs)
    if src_shape != index_shape:  # torch's backward fails there: compare values, then ours
        _check(t_out.detach(), f_out.detach(), [], [], rng, dtype)
        g = rng.standard_normal(shape).astype(dtype)
        g_self, g_src = _fastdl_grad(f_out, [fx, fs], g)
        expected_src = np.zeros(src_shape, dtype)
        region = tuple(slice(0, n) for n in index_shape)
        expected_src[region] = torch.tensor(g).gather(dim, torch.tensor(idx)).numpy()
        np.testing.assert_array_equal(g_src.numpy(), expected_src)
        expected_self = torch.tensor(g).scatter(dim, torch.tensor(idx), 0.0).numpy()
        np.testing.assert_array_equal(g_self.numpy(), expected_self)
        return
    _check(t_out, f_out, [tx, ts], [fx, fs], rng, dtype)


@pytest.mark.parametrize("value", [2.5, -3, True])
def test_scatter_value_matches_torch(value):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 6))
    idx = rng.integers(0, 6, (3, 4))  # duplicates write the same value: well defined
    (tx,), (fx,) = _leaves(x)
    _check(tx.scatter(1, torch.tensor(idx), value), fx.scatter(1, fastdl.tensor(idx), value),
           [tx], [fx], rng)
    idx = rng.integers(0, 4, (3, 4))
    (tx,), (fx,) = _leaves(x)
    _check(torch.scatter(tx, -2, torch.tensor(idx), value=value),
           fastdl.scatter(fx, -2, fastdl.tensor(idx), value=value), [tx], [fx], rng)


def test_scatter_value_into_integers_truncates_as_torch():
    x = np.arange(6).reshape(2, 3)
    idx = np.array([[2], [0]])
    expected = torch.tensor(x).scatter(1, torch.tensor(idx), 7.9)
    got = fastdl.tensor(x).scatter(1, fastdl.tensor(idx), 7.9)
    assert got.dtype == np.int64 and got.tolist() == expected.tolist()


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
@pytest.mark.parametrize("reduce", ["add", "multiply"])
@pytest.mark.parametrize("use_value", [False, True])
def test_scatter_with_reduce(reduce, use_value):
    """Values as torch's; gradients (torch has none for this form) as the equivalent
    scatter_add / scatter_reduce(prod)'s in torch."""
    rng = np.random.default_rng(3)
    x, src = rng.uniform(0.5, 1.5, (3, 5)), rng.uniform(0.5, 1.5, (3, 4))
    idx = rng.integers(0, 5, (3, 4))  # duplicates accumulate
    (tx, ts), (fx, fs) = _leaves(x, src)
    arg_t, arg_f = (2.0, 2.0) if use_value else (ts, fs)
    t_out = tx.scatter(1, torch.tensor(idx), arg_t, reduce=reduce)
    f_out = fx.scatter(1, fastdl.tensor(idx), arg_f, reduce=reduce)
    np.testing.assert_allclose(f_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-12)
    src_t = torch.full((3, 4), 2.0, dtype=torch.float64) if use_value else ts
    equivalent = (tx.scatter_add(1, torch.tensor(idx), src_t) if reduce == "add" else
                  tx.scatter_reduce(1, torch.tensor(idx), src_t, "prod"))
    _check(equivalent, f_out, [tx, ts], [fx, fs], rng)


def test_scatter_duplicates_keep_the_last_write_in_index_order():
    x = fastdl.zeros(2, 4, requires_grad=True)
    src = fastdl.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    idx = fastdl.tensor([[1, 3, 1], [0, 0, 2]])
    out = x.scatter(1, idx, src)
    assert out.tolist() == [[0.0, 3.0, 0.0, 2.0], [5.0, 0.0, 6.0, 0.0]]
    out.sum().backward()
    # the overwritten src elements (1.0 and 4.0) do not reach the output: gradient 0
    assert src.grad.tolist() == [[0.0, 1.0, 1.0], [0.0, 1.0, 1.0]]
    assert x.grad.tolist() == [[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]]


def test_scatter_0d_and_empty_index_as_torch():
    got = fastdl.tensor(1.0).scatter(0, fastdl.tensor(0), fastdl.tensor(5.0))
    assert got.shape == () and got.item() == 5.0
    got = fastdl.tensor(1.0).scatter(0, fastdl.tensor([0]), fastdl.tensor([5.0]))
    assert got.shape == () and got.item() == 5.0
    x = fastdl.ones(3, 4)
    out = x.scatter(1, fastdl.zeros(0, dtype=fastdl.int64), 2.0)
    assert out.tolist() == x.tolist() and out is not x


# ---- scatter_reduce -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("shape,dim,index_shape", [
    ((3, 5), 1, (3, 7)), ((5, 4, 3), -3, (6, 3, 3)), ((7,), 0, (9,)), ((4, 1, 5), -1, (2, 1, 8))])
def test_scatter_reduce_matches_torch(dtype, reduce, include_self, shape, dim, index_shape):
    """Duplicate indices everywhere (more src values than positions)."""
    rng = np.random.default_rng(4)
    x = rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)
    src = rng.uniform(0.5, 1.5, index_shape) * rng.choice([-1, 1], index_shape)
    x, src = x.astype(dtype), src.astype(dtype)
    idx = rng.integers(0, shape[dim], index_shape)
    (tx, ts), (fx, fs) = _leaves(x, src)
    t_out = tx.scatter_reduce(dim, torch.tensor(idx), ts, reduce, include_self=include_self)
    f_out = fx.scatter_reduce(dim, fastdl.tensor(idx), fs, reduce, include_self=include_self)
    _check(t_out, f_out, [tx, ts], [fx, fs], rng, dtype)


@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_integers_match_torch(reduce, include_self):
    rng = np.random.default_rng(5)
    x, src = rng.integers(-9, 9, (4, 5)), rng.integers(-9, 9, (4, 6))
    idx = rng.integers(0, 5, (4, 6))
    expected = torch.tensor(x).scatter_reduce(1, torch.tensor(idx), torch.tensor(src), reduce,
                                              include_self=include_self)
    got = fastdl.scatter_reduce(fastdl.tensor(x), 1, fastdl.tensor(idx), fastdl.tensor(src),
                                reduce, include_self=include_self)
    assert got.dtype == np.int64 and got.tolist() == expected.tolist()


def test_scatter_reduce_src_larger_than_index_and_0d():
    rng = np.random.default_rng(6)
    x, src = rng.standard_normal((3, 4)), rng.standard_normal((4, 6))
    idx = rng.integers(0, 4, (3, 5))
    expected = torch.tensor(x).scatter_reduce(1, torch.tensor(idx), torch.tensor(src), "mean")
    fx, fs = fastdl.tensor(x, requires_grad=True), fastdl.tensor(src, requires_grad=True)
    out = fx.scatter_reduce(1, fastdl.tensor(idx), fs, "mean")
    np.testing.assert_allclose(out.detach().numpy(), expected.numpy(), rtol=1e-12)
    out.sum().backward()
    assert fs.grad.shape == (4, 6) and not fs.grad.numpy()[3:].any()
    assert not fs.grad.numpy()[:, 5:].any()
    got = fastdl.tensor(2.0).scatter_reduce(0, fastdl.tensor(0), fastdl.tensor(3.0), "prod")
    assert got.shape == () and got.item() == 6.0


@pytest.mark.parametrize("reduce", ["amax", "amin"])
def test_scatter_reduce_ties_share_the_gradient_as_torch(reduce):
    x = np.array([[1.0, 3.0, 2.0], [0.5, 0.5, 4.0]])
    src = np.array([[3.0, 3.0, 1.0, 2.0], [0.5, 4.0, 4.0, -1.0]])
    idx = np.array([[1, 1, 0, 2], [0, 2, 2, 1]])
    for include_self in (True, False):
        if not include_self:  # no left-out input element equal to the result: torch's bug
            x = x + 100.0 * (1 if reduce == "amin" else -1)
        (tx, ts), (fx, fs) = _leaves(x, src)
        _check(tx.scatter_reduce(1, torch.tensor(idx), ts, reduce, include_self=include_self),
               fx.scatter_reduce(1, fastdl.tensor(idx), fs, reduce, include_self=include_self),
               [tx, ts], [fx, fs], np.random.default_rng(7))


def test_scatter_reduce_amax_left_out_self_takes_no_share():
    """include_self=False and an input element equal to the result it took no part in: the
    whole gradient goes to the src maximum (torch gives it half; see _scatter_reduce_backward)."""
    x = fastdl.tensor([3.0, 5.0], requires_grad=True)
    src = fastdl.tensor([3.0, 1.0], requires_grad=True)
    out = x.scatter_reduce(0, fastdl.tensor([0, 0]), src, "amax", include_self=False)
    out.backward(fastdl.ones(2))
    assert out.tolist() == [3.0, 5.0]
    assert src.grad.tolist() == [1.0, 0.0] and x.grad.tolist() == [0.0, 1.0]
    assert gradcheck(lambda a, b: a.scatter_reduce(0, fastdl.tensor([0, 0]), b, "amax",
                                                   include_self=False),
                     (fastdl.tensor([3.0, 5.0], dtype=fastdl.float64, requires_grad=True),
                      fastdl.tensor([3.0, 1.0], dtype=fastdl.float64, requires_grad=True)),
                     eps=1e-3)


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_with_zeros_matches_torch(include_self):
    # position 0: one src zero; position 1: two src zeros; position 2: self zero; 3: none
    x = np.array([1.5, -0.7, 0.0, 1.2])
    src = np.array([0.0, 0.8, 0.0, 0.0, 1.3, 0.9, -1.1, 0.6])
    idx = np.array([0, 0, 1, 1, 1, 2, 2, 3])
    (tx, ts), (fx, fs) = _leaves(x, src)
    _check(tx.scatter_reduce(0, torch.tensor(idx), ts, "prod", include_self=include_self),
           fx.scatter_reduce(0, fastdl.tensor(idx), fs, "prod", include_self=include_self),
           [tx, ts], [fx, fs], np.random.default_rng(8))


def test_scatter_reduce_prod_double_backward_refuses_several_zeros():
    x = fastdl.ones(2, dtype=fastdl.float64, requires_grad=True)
    src = fastdl.tensor([0.0, 0.0, 2.0], dtype=fastdl.float64, requires_grad=True)
    out = x.scatter_reduce(0, fastdl.tensor([0, 0, 1]), src, "prod")
    with pytest.raises(RuntimeError, match="double backward"):
        fastdl.autograd.grad([out.sum()], [src], create_graph=True)
    (g,) = fastdl.autograd.grad([out.sum()], [src])  # first derivatives are fine
    assert g.tolist() == [0.0, 0.0, 1.0]


def test_duplicates_combine_in_index_order_on_every_path():
    """float32 sums of many values at one position round exactly as the sequential loop in
    index C order; the cupy path (_reduce_in_rounds) gives the same bits as numpy's ufunc.at."""
    rng = np.random.default_rng(9)
    src = (rng.standard_normal((3, 400)) * 10.0 ** rng.integers(-3, 4, (3, 400))).astype(
        np.float32)
    idx = rng.integers(0, 3, (3, 400))
    x = rng.standard_normal((3, 3)).astype(np.float32)
    got = fastdl.tensor(x).scatter_reduce(1, fastdl.tensor(idx), fastdl.tensor(src), "sum")
    expected = x.copy()
    for i in range(3):
        for k in range(400):
            expected[i, idx[i, k]] = np.float32(expected[i, idx[i, k]] + src[i, k])
    np.testing.assert_array_equal(got.numpy(), expected)
    targets = rng.integers(0, 50, 3000)
    values = rng.standard_normal(3000).astype(np.float32)
    for combine in (np.add, np.multiply, np.maximum, np.minimum, None):
        by_ufunc_at, by_rounds = np.ones(50, np.float32), np.ones(50, np.float32)
        if combine is None:  # assignment: the last write wins
            by_ufunc_at[targets] = values  # numpy's loop for a 1-d fancy write runs in order
        else:
            combine.at(by_ufunc_at, targets, values)
        scattering._reduce_in_rounds(by_rounds, targets, values, combine)
        np.testing.assert_array_equal(by_rounds, by_ufunc_at)


# ---- finite differences (float64) ---------------------------------------------------------
def _f64(rng, shape, lo=0.5, hi=1.5):
    a = rng.uniform(lo, hi, shape) * rng.choice([-1, 1], shape)
    return fastdl.tensor(a, requires_grad=True)


def test_gradcheck_scatter_family():
    rng = np.random.default_rng(10)
    unique = fastdl.tensor(_unique_index(rng, (3, 4), 1, 5))
    dup = fastdl.tensor(rng.integers(0, 5, (3, 6)))
    assert gradcheck(lambda a, b: a.scatter(-1, unique, b), (_f64(rng, (3, 5)), _f64(rng, (3, 4))))
    assert gradcheck(lambda a, b: a.scatter(1, dup, b), (_f64(rng, (3, 5)), _f64(rng, (3, 6))))
    assert gradcheck(lambda a: fastdl.scatter(a, 1, dup, value=0.25), (_f64(rng, (3, 5)),))
    assert gradgradcheck(lambda a, b: a.scatter(1, unique, b),
                         (_f64(rng, (3, 5)), _f64(rng, (3, 4))))
    for reduce in REDUCTIONS:
        for include_self in (True, False):
            fn = (lambda a, b, reduce=reduce, include_self=include_self:  # noqa: E731
                  a.scatter_reduce(0, dup[:, :5], b, reduce, include_self=include_self))
            inputs = (_f64(rng, (6, 5)), _f64(rng, (3, 6)))
            assert gradcheck(fn, inputs), (reduce, include_self)
            assert gradgradcheck(fn, inputs), (reduce, include_self)


def test_gradcheck_diagonal_diag_embed_fmod():
    rng = np.random.default_rng(11)
    assert gradcheck(lambda m: m.diagonal(1, -1, 0), (_f64(rng, (4, 2, 5)),))
    assert gradgradcheck(lambda m: fastdl.diagonal(m, -2, 2, 1), (_f64(rng, (2, 5, 4)),))
    assert gradcheck(lambda v: fastdl.diag_embed(v, -1, 0, -1), (_f64(rng, (3, 2)),))
    assert gradgradcheck(lambda v: v.diag_embed(2), (_f64(rng, (2, 3)),))
    b = fastdl.tensor(rng.uniform(0.6, 1.4, (5,)) * rng.choice([-1, 1], 5), requires_grad=True)
    # quotients away from integers, where fmod jumps
    q = rng.integers(-3, 3, (3, 5)) + rng.uniform(0.2, 0.8, (3, 5))
    a = fastdl.tensor(q * b.detach().numpy(), requires_grad=True)
    assert gradcheck(fastdl.fmod, (a, b))
    assert gradgradcheck(fastdl.fmod, (a, b))
    assert gradcheck(lambda a: a.fmod(0.7), (a,))


# ---- in-place variants --------------------------------------------------------------------
def test_scatter_inplace_variants_as_torch():
    rng = np.random.default_rng(12)
    x, src = rng.standard_normal((3, 5)), rng.standard_normal((3, 4))
    idx = _unique_index(rng, (3, 4), 1, 5)
    dup = rng.integers(0, 5, (3, 4))
    for name, args_t, args_f in [
            ("scatter_", (1, torch.tensor(idx), None), (1, fastdl.tensor(idx), None)),
            ("scatter_", (1, torch.tensor(dup), 1.5), (1, fastdl.tensor(dup), 1.5)),
            ("scatter_reduce_", (1, torch.tensor(dup), None, "amax"),
             (1, fastdl.tensor(dup), None, "amax"))]:
        (tx, ts), (fx, fs) = _leaves(x, src)
        fill = lambda args, s: tuple(s if a is None else a for a in args)  # noqa: E731
        ty, fy = tx * 1.0, fx * 1.0
        version = fy._version
        assert getattr(fy, name)(*fill(args_f, fs)) is fy
        assert fy._version == version + 1
        getattr(ty, name)(*fill(args_t, ts))
        _check(ty, fy, [tx, ts], [fx, fs], rng)
        with pytest.raises(RuntimeError, match="leaf"):  # a leaf that requires grad
            getattr(fx, name)(*fill(args_f, fs))
        with fastdl.no_grad():  # allowed there, as in torch
            getattr(fastdl.tensor(x), name)(*fill(args_f, fs.detach()))


def test_scatter_inplace_on_a_view_writes_through():
    y = fastdl.zeros(3, 4)
    y[0:2].scatter_(1, fastdl.tensor([[0], [2]]), 1.0)
    expected = torch.zeros(3, 4)
    expected[0:2].scatter_(1, torch.tensor([[0], [2]]), 1.0)
    assert y.tolist() == expected.tolist()


def test_scatter_after_inplace_write_of_saved_input_raises():
    x = fastdl.ones(4, requires_grad=True)
    src = fastdl.tensor([2.0, 3.0], requires_grad=True)
    h = src * 1.0
    out = (x * 1.0).scatter_reduce(0, fastdl.tensor([0, 0]), h, "prod")
    h.mul_(2.0)  # prod's backward reads src
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


# ---- argument checks ----------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda x, i, s: x.scatter(1, i.to(fastdl.float32), s),
    lambda x, i, s: x.scatter(1, i, s.double()),
    lambda x, i, s: x.scatter(1, i[0], s),
    lambda x, i, s: x.scatter(1, i, s[0]),
    lambda x, i, s: x.scatter(1, fastdl.zeros(4, 2, dtype=fastdl.int64), fastdl.ones(4, 2)),
    lambda x, i, s: x.scatter(1, i, s[:, :1]),
    lambda x, i, s: x.scatter(1, i + 5, s),
    lambda x, i, s: x.scatter(1, i - 1, 0.0),
    lambda x, i, s: x.scatter_reduce(1, i, s.double(), "sum"),
    lambda x, i, s: x.scatter_reduce(1, i + 5, s, "amax"),
    lambda x, i, s: x.scatter_add(1, i - 1, s),  # numpy alone would wrap -1 to the last column
    lambda x, i, s: x.scatter_add(1, i[:, :1].expand(4, 1), fastdl.ones(4, 1)),
])
def test_scatter_errors_like_torch(call):
    x = fastdl.zeros(3, 4)
    i = fastdl.tensor([[0, 1], [1, 2], [3, 0]])
    s = fastdl.ones(3, 2)
    with pytest.raises(RuntimeError):
        call(x, i, s)


def test_scatter_errors_torch_raises_too():
    x, i, s = torch.zeros(3, 4), torch.tensor([[0, 1], [1, 2], [3, 0]]), torch.ones(3, 2)
    for bad in [lambda: x.scatter(1, i.float(), s), lambda: x.scatter(1, i, s.double()),
                lambda: x.scatter(1, i[0], s), lambda: x.scatter(1, i + 5, s),
                lambda: x.scatter(1, i - 1, 0.0), lambda: x.scatter(1, i, s[:, :1])]:
        with pytest.raises(RuntimeError):
            bad()


def test_scatter_argument_errors():
    x, i, s = fastdl.zeros(3, 4), fastdl.tensor([[0, 1]]), fastdl.ones(1, 2)
    with pytest.raises(IndexError):
        x.scatter(2, i, s)
    with pytest.raises(IndexError):
        x.scatter_reduce(-3, i, s, "sum")
    with pytest.raises(ValueError, match="reduce"):
        x.scatter(1, i, s, reduce="mean")
    with pytest.raises(ValueError, match="reduce"):
        x.scatter_reduce(1, i, s, "max")
    with pytest.raises(TypeError):
        fastdl.scatter(x, 1, i, src=s, value=1.0)
    with pytest.raises(TypeError):
        x.scatter(1, [[0, 1]], s)
    with pytest.raises(TypeError):
        x.scatter_reduce(1, i, 1.0, "sum")
    assert x.scatter(1, i.int(), s).tolist() == x.scatter(1, i, s).tolist()  # int32 as torch


# ---- diagonal and diag_embed --------------------------------------------------------------
@pytest.mark.parametrize("shape,offset,dim1,dim2", [
    ((4, 4), 0, 0, 1), ((3, 5), 2, 0, 1), ((5, 3), -2, 0, 1), ((3, 5), 1, 1, 0),
    ((2, 3, 4), 0, -1, -2), ((2, 3, 4), -1, -1, 0), ((4, 2, 5, 3), 1, 2, 0), ((2, 3), 4, 0, 1),
    ((2, 3), -3, 0, 1)])
def test_diagonal_matches_torch(shape, offset, dim1, dim2):
    rng = np.random.default_rng(13)
    (tx,), (fx,) = _leaves(rng.standard_normal(shape))
    _check(torch.diagonal(tx, offset, dim1, dim2), fastdl.diagonal(fx, offset, dim1, dim2),
           [tx], [fx], rng)
    (tx,), (fx,) = _leaves(rng.standard_normal(shape).astype(np.float32))
    _check(tx.diagonal(offset, dim1, dim2), fx.diagonal(offset, dim1, dim2), [tx], [fx], rng,
           np.float32)


def test_diagonal_is_a_view_writes_reach_the_input_with_gradients():
    rng = np.random.default_rng(14)
    x = rng.standard_normal((3, 4))
    (tx,), (fx,) = _leaves(x)
    ty, fy = tx * 2.0, fx * 2.0
    ty.diagonal(1).mul_(torch.arange(3.0, dtype=torch.float64) + 1)
    fy.diagonal(1).mul_(fastdl.arange(3.0, dtype=fastdl.float64) + 1)
    _check(ty, fy, [tx], [fx], rng)
    plain = fastdl.zeros(3, 3)
    plain.diagonal().fill_(1.0)
    assert plain.tolist() == np.eye(3).tolist()
    d = plain.diagonal()
    assert d._base is plain and np.shares_memory(d.numpy(), plain.numpy())


@pytest.mark.parametrize("shape,offset,dim1,dim2", [
    ((3,), 0, -2, -1), ((2, 3), 1, 0, 2), ((2, 3), -2, -1, 1), ((4, 1, 2), 0, 1, 3),
    ((2, 3), 0, 2, 0)])
def test_diag_embed_matches_torch(shape, offset, dim1, dim2):
    rng = np.random.default_rng(15)
    (tx,), (fx,) = _leaves(rng.standard_normal(shape))
    _check(torch.diag_embed(tx, offset, dim1, dim2), fastdl.diag_embed(fx, offset, dim1, dim2),
           [tx], [fx], rng)


def test_diagonal_errors_like_torch():
    x = fastdl.ones(2, 3, 4)
    with pytest.raises(RuntimeError, match="identical"):
        x.diagonal(0, 1, -2)
    with pytest.raises(IndexError):
        x.diagonal(0, 0, 3)
    with pytest.raises(IndexError):
        fastdl.ones(3).diagonal()
    with pytest.raises(RuntimeError, match="identical"):
        fastdl.diag_embed(fastdl.ones(3), 0, 0, -2)


# ---- fmod and remainder -------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_shape,b_shape", [((3, 5), (5,)), ((2, 1, 4), (3, 1)), ((), (4,)),
                                             ((7,), ())])
def test_fmod_matches_torch(dtype, a_shape, b_shape):
    rng = np.random.default_rng(16)
    b = (rng.uniform(0.6, 1.4, b_shape) * rng.choice([-1, 1], b_shape)).astype(dtype)
    a = (rng.uniform(-4, 4, a_shape)).astype(dtype)
    (ta, tb), (fa, fb) = _leaves(a, b)
    _check(torch.fmod(ta, tb), fastdl.fmod(fa, fb), [ta, tb], [fa, fb], rng, dtype)
    (ta,), (fa,) = _leaves(a)
    _check(ta.fmod(-1.5), fa.fmod(-1.5), [ta], [fa], rng, dtype)


@pytest.mark.parametrize("other", [3, -3, 2.5, np.array([2, -3, 4])])
def test_fmod_and_remainder_integers_and_scalars_match_torch(other):
    a = np.array([-7, -3, 0, 3, 7, 8])[:, None] * np.ones(3, np.int64)
    t_other = torch.tensor(other) if isinstance(other, np.ndarray) else other
    f_other = fastdl.tensor(other) if isinstance(other, np.ndarray) else other
    for name in ("fmod", "remainder"):
        expected = getattr(torch, name)(torch.tensor(a), t_other)
        got = getattr(fastdl, name)(fastdl.tensor(a), f_other)
        assert str(got.dtype) == str(expected.dtype).replace("torch.", "")
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)


def test_fmod_takes_the_dividends_sign_remainder_the_divisors():
    a = fastdl.tensor([-3.5, 3.5, -3.5, 3.5])
    b = fastdl.tensor([2.0, 2.0, -2.0, -2.0])
    assert fastdl.fmod(a, b).tolist() == [-1.5, 1.5, -1.5, 1.5]
    assert fastdl.remainder(a, b).tolist() == [0.5, 1.5, -1.5, -0.5]
    assert (a % b).tolist() == [0.5, 1.5, -1.5, -0.5]


def test_fmod_by_zero_as_torch():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        fastdl.fmod(fastdl.tensor([-3, 3]), 0)
    got = fastdl.fmod(fastdl.tensor([-3.0, 3.0]), 0)
    assert np.isnan(got.numpy()).all()
    with pytest.raises(TypeError):
        fastdl.fmod(2, fastdl.tensor([1.5]))


# ---- Tensor.type ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "int16",
                                   "int8", "uint8", "bool"])
def test_type_names_are_torchs_with_fastdl(dtype):
    expected = torch.zeros(2, dtype=getattr(torch, dtype)).type()
    assert fastdl.zeros(2, dtype=dtype).type() == expected.replace("torch.", "fastdl.")


def test_type_casts_like_to():
    x = fastdl.tensor([1.5, -2.5], requires_grad=True)
    assert x.type(fastdl.float32) is x
    y = x.type("torch.DoubleTensor")
    assert y.dtype == np.float64 and y.requires_grad
    y.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [1.0, 1.0]
    assert x.type("fastdl.LongTensor").tolist() == torch.tensor([1.5, -2.5]).long().tolist()
    assert x.type(fastdl.int32).type() == "fastdl.IntTensor"
    assert x.type("float16").dtype == np.float16
    with pytest.raises(ValueError, match="invalid type"):
        x.type("fastdl.SparseTensor")
    with pytest.raises(ValueError, match="invalid type"):
        x.type("numpy.FloatTensor")
    with pytest.raises(TypeError):
        x.type("complex64")
