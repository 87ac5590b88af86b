"""Edge cases checked against torch itself: index tensors of every integer dtype (byte ones
as masks), torch's messages for float indices and ill-fitting masks, the masked_fill_ path
of ``x[mask] = scalar``, the index dtype messages of gather/scatter/index_select/index_copy."""
import warnings

import numpy as np
import pytest
import torch

import fastdl


def _outcome(lib, fn):
    """What ``fn(lib)`` gives: ('ok', dtype, shape, values) or (exception type, message)."""
    try:
        r = fn(lib)
    except Exception as e:  # the comparison is the point: any exception must match torch's
        return type(e).__name__, str(e)
    return "ok", str(r.dtype).split(".")[-1], tuple(r.shape), r.tolist()


def _same_as_torch(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want, got = _outcome(torch, fn), _outcome(fastdl, fn)
    assert got == want


def _x(L):
    return L.arange(12.0).reshape(3, 4)


def _assigned(key, value):
    def fn(L):
        x = _x(L)
        x[key(L)] = value(L) if callable(value) else value
        return x
    return fn


_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "bool"]
_VALUES = {"bool": [1, 0, 1]}


def _idx(dtype, values=(0, 2, 2)):
    return lambda L: L.tensor(list(_VALUES.get(dtype, values)), dtype=getattr(L, dtype))


@pytest.mark.parametrize("dtype", _DTYPES)
def test_index_tensor_dtypes_read(dtype):
    # int8/int16 (and float) tensors cannot index; uint8 ones are masks, as bool ones
    idx = _idx(dtype, (1, 0, 1))
    _same_as_torch(lambda L: _x(L)[idx(L)])
    _same_as_torch(lambda L: _x(L)[:, idx(L)[:2].repeat(2) if dtype in ("uint8", "bool")
                                    else idx(L)])
    _same_as_torch(lambda L: _x(L)[idx(L), L.tensor([0, 1, 3])])


@pytest.mark.parametrize("dtype", _DTYPES)
@pytest.mark.parametrize("value", [5.0, lambda L: L.tensor(5.0), lambda L: L.ones(4)])
def test_index_tensor_dtypes_write(dtype, value):
    # with a one-element value a lone byte mask goes to masked_fill_, which refuses it
    _same_as_torch(_assigned(_idx(dtype, (1, 0, 1)), value))


@pytest.mark.parametrize("dtype", _DTYPES)
@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("values", [lambda L: L.tensor(5.0), lambda L: L.ones(4)])
def test_index_put_dtypes(dtype, accumulate, values):
    idx = _idx(dtype, (1, 0, 1))
    _same_as_torch(lambda L: _x(L).index_put_((idx(L),), values(L), accumulate=accumulate))
    _same_as_torch(lambda L: L.index_put(_x(L), (idx(L),), values(L), accumulate=accumulate))


@pytest.mark.parametrize("dtype, v", [(d, v) for d in _DTYPES for v in (0, 1, 2)
                                       if d != "bool" or v < 2])
def test_zero_dim_index_tensors(dtype, v):
    # 0-d integer tensors of any width select; 0-d byte and bool ones are scalar masks
    i = lambda L: L.tensor(v, dtype=getattr(L, dtype))  # noqa: E731
    _same_as_torch(lambda L: _x(L)[i(L)])
    _same_as_torch(lambda L: _x(L)[1, i(L)])
    _same_as_torch(lambda L: _x(L)[i(L), L.tensor([0, 1])])
    _same_as_torch(_assigned(i, 7.0))


