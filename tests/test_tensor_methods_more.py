"""The Tensor methods of fastdl.functional.tensor_methods_more against torch 2.13 on fresh random
inputs: in-place composites (values, identity, versions, gradients through a clone, errors),
metadata queries, the legacy ``new``, deprecated ``resize`` and the apply_/map_/map2_ callbacks."""
import warnings

import numpy as np
import pytest
import torch

import fastdl
from fastdl.testing import gradcheck

rng = np.random.default_rng(20261130)  # fixed: the same inputs on every run (CI must not flake)


def _both(shape, dtype=np.float64):
    a = (rng.standard_normal(shape) * 3).astype(dtype)
    return fastdl.tensor(a.copy()), torch.tensor(a.copy())


def _close(ours, theirs):
    theirs = theirs.detach().numpy()
    ours = np.asarray(ours.detach().numpy())
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


# (method, self shape, other argument shapes, keyword arguments)
INPLACE_CASES = [
    ("addbmm", (3, 5), [(4, 3, 2), (4, 2, 5)], {"beta": 0.5, "alpha": 2}),
    ("addmm", (3, 5), [(3, 7), (7, 5)], {"beta": 2, "alpha": -1}),
    ("addmv", (3,), [(3, 4), (4,)], {"alpha": 3}),
    ("addr", (3, 4), [(3,), (4,)], {"beta": 0}),
    ("baddbmm", (2, 3, 5), [(2, 3, 4), (2, 4, 5)], {"alpha": 0.5}),
    ("cumprod", (3, 5), [], {"dim": 1}),
    ("cumsum", (2, 3, 4), [], {"dim": -2}),
    ("renorm", (4, 3), [], {"p": 2, "dim": 0, "maxnorm": 1.5}),
    ("tril", (4, 5), [], {"diagonal": 1}),
    ("triu", (2, 5, 3), [], {"diagonal": -1}),
    ("float_power", (3, 4), [(3, 4)], {}),
]


