"""The torch names added in fastdl.functional.composites and their in-place Tensor methods,
against torch 2.13 on fresh random inputs: values, indices, gradients, float64 gradchecks and
the errors torch raises."""
import numpy as np
import pytest
import torch

import fastdl
from fastdl.testing import gradcheck

rng = np.random.default_rng(20261129)  # fixed: the same inputs on every run (CI must not flake)


def _pair(shape, dtype=np.float64, requires_grad=True):
    a = rng.standard_normal(shape).astype(dtype)
    return (fastdl.tensor(a.copy(), requires_grad=requires_grad),
            torch.tensor(a.copy(), requires_grad=requires_grad))


def _close(ours, theirs, **kw):
    np.testing.assert_allclose(np.asarray(ours.detach().numpy() if hasattr(ours, "detach")
                                          else ours),
                               theirs.detach().numpy(), rtol=1e-6, atol=1e-8, **kw)


def _compare(fn_ours, fn_torch, shapes, check_grad=True):
    pairs = [_pair(s) for s in shapes]
    out, ref = fn_ours(*[p[0] for p in pairs]), fn_torch(*[p[1] for p in pairs])
    _close(out, ref)
    if check_grad:
        seed = rng.standard_normal(ref.shape)
        out.backward(fastdl.tensor(seed))
        ref.backward(torch.tensor(seed))
        for ours, theirs in pairs:
            _close(ours.grad, theirs.grad)
        assert gradcheck(fn_ours, [fastdl.tensor(p[0].detach().numpy(), requires_grad=True)
                                   for p in pairs])


@pytest.mark.parametrize("value", [1, 0.5, -2])
def test_addcmul_addcdiv_broadcast(value):
    _compare(lambda x, a, b: fastdl.addcmul(x, a, b, value=value),
             lambda x, a, b: torch.addcmul(x, a, b, value=value), [(3, 1), (1, 4), (3, 4)])
    _compare(lambda x, a, b: x.addcdiv(a, b + 3, value=value),
             lambda x, a, b: x.addcdiv(a, b + 3, value=value), [(2, 5), (5,), (2, 1)])


def test_addcdiv_of_integers_raises_like_torch():
    i = [1, 2]
    with pytest.raises(RuntimeError, match="Integer division"):
        torch.addcdiv(torch.ones(2), torch.tensor(i), torch.tensor(i))
    with pytest.raises(RuntimeError, match="Integer division"):
        fastdl.addcdiv(fastdl.ones(2), fastdl.tensor(i), fastdl.tensor(i))


@pytest.mark.parametrize("name", ["addcmul", "addcdiv"])
def test_addcmul_addcdiv_compute_in_the_common_dtype(name):
    """torch promotes the three tensors (0-d ones only by category) and computes in that dtype,
    value included: truncated to an integer for integer tensors, 1 for True. Bool raises."""
    cases = [((2, 3), np.float64, (2, 3), np.float32, (1, 3), np.float32, 3.14),
             ((2, 3), np.float32, (2, 3), np.float64, (), np.float64, True),
             ((), np.float64, (2, 3), np.float32, (2, 3), np.int64, -3),
             ((2, 3), np.int64, (), np.float64, (2, 3), np.int32, 0.5),
             ((2, 3), np.int64, (2, 3), np.int64, (2, 3), np.int32, 3.9),
             ((2, 3), np.float32, (2, 3), np.bool_, (2, 3), np.float64, False)]
    for s0, d0, s1, d1, s2, d2, value in cases:
        arrays = [(rng.uniform(1, 4, s) * rng.choice([-1, 1], s)).astype(d)
                  for s, d in ((s0, d0), (s1, d1), (s2, d2))]
        try:
            ref = getattr(torch, name)(*map(torch.tensor, arrays), value=value)
        except RuntimeError as e:  # addcdiv of two integer tensors
            with pytest.raises(RuntimeError, match=str(e)[:20]):
                getattr(fastdl, name)(*map(fastdl.tensor, arrays), value=value)
            continue
        out = getattr(fastdl, name)(*map(fastdl.tensor, arrays), value=value)
        assert out.dtype == ref.numpy().dtype, (s0, d0, s1, d1, s2, d2)
        np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6 if
                                   ref.dtype == torch.float32 else 1e-15)
    flags = [np.array([True, False])] * 3  # addcmul: not implemented for Bool; addcdiv:
    with pytest.raises(RuntimeError) as theirs:  # integer division
        getattr(torch, name)(*map(torch.tensor, flags))
    with pytest.raises(type(theirs.value), match=str(theirs.value)[:18]):
        getattr(fastdl, name)(*map(fastdl.tensor, flags))