def test_uint8_mask_warns_as_torch():
    with pytest.warns(UserWarning, match="indexing with dtype torch.uint8 is now deprecated"):
        _x(fastdl)[fastdl.tensor([1, 0, 1], dtype=fastdl.uint8)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a 0-d byte mask does not warn in torch either
        _x(fastdl)[fastdl.tensor(1, dtype=fastdl.uint8)]


@pytest.mark.parametrize("key", [
    lambda L: L.tensor([0.0, 2.0]), lambda L: L.tensor(1.0), lambda L: (0, L.tensor([1.0])),
    lambda L: 1.0, lambda L: (0, 1.0), lambda L: [L.tensor([0.0])],
])
def test_float_index_messages(key):
    _same_as_torch(lambda L: _x(L)[key(L)])
    _same_as_torch(_assigned(key, 5.0))


@pytest.mark.parametrize("shape, key", [
    ((3, 4), lambda L: L.tensor([True, False])),
    ((3, 4), lambda L: (slice(None), L.tensor([True, False]))),
    ((2, 3, 4), lambda L: L.ones(2, 4, dtype=L.bool)),
    ((2, 3, 4), lambda L: (0, L.ones(2, 4, dtype=L.bool))),
    ((2, 3, 4), lambda L: (None, Ellipsis, L.tensor([True, False, True]))),
    ((2, 3, 4), lambda L: (slice(1, None), L.tensor([True, False]))),
    ((2, 3, 4), lambda L: (None, L.tensor([True, False]), L.tensor([True, False]))),
    ((2, 3, 4), lambda L: (L.tensor(True), L.tensor([True, False, True]))),
    ((3, 4), lambda L: L.tensor([1, 0], dtype=L.uint8)),
])
def test_mask_shape_messages(shape, key):
    def read(L):
        return L.arange(float(np.prod(shape))).reshape(shape)[key(L)]

    def write(L):
        x = L.arange(float(np.prod(shape))).reshape(shape)
        x[key(L)] = 1.0
        return x
    _same_as_torch(read)
    _same_as_torch(write)


@pytest.mark.parametrize("key", [
    lambda L: (Ellipsis, L.tensor([1, 0, 1, 0], dtype=L.uint8)),
    lambda L: (0, L.tensor([1, 0, 1, 0], dtype=L.uint8)),
    lambda L: L.ones(3, 4, dtype=L.uint8),
    lambda L: (L.tensor([1, 0, 1], dtype=L.uint8), slice(None)),
    lambda L: (L.tensor([1, 0, 1], dtype=L.uint8), L.tensor([1, 0, 0, 1], dtype=L.uint8)),
    lambda L: (L.tensor([1, 0, 1], dtype=L.uint8), L.tensor([1, 0])),
])
@pytest.mark.parametrize("value", [5.0, lambda L: L.tensor([5.0]), lambda L: L.ones(1, 1)])
def test_byte_mask_masked_fill_path(key, value):
    _same_as_torch(_assigned(key, value))


@pytest.mark.parametrize("dtype", ["int16", "int32", "int64"])
@pytest.mark.parametrize("op", [
    lambda L, i: _x(L).gather(0, i),
    lambda L, i: L.take_along_dim(_x(L)[:, :2], i, 0),
    lambda L, i: L.take_along_dim(_x(L), i),
    lambda L, i: _x(L).index_select(0, i[0]),
    lambda L, i: _x(L).index_select(0, i[0, :0]),
    lambda L, i: _x(L).scatter(0, i, 1.0),
    lambda L, i: _x(L).scatter_add(0, i, _x(L)[:1, :2]),
    lambda L, i: _x(L).scatter_reduce(0, i, _x(L)[:1, :2], "sum"),
    lambda L, i: _x(L).index_copy(0, i[0, :1], _x(L)[:1]),
    lambda L, i: _x(L).index_add(0, i[0, :1], _x(L)[:1]),
])
def test_index_dtype_messages(dtype, op):
    _same_as_torch(lambda L: op(L, L.tensor([[0, 1]], dtype=getattr(L, dtype))))


# ---- add/sub alpha: checked against the result dtype; a bool result takes it as a bool ----
_OPERANDS = {"b": lambda L: L.tensor([True, False, True]), "i": lambda L: L.tensor([1, 2, 3]),
             "f": lambda L: L.tensor([1.0, 2.0, 3.0]), "b0": lambda L: L.tensor(True),
             "True": lambda L: True, "2": lambda L: 2, "1.5": lambda L: 1.5}


@pytest.mark.parametrize("alpha", [-1, 0, 1, 2, True, False, 0.5])
@pytest.mark.parametrize("fn", ["add", "sub", "rsub"])
@pytest.mark.parametrize("a", ["b", "i", "f"])
@pytest.mark.parametrize("b", ["b", "i", "f", "b0", "True", "2", "1.5"])
def test_add_sub_alpha(alpha, fn, a, b):
    _same_as_torch(lambda L: getattr(L, fn)(_OPERANDS[a](L), _OPERANDS[b](L), alpha=alpha))


@pytest.mark.parametrize("alpha", [-1, 0, 2, True, False, 0.5])
@pytest.mark.parametrize("fn", ["add_", "sub_"])
@pytest.mark.parametrize("a", ["b", "i", "f"])
@pytest.mark.parametrize("b", ["b", "i", "f", "True", "2", "1.5"])
def test_inplace_add_sub_alpha(alpha, fn, a, b):
    # torch's cast check (result type vs self's) comes before its alpha check
    _same_as_torch(lambda L: getattr(_OPERANDS[a](L), fn)(_OPERANDS[b](L), alpha=alpha))


def test_alpha_keeps_gradients():
    a = fastdl.tensor([1.0, 2.0], requires_grad=True)
    t = torch.tensor([1.0, 2.0], requires_grad=True)
    fastdl.add(a, a * 2, alpha=-2).sum().backward()
    torch.add(t, t * 2, alpha=-2).sum().backward()
    assert a.grad.tolist() == t.grad.tolist()


# ---- linear / bilinear shape errors: torch's RuntimeErrors (addmm's, mm's, the bias's) ----
def _ones_linear(xs, ws, bs, transpose=False):
    def fn(L):
        x = L.ones(xs)
        if transpose:
            x = x.transpose(0, 1)
        bias = None if bs is None else L.ones(bs)
        return L.nn.functional.linear(x, L.ones(ws), bias)
    return fn


@pytest.mark.parametrize("xs, ws, bs", [
    ((2, 3), (4, 5), None), ((2, 3), (4, 3), (5,)), ((2, 3), (4, 3), (2, 4)),
    ((2, 3), (4, 3), (3, 4)), ((3,), (4, 5), None), ((3,), (4, 3), (5,)), ((3,), (4, 3), (2, 4)),
    ((2, 3), (4,), None), ((2, 3), (3,), None), ((2, 3), (3,), (2,)), ((3,), (4,), None),
    ((2, 3), (4, 3, 1), None), ((), (4, 3), None), ((2, 3), (), None), ((2, 5, 3), (4, 2), None),
    ((2, 5, 3), (4, 3), (5,)), ((2, 2, 5, 3), (4, 3), (5,)), ((2, 5, 3), (4, 3), (5, 4)),
    ((2, 5, 3), (4, 3), (3, 4)), ((2, 5, 3), (4, 3), (1, 1, 1, 4)), ((2, 3), (4, 3), (1, 1, 4)),
    ((2, 3), (4, 3), (3, 1)), ((2, 3), (4, 3), (2, 1)), ((2, 5, 3), (4, 3), (1, 1)),
    ((3,), (4, 3), (1, 4)),
])
def test_linear_shapes(xs, ws, bs):
    _same_as_torch(_ones_linear(xs, ws, bs))


@pytest.mark.parametrize("bs", [(5,), (3, 5, 4), (2, 1, 4)])
def test_linear_noncontiguous_input(bs):
    _same_as_torch(_ones_linear((5, 2, 3), (4, 3), bs, transpose=True))


@pytest.mark.parametrize("xs, ws, bs", [((3,), (4, 3), (1, 4)), ((2, 5, 3), (4, 3), (5, 4)),
                                        ((2, 3), (3,), None), ((2, 3), (4, 3), (2, 1))])
def test_linear_broadcast_bias_values_and_grads(xs, ws, bs):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s) for s in (xs, ws) + ((bs,) if bs else ())]
    results = []
    for L in (torch, fastdl):
        ts = [L.tensor(a, requires_grad=True) for a in arrays]
        y = L.nn.functional.linear(*ts)
        (y * L.tensor(np.arange(y.numel(), dtype=np.float64).reshape(tuple(y.shape)))).sum() \
            .backward()
        results.append([y.detach().numpy()] + [t.grad.numpy() for t in ts])
    for want, got in zip(*results):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("s1, s2, ws, bs", [
    ((2, 3), (2, 4), (5, 6, 4), None), ((2, 3), (2, 4), (5, 3, 7), None),
    ((2, 3), (3, 4), (5, 3, 4), None), ((2, 3), (2, 4), (5, 3, 4), (6,)),
    ((2, 3), (2, 4), (3, 4), None), ((2, 3), (2, 1, 4), (5, 3, 4), None),
    ((2, 3), (2, 4), (5, 3, 4), (1, 5)), ((2, 3), (2, 4), (5, 3), None),
    ((2, 3), (2, 4), (5, 3, 4, 1), None), ((2, 3), (2, 4), (5, 3, 4), ()),
    ((), (), (5, 3, 4), None), ((2, 3), (2, 4), (4,), None), ((2, 3), (2, 4), (5, 3, 4), (5, 1)),
    ((2, 3), (2, 4), (5, 3, 4), (5,)), ((3,), (4,), (5, 3, 4), (5,)),
])
def test_bilinear_shapes(s1, s2, ws, bs):
    _same_as_torch(lambda L: L.nn.functional.bilinear(
        L.ones(s1), L.ones(s2), L.ones(ws), None if bs is None else L.ones(bs)))