@pytest.mark.parametrize("name,shape,others,kwargs", INPLACE_CASES, ids=[c[0] for c in
                                                                        INPLACE_CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inplace_values_identity_and_version(name, shape, others, kwargs, dtype):
    if name == "float_power" and dtype == np.float32:
        pytest.skip("float_power_ of float32 raises: test_inplace_errors_like_torch")
    x, tx = _both(shape, dtype)
    if name == "float_power":  # a positive base keeps the powers real
        x, tx = x.abs() + 0.5, tx.abs() + 0.5
    args = [_both(s, dtype) for s in others]
    before = x._version
    out = getattr(x, name + "_")(*[a for a, _ in args], **kwargs)
    ref = getattr(tx, name + "_")(*[b for _, b in args], **kwargs)
    assert out is x
    assert x._version > before
    _close(x, ref)


@pytest.mark.parametrize("name,shape,others,kwargs", INPLACE_CASES, ids=[c[0] for c in
                                                                        INPLACE_CASES])
def test_inplace_gradients_through_a_clone(name, shape, others, kwargs):
    x, tx = _both(shape)
    if name == "float_power":
        x, tx = x.abs() + 0.5, tx.abs() + 0.5
    args = [_both(s) for s in others]
    leaves = [x.requires_grad_()] + [a.requires_grad_() for a, _ in args]
    tleaves = [tx.requires_grad_()] + [b.requires_grad_() for _, b in args]
    y = x.clone()
    ty = tx.clone()
    getattr(y, name + "_")(*leaves[1:], **kwargs)
    getattr(ty, name + "_")(*tleaves[1:], **kwargs)
    seed = rng.standard_normal(tuple(ty.shape))
    (y * fastdl.tensor(seed)).sum().backward()
    (ty * torch.tensor(seed)).sum().backward()
    for ours, theirs in zip(leaves, tleaves):
        _close(ours.grad, theirs.grad)


@pytest.mark.parametrize("name,shape,others,kwargs", INPLACE_CASES, ids=[c[0] for c in
                                                                        INPLACE_CASES])
def test_inplace_gradcheck_float64(name, shape, others, kwargs):
    """Finite differences through ``clone().{name}_(...)``, every input perturbed."""
    def fn(x, *args):
        return getattr(x.clone(), name + "_")(*args, **kwargs)

    x = fastdl.tensor(rng.standard_normal(shape))
    if name == "float_power":
        x = x.abs() + 0.5
    inputs = [x] + [fastdl.tensor(rng.standard_normal(s)) for s in others]
    assert gradcheck(fn, [t.requires_grad_() for t in inputs])


@pytest.mark.parametrize("name,args", [("cumsum", (0,)), ("tril", ()), ("addmv", None)])
def test_inplace_on_a_leaf_that_requires_grad_raises(name, args):
    x = fastdl.ones(3, 3, requires_grad=True)
    tx = torch.ones(3, 3, requires_grad=True)
    if args is None:
        x, tx = fastdl.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
        args_ours, args_torch = (fastdl.ones(3, 2), fastdl.ones(2)), (torch.ones(3, 2),
                                                                        torch.ones(2))
    else:
        args_ours = args_torch = args
    with pytest.raises(RuntimeError, match="leaf Variable"):
        getattr(tx, name + "_")(*args_torch)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        getattr(x, name + "_")(*args_ours)


def test_inplace_on_a_view_writes_the_base():
    base, tbase = _both((4, 5))
    base.t().tril_()
    tbase.t().tril_()
    _close(base, tbase)
    col, tcol = base[:, 1], tbase[:, 1]
    col.cumsum_(0)
    tcol.cumsum_(0)
    _close(base, tbase)


def test_integer_inplace_keeps_the_dtype():
    a = rng.integers(-5, 5, (3, 4))
    for dt in (np.int32, np.int64):
        x, tx = fastdl.tensor(a.astype(dt)), torch.tensor(a.astype(dt))
        _close(x.cumsum_(1), tx.cumsum_(1))
        _close(x.cumprod_(0), tx.cumprod_(0))
        _close(x.triu_(), tx.triu_())


def _raise_both(fn_ours, fn_torch, exc=RuntimeError, match=None):
    with pytest.raises(exc, match=match):
        fn_torch()
    with pytest.raises(exc, match=match):
        fn_ours()


def test_inplace_errors_like_torch():
    _raise_both(lambda: fastdl.ones(3).float_power_(2), lambda: torch.ones(3).float_power_(2),
                match="float_power_ has dtype")
    _raise_both(lambda: fastdl.ones(3, dtype=fastdl.int64).float_power_(2),
                lambda: torch.ones(3, dtype=torch.int64).float_power_(2),
                match="float_power_ has dtype")
    _raise_both(lambda: fastdl.ones(3).cumsum_(0, dtype=fastdl.float64),
                lambda: torch.ones(3).cumsum_(0, dtype=torch.float64), match="Bad in-place")
    _raise_both(lambda: fastdl.ones(1, 3).addmm_(fastdl.ones(2, 4), fastdl.ones(4, 3)),
                lambda: torch.ones(1, 3).addmm_(torch.ones(2, 4), torch.ones(4, 3)),
                match="Bad in-place")
    _raise_both(lambda: fastdl.ones(1, 3).baddbmm_(fastdl.ones(2, 2, 4), fastdl.ones(2, 4, 3)),
                lambda: torch.ones(1, 3).baddbmm_(torch.ones(2, 2, 4), torch.ones(2, 4, 3)),
                match="Bad in-place")
    _raise_both(lambda: fastdl.ones(3).tril_(), lambda: torch.ones(3).tril_())
    _raise_both(lambda: fastdl.ones(1).masked_scatter_(fastdl.ones(3) > 0, fastdl.ones(5)),
                lambda: torch.ones(1).masked_scatter_(torch.ones(3) > 0, torch.ones(5)))


def test_float_power_inplace_of_float64():
    x, tx = _both((2, 3))
    e = rng.integers(0, 4, (2, 3)).astype(np.float64)
    _close(x.float_power_(fastdl.tensor(e)), tx.float_power_(torch.tensor(e)))


def test_masked_scatter_inplace():
    x, tx = _both((3, 4))
    m = rng.random((4,)) > 0.5
    src, tsrc = _both((12,))
    out = x.masked_scatter_(fastdl.tensor(m), src)
    assert out is x
    _close(x, tx.masked_scatter_(torch.tensor(m), tsrc))


def test_as_strided_inplace():
    a = rng.standard_normal(10)
    x, tx = fastdl.tensor(a.copy()), torch.tensor(a.copy())
    v = x._version
    assert x.as_strided_((3, 2), (2, 3), 1) is x
    tx.as_strided_((3, 2), (2, 3), 1)
    _close(x, tx)
    assert x._version == v + 1
    assert x.stride() == tx.stride() and x.storage_offset() == tx.storage_offset()
    leaf, tleaf = fastdl.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    _raise_both(lambda: leaf.as_strided_((2,), (1,)), lambda: tleaf.as_strided_((2,), (1,)),
                match="leaf Variable")
    y, ty = leaf * 2, tleaf * 2
    y.as_strided_((3, 3), (3, 1), 1)
    ty.as_strided_((3, 3), (3, 1), 1)
    seed = rng.standard_normal((3, 3))
    (y * fastdl.tensor(seed)).sum().backward()
    (ty * torch.tensor(seed)).sum().backward()
    _close(leaf.grad, tleaf.grad)


def test_out_of_place_aliases():
    a, ta = _both((2, 4, 3))
    _close(a.adjoint(), ta.adjoint())
    _raise_both(lambda: fastdl.ones(3).adjoint(), lambda: torch.ones(3).adjoint(),
                match="only supported on matrices")
    _close((a > 0).nonzero_static(size=30, fill_value=-7),
           (ta > 0).nonzero_static(size=30, fill_value=-7))
    i = rng.integers(-9, 9, (3, 5))
    _close(fastdl.tensor(i).hash_tensor(1), torch.tensor(i).hash_tensor(1))
    src, tsrc = _both((2, 2))
    _close(a.as_strided_scatter(src, (2, 2), (3, 5), 2), ta.as_strided_scatter(tsrc, (2, 2),
                                                                                (3, 5), 2))
    q, tau = torch.geqrf(torch.tensor(rng.standard_normal((5, 3))))
    other, tother = _both((5, 2))
    _close(fastdl.tensor(q.numpy()).ormqr(fastdl.tensor(tau.numpy()), other, True, True),
           q.ormqr(tau, tother, True, True))


def test_resize_and_resize_as_deprecated_forms():
    x, tx = _both((2, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _close(x.resize(3, 4), tx.resize(3, 4))
        _close(x.t().resize(12), tx.t().resize(12))
        _close(x.resize_as(fastdl.ones(4, 3)), tx.resize_as(torch.ones(4, 3)))
        for sizes in [(5, 2), ((3, 4),), (-1, 12)]:
            _raise_both(lambda: x.resize(*sizes), lambda: tx.resize(*sizes),
                        match="requested resize")
    with pytest.warns(UserWarning, match="non-inplace resize is deprecated"):
        x.resize(12)
    leaf, tleaf = fastdl.tensor(x.numpy(), requires_grad=True), tx.clone().requires_grad_()
    seed = rng.standard_normal((4, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (leaf.resize(4, 3) * fastdl.tensor(seed)).sum().backward()
        (tleaf.resize(4, 3) * torch.tensor(seed)).sum().backward()
    _close(leaf.grad, tleaf.grad)


def test_legacy_new():
    x, tx = _both((2, 3), np.float32)
    for args in [(2, 3), ((4, 1),), ()]:
        assert tuple(x.new(*args).shape) == tuple(tx.new(*args).shape)
        assert x.new(*args).dtype == np.float32
    _close(x.new([[1, 2], [3, 4]]), tx.new([[1, 2], [3, 4]]))
    _close(fastdl.ones(1, dtype=fastdl.int32).new([1.5, -2.7]),
           torch.ones(1, dtype=torch.int32).new([1.5, -2.7]))
    assert x.new(x).data_ptr() == x.data_ptr() and x.new(x) is not x
    _raise_both(lambda: x.new(fastdl.ones(2, dtype=fastdl.int64)),
                lambda: tx.new(torch.ones(2, dtype=torch.int64)), exc=TypeError)
    _raise_both(lambda: x.new(2.5), lambda: tx.new(2.5), exc=TypeError, match="sequence")
    _raise_both(lambda: x.new(2, 3.0), lambda: tx.new(2, 3.0), exc=TypeError)
    _raise_both(lambda: x.new(-1), lambda: tx.new(-1), match="negative dimension")


def test_metadata_queries():
    x, tx = _both((4, 5, 3), np.float32)
    views = [lambda t: t, lambda t: t[1], lambda t: t[:, 2], lambda t: t[1:, 3:, 1:],
             lambda t: t.transpose(0, 2), lambda t: t[..., 1], lambda t: t[:, :1]]
    for view in views:
        v, tv = view(x), view(tx)
        assert v.storage_offset() == tv.storage_offset()
        assert v.dim_order() == tv.dim_order()
        assert (v.nbytes, v.itemsize, v.ndimension()) == (tv.nbytes, tv.itemsize,
                                                          tv.ndimension())
        assert v.is_set_to(view(x)) == tv.is_set_to(view(tx))
        assert v.const_data_ptr() == v.data_ptr()
    assert x.is_set_to(x.view(60)) == tx.is_set_to(tx.view(60))
    assert x.is_set_to(x.clone()) == tx.is_set_to(tx.clone())
    for shape in [(2, 1), (3, 3, 1)]:
        _raise_both(lambda: fastdl.ones(*shape).dim_order(ambiguity_check=True),
                    lambda: torch.ones(*shape).dim_order(ambiguity_check=True),
                    match="unique dim order")
    p = rng.permutation(4)
    y = fastdl.ones(2, 3, 4, 5).permute(*p)
    assert y.dim_order() == torch.ones(2, 3, 4, 5).permute(*p).dim_order()
    assert str(x.layout) == "fastdl.strided" and x.layout is fastdl.strided
    flags = ["is_cpu", "is_sparse", "is_sparse_csr", "is_meta", "is_nested", "is_quantized",
             "output_nr", "name"]
    assert [getattr(x, f) for f in flags] == [getattr(tx, f) for f in flags]
    assert (x.is_complex(), x.is_pinned(), x.to_dense() is x) == (
        tx.is_complex(), tx.is_pinned(), tx.to_dense() is tx)
    for dt in ("float32", "int64", "uint8", "bool", "int8"):
        assert fastdl.ones(1, dtype=getattr(fastdl, dt)) \
            .is_signed() == torch.ones(1, dtype=getattr(torch, dt)).is_signed()


def test_pin_memory_and_share_memory():
    x, tx = _both((3,))
    if not torch.cuda.is_available() and not fastdl.cuda.is_available():
        _raise_both(lambda: x.pin_memory(), lambda: tx.pin_memory(), match="accelerator")
    assert x.is_shared() == tx.is_shared() == False  # noqa: E712
    before = x.numpy().copy()
    assert x.share_memory_() is x and tx.share_memory_() is tx
    assert x.is_shared() and tx.is_shared() and x[1:].is_shared()
    np.testing.assert_array_equal(x.numpy(), before)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8", "bool"])
def test_apply_map_map2(dtype):
    a, b, c = (rng.integers(0, 3, s) for s in [(3, 4), (4,), (3, 1)])
    fd = getattr(fastdl, dtype)
    td = getattr(torch, dtype)
    mk = [(fastdl.tensor(v).to(fd), torch.tensor(v).to(td)) for v in (a, b, c)]
    (x, tx), (y, ty), (z, tz) = mk
    seen, tseen = [], []
    assert x.apply_(lambda v: seen.append(type(v)) or v * 3 + 0.5) is x
    tx.apply_(lambda v: tseen.append(type(v)) or v * 3 + 0.5)
    assert seen == tseen
    _close(x, tx)
    assert x.map_(y, lambda p, q: p + 2 * q) is x
    tx.map_(ty, lambda p, q: p + 2 * q)
    _close(x, tx)
    assert x.map2_(y, z, lambda p, q, r: p - q * r) is x
    tx.map2_(ty, tz, lambda p, q, r: p - q * r)
    _close(x, tx)


def test_apply_errors_and_versions():
    x, tx = _both((2, 3))
    v, tv = x._version, tx._version
    x.apply_(float)
    tx.apply_(float)
    assert x._version - v == tx._version - tv
    _raise_both(lambda: x.apply_(lambda v: "a"), lambda: tx.apply_(lambda v: "a"),
                exc=TypeError, match="must be real number")
    _raise_both(lambda: x.map_(fastdl.ones(2).double(), max),
                lambda: tx.map_(torch.ones(2).double(), max))
    _raise_both(lambda: x.map_(fastdl.ones(3, dtype=fastdl.int64), max),
                lambda: tx.map_(torch.ones(3, dtype=torch.int64), max), exc=TypeError)
    r, tr = x.clone().requires_grad_(), tx.clone().requires_grad_()
    _raise_both(lambda: r.apply_(float), lambda: tr.apply_(float), match="requires grad")
    _raise_both(lambda: fastdl.ones(3, dtype=fastdl.int8).apply_(lambda v: 200),
                lambda: torch.ones(3, dtype=torch.int8).apply_(lambda v: 200),
                match="without overflow")
    for value in (-1, -255, 7.9, -0.5, -256, 255.5):
        for dt in ("uint8", "int8", "int32"):
            try:
                ref = torch.ones(3, dtype=getattr(torch, dt)).apply_(lambda v: value)
            except RuntimeError:
                _raise_both(lambda: fastdl.ones(3, dtype=getattr(fastdl, dt)).apply_(
                    lambda v: value), lambda: torch.ones(3, dtype=getattr(torch, dt)).apply_(
                    lambda v: value), match="without overflow")
            else:
                _close(fastdl.ones(3, dtype=getattr(fastdl, dt)).apply_(lambda v: value), ref)


def test_addbmm_inplace_resizes_a_broadcastable_self_as_torch():
    for shape in [(1, 5), (5,)]:
        x, tx = _both(shape)
        b1, tb1 = _both((2, 3, 4))
        b2, tb2 = _both((2, 4, 5))
        assert x.addbmm_(b1, b2, beta=0.5) is x
        _close(x, tx.addbmm_(tb1, tb2, beta=0.5))
        assert x._version == tx._version
    leaf, tleaf = _both((1, 5))
    leaf.requires_grad_(), tleaf.requires_grad_()
    b1, tb1 = _both((2, 3, 4))
    y, ty = leaf * 1, tleaf * 1
    y.addbmm_(b1.requires_grad_(), fastdl.ones(2, 4, 5, dtype=fastdl.float64), beta=2)
    ty.addbmm_(tb1.requires_grad_(), torch.ones(2, 4, 5, dtype=torch.float64), beta=2)
    seed = rng.standard_normal((3, 5))
    (y * fastdl.tensor(seed)).sum().backward()
    (ty * torch.tensor(seed)).sum().backward()
    _close(leaf.grad, tleaf.grad)
    _close(b1.grad, tb1.grad)
    _raise_both(lambda: fastdl.ones(3, 3).addbmm_(fastdl.ones(2, 2, 4), fastdl.ones(2, 4, 3)),
                lambda: torch.ones(3, 3).addbmm_(torch.ones(2, 2, 4), torch.ones(2, 4, 3)))


def test_addr_inplace_size_mismatch_message():
    _raise_both(lambda: fastdl.ones(1, 4).addr_(fastdl.ones(2), fastdl.ones(4)),
                lambda: torch.ones(1, 4).addr_(torch.ones(2), torch.ones(4)),
                match=r"size mismatch, input: \[1, 4\], v1: \[2\], v2: \[4\]")


@pytest.mark.parametrize("dtypes", [("float32", "float32", "float64"),
                                    ("float32", "float32", "int64"),
                                    ("int64", "int64", "float32"),
                                    ("float32", "float64", "float64"),
                                    ("float64", "float32", "int32")])
def test_baddbmm_inplace_dtype_errors_like_torch(dtypes):
    # torch's result takes batch2's dtype (not the batches' promotion): float32 self and
    # batch1 with an int64 batch2 is reported as a 'long int' output
    def call(lib):
        a, b, c = (getattr(lib, d) for d in dtypes)
        return lambda: lib.ones(1, 2, 2, dtype=a).baddbmm_(lib.ones(1, 2, 2, dtype=b),
                                                          lib.ones(1, 2, 2, dtype=c))
    with pytest.raises(RuntimeError) as theirs:
        call(torch)()
    with pytest.raises(RuntimeError) as ours:
        call(fastdl)()
    assert str(ours.value) == str(theirs.value)


def test_as_strided_inplace_of_a_view_keeps_the_memory_and_counter():
    a = rng.standard_normal(8)
    base, tbase = fastdl.tensor(a.copy()), torch.tensor(a.copy())
    v, tv = base[2:], tbase[2:]
    v.as_strided_((2, 2), (1, 3))
    tv.as_strided_((2, 2), (1, 3))
    _close(v, tv)
    assert (v._version, v.storage_offset()) == (tv._version, tv.storage_offset())
    base.add_(1)
    tbase.add_(1)
    _close(v, tv)  # still reads the base's memory
    assert v._version == tv._version


def test_output_nr_of_multi_output_ops():
    a = rng.standard_normal((4, 3))
    x, tx = fastdl.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    sym, tsym = x[:3] @ x[:3].t(), tx[:3] @ tx[:3].t()
    for ours, theirs in [(fastdl.linalg.qr(x), torch.linalg.qr(tx)),
                         (fastdl.linalg.svd(x), torch.linalg.svd(tx)),
                         (fastdl.linalg.eigh(sym), torch.linalg.eigh(tsym)),
                         (fastdl.sort(x), torch.sort(tx))]:
        assert [o.output_nr for o in ours] == [o.output_nr for o in theirs]


@pytest.mark.parametrize("name,shapes", [
    ("addbmm", ((2, 3), (2, 2, 4), (2, 4, 3))), ("baddbmm", ((2, 2, 3), (2, 2, 4), (2, 4, 3))),
    ("addmm", ((2, 3), (2, 4), (4, 3))), ("addmv", ((2,), (2, 4), (4,))),
    ("addr", ((2, 3), (2,), (3,)))])
@pytest.mark.parametrize("dtypes", [("float64", "float32", "float32"),
                                    ("float32", "float64", "float32"),
                                    ("float32", "float32", "float64"),
                                    ("int64", "float32", "float32")])
def test_mixed_dtypes_like_torch(name, shapes, dtypes):
    """torch promotes in addr only; the others raise, in place too (never a silent cast)."""
    for suffix in ("", "_"):
        def call(lib):
            ts = [lib.ones(*s, dtype=getattr(lib, d)) for s, d in zip(shapes, dtypes)]
            return getattr(ts[0], name + suffix)(*ts[1:])
        try:
            ref = call(torch)
        except RuntimeError as e:
            with pytest.raises(RuntimeError) as ours:
                call(fastdl)
            assert str(ours.value) == str(e)
        else:
            _close(call(fastdl), ref)