@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 2), (0, 1)])
def test_addmm(beta, alpha):
    _compare(lambda x, a, b: fastdl.addmm(x, a, b, beta=beta, alpha=alpha),
             lambda x, a, b: torch.addmm(x, a, b, beta=beta, alpha=alpha),
             [(1, 5), (3, 4), (4, 5)])


def test_addmm_beta_zero_ignores_nan():
    x = np.full((2, 2), np.nan)
    assert not np.isnan(fastdl.addmm(fastdl.tensor(x), fastdl.eye(2, dtype=fastdl.float64),
                                     fastdl.eye(2, dtype=fastdl.float64), beta=0).numpy()).any()


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_add_copy_fill(dim):
    shape = (4, 5)
    n = shape[dim]
    index = rng.permutation(n)[:3]
    source_shape = list(shape)
    source_shape[dim] = 3
    fi, ti = fastdl.tensor(index), torch.tensor(index)
    _compare(lambda x, s: fastdl.index_add(x, dim, fi, s, alpha=2),
             lambda x, s: torch.index_add(x, dim, ti, s, alpha=2), [shape, source_shape])
    _compare(lambda x, s: x.index_copy(dim, fi, s), lambda x, s: x.index_copy(dim, ti, s),
             [shape, source_shape])
    _compare(lambda x: x.index_fill(dim, fi, -1.5), lambda x: x.index_fill(dim, ti, -1.5),
             [shape])
    repeated = np.array([0, 1, 0, 0])
    _compare(lambda x, s: x.index_add(0, fastdl.tensor(repeated), s),
             lambda x, s: x.index_add(0, torch.tensor(repeated), s), [(2, 3), (4, 3)])


def test_index_family_errors():
    x = fastdl.zeros(3, 2)
    with pytest.raises(RuntimeError):  # torch's kernel for 2+ dims: RuntimeError
        x.index_add(0, fastdl.tensor([3]), fastdl.ones(1, 2))
    with pytest.raises(IndexError):  # one index, two source slices
        x.index_copy(0, fastdl.tensor([0]), fastdl.ones(2, 2))
    with pytest.raises(RuntimeError):
        x.index_add(0, fastdl.tensor([0]), fastdl.ones(1, 2, dtype=fastdl.float64))
    with pytest.raises(IndexError, match="Expected dtype int64 for index"):  # as torch
        x.index_fill(0, fastdl.tensor([0.0]), 1.0)


def test_take():
    index = np.array([[0, 11], [-1, 5]])
    _compare(lambda x: fastdl.take(x, fastdl.tensor(index)),
             lambda x: torch.take(x, torch.tensor(index)), [(3, 4)])
    with pytest.raises(IndexError):
        fastdl.take(fastdl.zeros(3), fastdl.tensor([3]))


def _with_nans(shape):
    a = rng.standard_normal(shape)
    a[rng.random(shape) < 0.3] = np.nan
    return fastdl.tensor(a.copy(), requires_grad=True), torch.tensor(a.copy(), requires_grad=True)


@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, False), (-1, True), ((0, 2), False)])
def test_nansum_nanmean(dim, keepdim):
    for name in ("nansum", "nanmean"):
        x, tx = _with_nans((3, 4, 5))
        kwargs = {} if dim is None else {"dim": dim, "keepdim": keepdim}
        out, ref = getattr(fastdl, name)(x, **kwargs), getattr(torch, name)(tx, **kwargs)
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12,
                                   equal_nan=True)
        out.sum().backward() if name == "nansum" else fastdl.nansum(out).backward()
        (ref.sum() if name == "nansum" else ref.nansum()).backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, equal_nan=True)


def test_nan_reductions_dtypes():
    assert fastdl.nansum(fastdl.tensor([1, 2])).item() == torch.nansum(torch.tensor([1, 2]))
    with pytest.raises(RuntimeError):
        fastdl.nanmean(fastdl.tensor([1, 2]))


