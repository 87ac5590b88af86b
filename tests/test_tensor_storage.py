"""Tensor.set_ and Tensor.as_subclass against torch: shared memory (writes through either
tensor show in the other), the strided form's views and torch's errors."""
import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")


def _np(t):
    return np.asarray(t.detach().numpy())


def test_set_empty():
    for lib in (torch, fastdl):
        x = lib.ones(2, 3, dtype=lib.float64)
        assert x.set_() is x
        assert tuple(x.shape) == (0,) and x.dtype == lib.float64


@pytest.mark.parametrize("make", [lambda lib: lib.arange(6.0),
                                  lambda lib: lib.arange(6.0).reshape(2, 3)[:, 1:],
                                  lambda lib: lib.arange(6.0).reshape(2, 3).t()])
def test_set_shares_the_sources_memory(make):
    got = []
    for lib in (torch, fastdl):
        src, x = make(lib), lib.zeros(2)
        x.set_(src)
        same = (tuple(x.shape), tuple(x.stride()), _np(x).copy())
        x.mul_(2)          # through self ...
        src.add_(1)        # ... and through the source
        got.append((same, _np(x), _np(src)))
    (s_t, x_t, src_t), (s_f, x_f, src_f) = got
    assert s_t[:2] == s_f[:2]
    np.testing.assert_array_equal(s_f[2], s_t[2])
    np.testing.assert_array_equal(x_f, x_t)
    np.testing.assert_array_equal(src_f, src_t)
    np.testing.assert_array_equal(x_f, src_f)


@pytest.mark.parametrize("offset,size,stride", [(1, (2, 2), (1, 2)), (0, (2, 2), None),
                                                (2, (3,), (1,)), (0, (0, 2), (1, 1)),
                                                (4, (1, 1), (7, 7))])
def test_set_strided_view_writes_through(offset, size, stride):
    got = []
    for lib in (torch, fastdl):
        src = lib.arange(6.0)[1:]  # the offset counts from the source's first element
        args = (src, offset, size) + (() if stride is None else (stride,))
        x = lib.zeros(1).set_(*args)
        before = _np(x).copy()
        x.add_(10)
        got.append((tuple(x.shape), before, _np(src)))
    assert got[0][0] == got[1][0]
    np.testing.assert_array_equal(got[1][1], got[0][1])
    np.testing.assert_array_equal(got[1][2], got[0][2])


@pytest.mark.parametrize("call", [
    lambda lib: lib.zeros(2).set_(lib.arange(3)),                                 # dtype
    lambda lib: lib.zeros(2, requires_grad=True).set_(lib.ones(3)),               # leaf
    lambda lib: lib.zeros(1).set_(lib.arange(6.0), -1, (2,), (1,)),
    lambda lib: lib.zeros(1).set_(lib.arange(6.0), 0, (2,), (-1,)),
    lambda lib: lib.zeros(1).set_(lib.arange(6.0), 0, (2, 3), (1,)),
    lambda lib: lib.zeros(1).set_(lib.arange(6.0).reshape(2, 3)[:, 1:], 0, (4,), (1,)),
])
def test_set_errors_like_torch(call):
    msgs = []
    for lib in (torch, fastdl):
        with pytest.raises(RuntimeError) as info:
            call(lib)
        msgs.append(str(info.value).splitlines()[0])
    assert msgs[0] == msgs[1]


def test_set_refuses_what_fastdl_cannot_honour():
    with pytest.raises(RuntimeError, match="cannot grow"):  # torch grows the storage
        fastdl.zeros(1).set_(fastdl.arange(6.0), 1, (3, 2), (2, 1))
    with pytest.raises(RuntimeError, match="derivative for set_ is not implemented"):
        fastdl.zeros(2).set_(fastdl.ones(3, requires_grad=True))
    with pytest.raises(TypeError, match="must be Tensor"):
        fastdl.zeros(1).set_([1.0])
    with fastdl.no_grad():
        x = fastdl.zeros(2).set_(fastdl.ones(3, requires_grad=True))
    assert tuple(x.shape) == (3,) and not x.requires_grad


def test_as_subclass_aliases_and_keeps_the_graph():
    class Ours(fastdl.Tensor):
        pass

    class Theirs(torch.Tensor):
        pass

    got = []
    for lib, cls in ((torch, Theirs), (fastdl, Ours)):
        leaf = lib.tensor([1.0, 2.0], requires_grad=True)
        y = leaf.as_subclass(cls)
        assert type(y) is cls and not y.is_leaf and y.requires_grad
        (y * 3).sum().backward()
        plain = lib.ones(2)
        alias = plain.as_subclass(cls)
        alias.add_(1)
        got.append((_np(leaf.grad), _np(plain)))
        assert type(plain.as_subclass(lib.Tensor)) is lib.Tensor
        with pytest.raises(TypeError, match="does not inherit from Tensor"):
            plain.as_subclass(int)
    for u, v in zip(*got):
        np.testing.assert_array_equal(v, u)
