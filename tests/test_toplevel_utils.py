"""torch's top-level dtype queries (promote_types, result_type, can_cast, is_*), constructors
(scalar_tensor, asarray, frombuffer, empty_strided, fill), adjoint and the *_copy view ops,
against torch 2.13: values, dtypes, memory sharing, gradients and errors."""
import itertools
import warnings

import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")

PAIRS = [(fastdl.bool, torch.bool), (fastdl.uint8, torch.uint8), (fastdl.int8, torch.int8),
         (fastdl.int16, torch.int16), (fastdl.int32, torch.int32), (fastdl.int64, torch.int64),
         (fastdl.float16, torch.float16), (fastdl.float32, torch.float32),
         (fastdl.float64, torch.float64)]
TO_TORCH = {np.dtype(f): t for f, t in PAIRS}


def test_promote_types_and_can_cast_match_torch_on_every_pair():
    for (fa, ta), (fb, tb) in itertools.product(PAIRS, PAIRS):
        assert TO_TORCH[fastdl.promote_types(fa, fb)] == torch.promote_types(ta, tb), (fa, fb)
        assert fastdl.can_cast(fa, fb) == torch.can_cast(ta, tb), (fa, fb)


def _operands(f, t):
    """Each dtype as a 1-d tensor, a 0-d tensor, and (for its category) a Python number."""
    yield fastdl.ones(2, dtype=f), torch.ones(2, dtype=t)
    yield fastdl.tensor(1, dtype=f), torch.tensor(1, dtype=t)


def test_result_type_matches_torch():
    scalars = [True, 3, 2.5]
    ops = [o for f, t in PAIRS for o in _operands(f, t)] + [(s, s) for s in scalars]
    for (fa, ta), (fb, tb) in itertools.product(ops, ops):
        got = fastdl.result_type(fa, fb)
        assert TO_TORCH[got] == torch.result_type(ta, tb), (fa, fb)


def test_result_type_follows_the_default_dtype():
    fastdl.set_default_dtype(fastdl.float64)
    try:
        assert fastdl.result_type(fastdl.ones(2, dtype=fastdl.int32), 2.5) == fastdl.float64
    finally:
        fastdl.set_default_dtype(fastdl.float32)
    with pytest.raises(TypeError):
        fastdl.result_type("a", 1)


def test_dtype_predicates():
    for f, t in PAIRS:
        x, y = fastdl.ones(1, dtype=f), torch.ones(1, dtype=t)
        assert fastdl.is_floating_point(x) == torch.is_floating_point(y)
        assert fastdl.is_signed(x) == torch.is_signed(y)
        assert fastdl.is_complex(x) is False
    for fn in (fastdl.is_floating_point, fastdl.is_signed, fastdl.is_complex):
        with pytest.raises(TypeError, match="must be Tensor"):
            fn([1.0])


def test_scalar_tensor():
    for s in (1, 2.5, True):
        got, want = fastdl.scalar_tensor(s), torch.scalar_tensor(s)
        assert got.shape == () and got.item() == want.item() and got.dtype == fastdl.float32
    assert fastdl.scalar_tensor(3, dtype=fastdl.int64).dtype == fastdl.int64
    x = fastdl.scalar_tensor(2.0, requires_grad=True)
    (x * x).backward()
    assert x.grad.item() == 4.0
    with pytest.raises(TypeError):
        fastdl.scalar_tensor("2")


def test_asarray_shares_and_copies():
    a = np.arange(3.0)
    t = fastdl.asarray(a)
    a[0] = 7.0
    assert t.tolist() == [7.0, 1.0, 2.0] and t.dtype == fastdl.float64
    c = fastdl.asarray(a, copy=True)
    a[1] = 9.0
    assert c.tolist() == [7.0, 1.0, 2.0]
    assert fastdl.asarray(a, dtype=fastdl.float32).dtype == fastdl.float32
    with pytest.raises(ValueError, match="alias"):
        fastdl.asarray(a, dtype=fastdl.float32, copy=False)
    with pytest.raises(ValueError, match="alias"):
        fastdl.asarray([1, 2], copy=False)
    assert fastdl.asarray([1, 2]).dtype == fastdl.int64
    assert fastdl.asarray([1.0, 2]).dtype == fastdl.float32
    assert fastdl.asarray(1.5).shape == ()
    assert fastdl.asarray(torch.arange(3)).tolist() == [0, 1, 2]  # DLPack producer