@pytest.mark.parametrize("dim", [None, 0, -1])
def test_aminmax_var_mean_std_mean(dim):
    x, tx = _pair((4, 3), requires_grad=False)
    kw = {} if dim is None else {"dim": dim}
    for ours, theirs in zip(fastdl.aminmax(x, **kw), torch.aminmax(tx, **kw)):
        _close(ours, theirs)
    for name in ("var_mean", "std_mean"):
        for ours, theirs in zip(getattr(fastdl, name)(x, dim, keepdim=True, correction=0),
                                getattr(torch, name)(tx, dim, keepdim=True, correction=0)):
            _close(ours, theirs)


@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cummax_cummin(name, dim):
    x, tx = _pair((4, 6))
    out, ref = getattr(x, name)(dim), getattr(tx, name)(dim)
    _close(out.values, ref.values)
    assert out.indices.tolist() == ref.indices.tolist()
    seed = rng.standard_normal(ref.values.shape)
    out.values.backward(fastdl.tensor(seed))
    ref.values.backward(torch.tensor(seed))
    _close(x.grad, tx.grad)
    assert gradcheck(lambda t: getattr(fastdl, name)(t, dim).values,
                     [fastdl.tensor(x.detach().numpy(), requires_grad=True)])


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_ties_and_nan_like_torch(name):
    a = np.array([1.0, 1.0, np.nan, 2.0, np.nan, 0.0, 3.0])
    out, ref = getattr(fastdl, name)(fastdl.tensor(a), 0), getattr(torch, name)(torch.tensor(a), 0)
    np.testing.assert_array_equal(out.values.numpy(), ref.values.numpy())
    assert out.indices.tolist() == ref.indices.tolist()
    ints = np.array([2, 2, 1, 3, 3])
    out, ref = getattr(fastdl, name)(fastdl.tensor(ints), 0), getattr(torch, name)(
        torch.tensor(ints), 0)
    assert out.values.tolist() == ref.values.tolist()
    assert out.indices.tolist() == ref.indices.tolist()


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, -1])
def test_kthvalue_median_nanmedian(dim, keepdim):
    for k in (1, 2, 4):
        x, tx = _pair((4, 5, 3) if dim == 0 else (3, 5, 4))
        out, ref = fastdl.kthvalue(x, k, dim, keepdim), torch.kthvalue(tx, k, dim, keepdim)
        _close(out.values, ref.values)
        assert out.indices.tolist() == ref.indices.tolist()
        out.values.sum().backward()
        ref.values.sum().backward()
        _close(x.grad, tx.grad)
    for name in ("median", "nanmedian"):
        x, tx = _with_nans((5, 6))
        out, ref = getattr(x, name)(dim, keepdim), getattr(tx, name)(dim, keepdim)
        np.testing.assert_array_equal(out.values.detach().numpy(), ref.values.detach().numpy())
        # where the value is NaN, torch's index is one of the NaNs: check the picked value
        picked = np.take_along_axis(x.detach().numpy(), np.asarray(
            out.indices.numpy() if keepdim else np.expand_dims(out.indices.numpy(), dim)), dim)
        np.testing.assert_array_equal(picked.squeeze() if not keepdim else picked,
                                      out.values.detach().numpy())


def test_median_without_dim_shares_the_gradient_among_ties():
    a = np.array([[3.0, 1.0, 2.0], [2.0, 5.0, 2.0]])
    for name in ("median", "nanmedian"):
        x, tx = fastdl.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        out, ref = getattr(fastdl, name)(x), getattr(torch, name)(tx)
        assert out.item() == ref.item()
        out.backward()
        ref.backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    assert np.isnan(fastdl.median(fastdl.tensor([1.0, np.nan])).item())
    assert fastdl.nanmedian(fastdl.tensor([1.0, np.nan, 3.0])).item() == 1.0


def test_mode_like_torch():
    a = rng.integers(0, 4, size=(5, 7))
    for dim in (0, 1, -1):
        out, ref = fastdl.mode(fastdl.tensor(a), dim), torch.mode(torch.tensor(a), dim)
        assert out.values.tolist() == ref.values.tolist()
        np.testing.assert_array_equal(
            np.take_along_axis(a, np.expand_dims(out.indices.numpy(), dim), dim).squeeze(dim),
            out.values.numpy())


def test_selection_errors():
    with pytest.raises(IndexError):
        fastdl.kthvalue(fastdl.zeros(3), 4)
    with pytest.raises(IndexError):
        fastdl.median(fastdl.zeros(2, 0), 1)
    with pytest.raises(IndexError):
        fastdl.cummax(fastdl.zeros(2), 1)


