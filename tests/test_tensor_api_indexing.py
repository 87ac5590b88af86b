"""fastdl's indexed writes (functional/index_more.py) against torch 2.13 on fresh inputs from a
fixed seed: index_put/index_put_ (accumulate, bool and None indices, broadcast values), put/put_,
index_reduce/index_reduce_ (prod, mean, amax, amin, include_self), fill_diagonal_ (wrap):
values, gradients, float64 gradchecks and torch's errors."""
import numpy as np
import pytest
import torch

import fastdl
from api_compare import assert_same, check

rng = np.random.default_rng(20261130)  # fixed: the same inputs on every run


def _r(*shape, dtype=np.float64):
    a = rng.standard_normal(shape)
    return a.astype(dtype) if np.dtype(dtype).kind == "f" else (a * 5).astype(dtype)


def _both(indices):
    """The index tuple for each library."""
    def make(m):
        return tuple(m.tensor(i) for i in indices)
    return make(fastdl), make(torch)


@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("shape,indices,value_shape", [
    ((5,), [np.array([0, 3, -1])], (3,)),
    ((4, 3), [np.array([2, 0]), np.array([1, 1])], (2,)),
    ((4, 3), [np.array([1, 3])], (1, 3)),
    ((4, 3), [np.array([True, False, True, True]), np.array([0, 2, 1])], (3,)),
    ((4, 3), [np.array([[True, False, True]] * 4)], ()),
    ((3, 2, 2), [np.array([[0], [2]]), np.array([1, 0])], (2, 2, 2)),
    ((3, 0), [np.array([0, 2])], (2, 0)),
])
def test_index_put(accumulate, shape, indices, value_shape):
    f_idx, t_idx = _both(indices)
    check(rng, lambda x, v: fastdl.index_put(x, f_idx, v, accumulate),
          lambda x, v: torch.index_put(x, t_idx, v, accumulate), _r(*shape), _r(*value_shape))
    check(rng, lambda x, v: (x * 1).index_put_(f_idx, v, accumulate=accumulate),
          lambda x, v: (x * 1).index_put_(t_idx, v, accumulate=accumulate), _r(*shape),
          _r(*value_shape))


def test_index_put_accumulates_repeated_indices_and_int_dtypes():
    idx = np.array([1, 1, 1, 0])
    check(rng, lambda x, v: x.index_put((fastdl.tensor(idx),), v, True),
          lambda x, v: x.index_put((torch.tensor(idx),), v, True), _r(3), _r(4))
    check(rng, lambda x, v: x.index_put((fastdl.tensor(idx),), v, True),
          lambda x, v: x.index_put((torch.tensor(idx),), v, True), _r(3, dtype=np.int64),
          _r(4, dtype=np.int64), grad=False)
    x = fastdl.zeros(3)
    assert x.index_put_((fastdl.tensor([0, 0]),), fastdl.tensor(2.0), accumulate=True) is x
    assert x.tolist() == [4.0, 0.0, 0.0]


def test_index_put_errors():
    cases = [lambda m: m.index_put(m.zeros(3), (m.tensor([0]),), m.ones(1, dtype=m.float64)),
             lambda m: m.index_put(m.zeros(3), (m.tensor([5]),), m.ones(1)),
             lambda m: m.index_put(m.zeros(3), (m.tensor([0, 1]),), m.ones(3)),
             lambda m: m.index_put(m.zeros(3), (m.tensor([0]), m.tensor([0])), m.ones(1)),
             lambda m: m.index_put(m.zeros(3), (m.tensor([0.5]),), m.ones(1)),
             lambda m: m.index_put(m.zeros(2, 3), (None, m.tensor([0])), m.ones(1))]
    for case in cases:
        with pytest.raises((RuntimeError, IndexError, TypeError)) as t_err:
            case(torch)
        with pytest.raises(t_err.type):
            case(fastdl)


@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("shape,index", [((2, 3), [[0, 5], [-1, 2]]), ((4,), [3, 3, 0]),
                                         ((2, 2, 2), [7]), ((3,), [])])