def test_linear_modules_mismatch():
    _same_as_torch(lambda L: L.nn.Linear(3, 4)(L.ones(2, 5)))
    _same_as_torch(lambda L: L.nn.Bilinear(3, 4, 5)(L.ones(2, 3), L.ones(2, 5)))


# ---- einsum: a size-1 subscript broadcasts against the same subscript elsewhere ----
@pytest.mark.parametrize("eq, shapes", [
    ("ij,ij->ij", [(3, 1), (3, 4)]), ("ij,ij->ij", [(3, 4), (1, 4)]), ("ij,ij->i", [(3, 1), (3, 4)]),
    ("ij,jk->ik", [(3, 1), (4, 5)]), ("ij,jk->ik", [(3, 4), (1, 5)]), ("ij,ij", [(1, 1), (3, 4)]),
    ("ij,ij->", [(3, 1), (1, 4)]), ("i,i->", [(1,), (5,)]), ("ij,ji->ij", [(3, 1), (4, 3)]),
    ("...ij,...jk->...ik", [(2, 3, 1), (1, 4, 5)]), ("bij,bjk->bik", [(1, 3, 4), (2, 4, 5)]),
    ("ii,i->i", [(1, 1), (3,)]), ("ij,jk,kl->il", [(2, 1), (3, 4), (1, 5)]),
    ("ij,kj->ik", [(2, 1), (3, 4)]), ("ij,ij,ij->ij", [(3, 1), (3, 1), (3, 2)]),
])
def test_einsum_size_one_broadcasts(eq, shapes):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s) for s in shapes]
    results = []
    for L in (torch, fastdl):
        ts = [L.tensor(a, requires_grad=True) for a in arrays]
        y = L.einsum(eq, *ts)
        (y * L.tensor(np.arange(1, y.numel() + 1, dtype=np.float64).reshape(tuple(y.shape)))) \
            .sum().backward()
        results.append([y.detach().numpy()] + [t.grad.numpy() for t in ts])
    for want, got in zip(*results):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("eq, shapes", [
    ("ii->i", [(1, 3)]), ("ii,i->i", [(3, 4), (3,)]), ("ij,ij->ij", [(3, 2), (3, 4)]),
    ("ij,ij,ij->ij", [(3, 1), (3, 4), (3, 2)]), ("iji->j", [(2, 3, 1)]),
    ("...i,...i->...i", [(2, 1), (3, 1)]), ("...i,...i->...i", [(2, 1), (3, 2, 1)]),
])
def test_einsum_size_errors(eq, shapes):
    _same_as_torch(lambda L: L.einsum(eq, *[L.ones(s) for s in shapes]))


@pytest.mark.parametrize("eq, shapes", [
    ("ij,jk", [(2, 2)]), ("ij", [(2, 2), (2, 2)]), ("ijk", [(2, 2)]), ("ij...k", [(2, 2)]),
    ("i1", [(2, 2)]), ("ij->i1", [(2, 2)]), ("ij->ii", [(2, 2)]), ("ij->k", [(2, 2)]),
    ("i.j", [(2, 2)]), ("...i...", [(2, 2)]), ("ij->...i...", [(2, 2)]), ("ij->i.", [(2, 2)]),
    ("i j -> j", [(2, 3)]), ("...ij->...", [(4, 2, 3)]), ("i,i", [(2,), (2,)]),
])
def test_einsum_equation_errors(eq, shapes):
    _same_as_torch(lambda L: L.einsum(eq, *[L.ones(s) for s in shapes]))


@pytest.mark.parametrize("key", [[0.5, -1.7], (0, [0.5, 2.9]), [[0.5], [1.2]], [1, 2.5],
                                 [True, 0.5]])
def test_float_lists_index_as_long(key):
    # torch turns an index list into a long tensor, truncating its floats
    _same_as_torch(lambda L: _x(L)[key])
    _same_as_torch(_assigned(lambda L: key, 5.0))