def test_asarray_of_a_tensor_keeps_its_graph():
    x = fastdl.ones(2, requires_grad=True)
    assert fastdl.asarray(x) is x
    assert not fastdl.asarray(x, requires_grad=False).requires_grad
    y = fastdl.asarray(x, dtype=fastdl.float64)
    assert y.requires_grad and y.dtype == fastdl.float64
    (y * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    z = fastdl.asarray(x, copy=True)
    assert z is not x and z.requires_grad
    w = fastdl.asarray(fastdl.ones(2), requires_grad=True)
    assert w.requires_grad and w.is_leaf


def test_frombuffer_matches_torch():
    buf = bytearray(np.arange(10, dtype=np.int16).tobytes())
    for kw in ({}, {"count": 3}, {"offset": 4}, {"count": 2, "offset": 6}):
        got = fastdl.frombuffer(buf, dtype=fastdl.int16, **kw)
        want = torch.frombuffer(bytearray(buf), dtype=torch.int16, **kw)
        assert got.tolist() == want.tolist(), kw
    shared = fastdl.frombuffer(buf, dtype=fastdl.int16)
    buf[0] = 5
    assert shared[0].item() == 5
    assert fastdl.frombuffer(np.arange(3.0), dtype=fastdl.float64).tolist() == [0.0, 1.0, 2.0]
    with pytest.warns(UserWarning, match="not writable"):
        assert fastdl.frombuffer(b"ab", dtype=fastdl.uint8).tolist() == [97, 98]


@pytest.mark.parametrize("kw,match", [
    ({"count": 0}, "must not be 0"), ({"offset": 20}, "no greater than buffer length"),
    ({"offset": -1}, "non-negative"), ({"offset": 1}, "multiple of element size"),
    ({"count": 11}, "must not be greater than actual buffer length")])
def test_frombuffer_errors(kw, match):
    buf = bytearray(20)
    with pytest.raises(ValueError, match=match):
        fastdl.frombuffer(buf, dtype=fastdl.int16, **kw)
    with pytest.raises(ValueError):
        torch.frombuffer(bytearray(20), dtype=torch.int16, **kw)
    with pytest.raises(ValueError, match="must not be 0"):
        fastdl.frombuffer(bytearray(0), dtype=fastdl.int16)


def test_empty_strided():
    x = fastdl.empty_strided((2, 3), (1, 2))
    assert x.shape == (2, 3) and x.stride() == (1, 2) and x.dtype == fastdl.float32
    y = fastdl.empty_strided((2, 2), (2, 1), dtype=fastdl.float64, requires_grad=True)
    assert y.dtype == fastdl.float64 and y.requires_grad and y.stride() == (2, 1)
    assert fastdl.empty_strided((0, 3), (3, 1)).shape == (0, 3)
    with pytest.raises(RuntimeError, match="dimensionality of sizes"):
        fastdl.empty_strided((2, 3), (1,))


def test_fill():
    x = fastdl.ones(2, 3, dtype=fastdl.int64)
    got = fastdl.fill(x, 2.7)
    assert got.tolist() == torch.fill(torch.ones(2, 3, dtype=torch.long), 2.7).tolist()
    assert got.dtype == fastdl.int64 and x.tolist() == [[1] * 3] * 2
    inp = fastdl.ones(2, 2, requires_grad=True)
    value = fastdl.tensor(3.0, requires_grad=True)
    out = fastdl.fill(inp, value)
    assert out.tolist() == [[3.0, 3.0], [3.0, 3.0]] and out.requires_grad
    (out * fastdl.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert value.grad.item() == 10.0 and inp.grad.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert fastdl.fill(fastdl.ones(2), fastdl.tensor(2, dtype=fastdl.int64)).dtype == \
        fastdl.float32
    with pytest.raises(RuntimeError, match="0-dimension value tensor"):
        fastdl.fill(fastdl.ones(2), fastdl.ones(2))


def test_adjoint():
    x = fastdl.arange(6.0).view(1, 2, 3).requires_grad_(True)
    y = fastdl.adjoint(x)
    assert y.tolist() == torch.adjoint(torch.arange(6.0).view(1, 2, 3)).tolist()
    y.sum().backward()
    assert x.grad.shape == (1, 2, 3)
    with pytest.raises(RuntimeError, match="matrices"):
        fastdl.adjoint(fastdl.ones(3))


COPIES = [
    ("view_copy", ((6, 4),)), ("view_copy", ((-1,),)), ("permute_copy", ((2, 0, 1),)),
    ("transpose_copy", (0, 2)), ("expand_copy", ((2, 2, 3, 4),)),
    ("diagonal_copy", (1, 1, 2)), ("diagonal_copy", ()), ("select_copy", (1, -1)),
    ("slice_copy", (2, 1, None, 2)), ("slice_copy", (0, -3, 100, 1)), ("slice_copy", (1, 5, 2)),
    ("slice_copy", ()), ("unsqueeze_copy", (1,)), ("unbind_copy", (1,)), ("unbind_copy", ()),
    ("split_copy", (2, 2)), ("split_copy", (1,)), ("split_with_sizes_copy", ([1, 2], 1)),
    ("unfold_copy", (2, 2, 1)), ("alias_copy", ()), ("as_strided_copy", ((2, 2), (1, 3))),
    ("as_strided_copy", ((3,), (2,), 1)),
]


@pytest.mark.parametrize("name,args", COPIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_copy_ops_match_torch(name, args, dtype):
    data = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(dtype)
    x = fastdl.tensor(data.copy(), requires_grad=True)
    tx = torch.tensor(data.copy(), requires_grad=True)
    got, want = getattr(fastdl, name)(x, *args), getattr(torch, name)(tx, *args)
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.detach().numpy(), w.detach().numpy())
        assert not np.shares_memory(g.detach().numpy(), x.detach().numpy())
    seed = np.random.default_rng(1)
    weights = [seed.standard_normal(tuple(w.shape)).astype(dtype) for w in want]
    sum(((g * fastdl.tensor(s)).sum() for g, s in zip(got, weights)),
        fastdl.tensor(0.0, dtype=dtype)).backward()
    sum((w * torch.tensor(s)).sum() for w, s in zip(want, weights)).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_other_copy_ops():
    x = fastdl.arange(6.0).view(1, 2, 3, 1)
    tx = torch.arange(6.0).view(1, 2, 3, 1)
    for dims in ((), (0,), ([0, 3],)):
        assert fastdl.squeeze_copy(x, *dims).shape == tuple(torch.squeeze_copy(tx, *dims).shape)
    m = fastdl.arange(6.0).view(2, 3)
    assert fastdl.t_copy(m).tolist() == torch.t_copy(torch.arange(6.0).view(2, 3)).tolist()
    y = fastdl.ones(2, requires_grad=True) * 2
    d = fastdl.detach_copy(y)
    assert not d.requires_grad and d.tolist() == [2.0, 2.0]
    v = fastdl.view_copy(fastdl.arange(4.0), fastdl.int32)
    assert v.tolist() == torch.view_copy(torch.arange(4.0), torch.int32).tolist()
    same = fastdl.squeeze_copy(m)  # squeezing nothing still gives new memory
    assert not np.shares_memory(same.numpy(), m.numpy())
    with pytest.raises(RuntimeError, match="step must be positive"):
        fastdl.slice_copy(m, 0, 0, 2, -1)
    with pytest.raises(TypeError, match="must be Tensor"):
        fastdl.t_copy([[1.0]])