def test_put(accumulate, shape, index):
    index = np.array(index, dtype=np.int64)
    if not accumulate and len(set(index.reshape(-1) % int(np.prod(shape)))) < index.size:
        index = index[:1]  # without accumulate, which of repeated writes wins is unspecified
    check(rng, lambda x, s: fastdl.put(x, fastdl.tensor(index), s, accumulate),
          lambda x, s: torch.put(x, torch.tensor(index), s, accumulate), _r(*shape),
          _r(*index.shape))
    check(rng, lambda x, s: (x * 1).put_(fastdl.tensor(index), s, accumulate),
          lambda x, s: (x * 1).put_(torch.tensor(index), s, accumulate), _r(*shape),
          _r(*index.shape))


def test_put_errors():
    cases = [lambda m: m.zeros(3).put(m.tensor([3]), m.ones(1)),
             lambda m: m.zeros(3).put(m.tensor([-4]), m.ones(1)),
             lambda m: m.zeros(3).put(m.tensor([0, 1]), m.ones(1)),
             lambda m: m.zeros(3).put(m.tensor([0]), m.ones(1, dtype=m.float64)),
             lambda m: m.zeros(3).put(m.tensor([0.0]), m.ones(1))]
    for case in cases:
        with pytest.raises((RuntimeError, IndexError)) as t_err:
            case(torch)
        with pytest.raises(t_err.type):
            case(fastdl)


@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("shape,dim,index", [((5,), 0, [0, 2, 0, 4]), ((3, 4), 1, [3, 0, 3]),
                                             ((4, 2, 3), 0, [1, 1, 1]), ((), 0, [0])])
def test_index_reduce(reduce, include_self, shape, dim, index):
    index = np.array(index)
    src_shape = list(shape) or [1]
    src_shape[dim] = index.size
    src_shape = tuple(src_shape) if shape else ()
    fi, ti = fastdl.tensor(index), torch.tensor(index)
    check(rng, lambda x, s: x.index_reduce(dim, fi, s, reduce, include_self=include_self),
          lambda x, s: x.index_reduce(dim, ti, s, reduce, include_self=include_self),
          _r(*shape), _r(*src_shape))
    check(rng, lambda x, s: (x * 1).index_reduce_(dim, fi, s, reduce, include_self=include_self),
          lambda x, s: (x * 1).index_reduce_(dim, ti, s, reduce, include_self=include_self),
          _r(*shape), _r(*src_shape))
    check(rng, lambda x, s: fastdl.index_reduce(x, dim, fi, s, reduce),
          lambda x, s: torch.index_reduce(x, dim, ti, s, reduce),
          _r(*shape, dtype=np.int64), _r(*src_shape, dtype=np.int64), grad=False)


def test_index_reduce_errors():
    cases = [lambda m: m.zeros(3).index_reduce(0, m.tensor([0]), m.ones(1), "sum"),
             lambda m: m.zeros(3).index_reduce(0, m.tensor([3]), m.ones(1), "prod"),
             lambda m: m.zeros(3).index_reduce(0, m.tensor([0]), m.ones(2), "prod")]
    for case in cases:
        with pytest.raises((RuntimeError, IndexError)):
            case(torch)
        with pytest.raises((RuntimeError, IndexError)):
            case(fastdl)


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (7, 3), (3, 3, 3), (1, 1), (0, 2)])
@pytest.mark.parametrize("wrap", [False, True])
def test_fill_diagonal_(shape, wrap):
    x = _r(*shape)
    f, t = fastdl.tensor(x), torch.tensor(x)
    assert f.fill_diagonal_(2.5, wrap) is f
    t.fill_diagonal_(2.5, wrap)
    assert_same(f, t)
    check(rng, lambda a: (a * 1).fill_diagonal_(-1.0, wrap),
          lambda a: (a * 1).fill_diagonal_(-1.0, wrap), x)
    i = fastdl.zeros(shape, dtype=fastdl.int64).fill_diagonal_(3, wrap)
    assert_same(i, torch.zeros(shape, dtype=torch.int64).fill_diagonal_(3, wrap))
    for bad in [(3,), (2, 3, 3)]:
        with pytest.raises(RuntimeError):
            torch.zeros(bad).fill_diagonal_(1)
        with pytest.raises(RuntimeError):
            fastdl.zeros(bad).fill_diagonal_(1)
    with pytest.raises(RuntimeError):  # a leaf that requires grad, as torch
        fastdl.zeros(2, 2, requires_grad=True).fill_diagonal_(1)