def test_pointwise_logaddexp_hypot():
    _compare(fastdl.logaddexp, torch.logaddexp, [(3, 1), (4,)])
    _compare(lambda a, b: fastdl.hypot(a, b), torch.hypot, [(2, 3), (3,)])
    big = fastdl.tensor([1000.0, -np.inf, np.inf])
    ref = torch.logaddexp(torch.tensor([1000.0, -np.inf, np.inf]),
                          torch.tensor([1000.0, -np.inf, 1.0]))
    np.testing.assert_allclose(fastdl.logaddexp(big, fastdl.tensor([1000.0, -np.inf, 1.0])).numpy(),
                               ref.numpy())


def test_trace_diff():
    _compare(fastdl.trace, torch.trace, [(3, 5)])
    for n, dim in ((1, -1), (2, 0), (3, 1)):
        _compare(lambda x: x.diff(n, dim), lambda x: x.diff(n, dim), [(5, 6)])
    _compare(lambda x, p, q: fastdl.diff(x, 1, 0, p, q), lambda x, p, q: torch.diff(x, 1, 0, p, q),
             [(3, 2), (1, 2), (2, 2)])
    b = np.array([True, False, False, True])
    assert fastdl.diff(fastdl.tensor(b)).tolist() == torch.diff(torch.tensor(b)).tolist()
    with pytest.raises(RuntimeError):
        fastdl.trace(fastdl.zeros(3))


def test_moveaxis_swapdims_aliases():
    x = fastdl.zeros(2, 3, 4)
    assert fastdl.moveaxis(x, 0, -1).shape == (3, 4, 2) and x.swapdims(0, 2).shape == (4, 3, 2)


# ---- in-place variants ----
INPLACE = [
    ("fmod_", lambda t, mod: (mod.tensor([2.5, -1.5, 3.0]),)),
    ("remainder_", lambda t, mod: (1.5,)),
    ("clamp_min_", lambda t, mod: (0.1,)),
    ("clamp_max_", lambda t, mod: (-0.2,)),
    ("lerp_", lambda t, mod: (mod.tensor([1.0, 2.0, 3.0], dtype=t.dtype), 0.25)),
    ("addcmul_", lambda t, mod: (mod.tensor([1.0, 2.0, 3.0], dtype=t.dtype),
                                 mod.tensor([0.5, 2.0, -1.0], dtype=t.dtype))),
    ("addcdiv_", lambda t, mod: (mod.tensor([1.0, 2.0, 3.0], dtype=t.dtype),
                                 mod.tensor([0.5, 2.0, -1.0], dtype=t.dtype))),
    ("index_add_", lambda t, mod: (1, mod.tensor([0, 2, 0]), mod.ones(2, 3, dtype=t.dtype))),
    ("index_copy_", lambda t, mod: (1, mod.tensor([2, 0]), mod.ones(2, 2, dtype=t.dtype))),
    ("index_fill_", lambda t, mod: (1, mod.tensor([1]), 7.0)),
]


@pytest.mark.parametrize("name,args", INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_variants_match_torch(name, args):
    shape = (2, 3) if name.startswith("index") else (3,)
    x, tx = _pair(shape, requires_grad=False)
    out = getattr(x, name)(*args(x, fastdl))
    ref = getattr(tx, name)(*args(tx, torch))
    assert out is x
    _close(x, tx)
    # through a non-leaf: gradients flow to the tensor before the update, as in torch
    y, ty = _pair(shape)
    z, tz = y * 2, ty * 2
    getattr(z, name)(*args(z, fastdl))
    getattr(tz, name)(*args(tz, torch))
    seed = rng.standard_normal(shape)
    z.backward(fastdl.tensor(seed))
    tz.backward(torch.tensor(seed))
    _close(y.grad, ty.grad)
    # a leaf that requires grad refuses, as in torch
    leaf, tleaf = _pair(shape)
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(tleaf, name)(*args(tleaf, torch))
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(leaf, name)(*args(leaf, fastdl))


def test_inplace_result_must_keep_the_dtype():
    with pytest.raises(RuntimeError, match="can't be cast"):
        torch.tensor([1, 2]).fmod_(1.5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        fastdl.tensor([1, 2]).fmod_(1.5)
    with pytest.raises(RuntimeError):
        fastdl.zeros(3).addcmul_(fastdl.ones(2, 3), fastdl.ones(3))
