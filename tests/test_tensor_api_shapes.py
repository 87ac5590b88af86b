"""fastdl's shape functions of functional/shape_more.py against torch 2.13 on fresh inputs from a
fixed seed: values, dtypes, shapes, views where torch's are views, gradients (and float64
gradchecks), in-place shape methods and the errors torch raises."""
import numpy as np
import pytest
import torch

import fastdl
from api_compare import assert_same, check, pairs

rng = np.random.default_rng(20261130)  # fixed: the same inputs on every run


def _r(*shape, dtype=np.float64):
    a = rng.standard_normal(shape)
    return a.astype(dtype) if np.dtype(dtype).kind == "f" else (a * 5).astype(dtype)


def _shares(a, b):
    return np.shares_memory(a.detach().numpy(), b.detach().numpy())


@pytest.mark.parametrize("name", ["atleast_1d", "atleast_2d", "atleast_3d"])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 0, 4), (1, 2, 3, 2)])
def test_atleast_nd_views(name, shape):
    out = check(rng, getattr(fastdl, name), getattr(torch, name), _r(*shape))
    x = fastdl.tensor(_r(*shape))
    assert _shares(getattr(fastdl, name)(x), x) or x.numel() == 0
    many = check(rng, lambda a, b: getattr(fastdl, name)(a, b),
                 lambda a, b: getattr(torch, name)(a, b), _r(*shape), _r(2))
    assert isinstance(many, tuple) and isinstance(out, fastdl.Tensor)
    assert_same(getattr(fastdl, name)([fastdl.tensor(_r(*shape))])[0].shape,
                getattr(torch, name)([torch.zeros(shape)])[0].shape)


@pytest.mark.parametrize("name", ["hstack", "vstack", "dstack", "column_stack", "row_stack"])
@pytest.mark.parametrize("shapes", [[(3,), (3,)], [(2, 3), (2, 3)], [(), ()], [(2, 3, 4)] * 3,
                                    [(2, 0), (2, 0)]])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_stacking(name, shapes, dtype):
    if name == "column_stack" and len(shapes[0]) == 3:
        shapes = [(2, 3, 4), (2, 1, 4)]
    arrays = [_r(*s, dtype=dtype) for s in shapes]
    check(rng, lambda *ts: getattr(fastdl, name)(list(ts)),
          lambda *ts: getattr(torch, name)(list(ts)), *arrays, grad=dtype == np.float64)


def test_stacking_mixed_dtypes_and_errors():
    a, b = _r(3), _r(3, dtype=np.int64)
    check(rng, lambda x, y: fastdl.hstack((x, y)), lambda x, y: torch.hstack((x, y)), a, b,
          grad=False)
    for name in ("hstack", "vstack", "dstack", "column_stack"):
        with pytest.raises(RuntimeError):
            getattr(torch, name)([])
        with pytest.raises(RuntimeError):
            getattr(fastdl, name)([])
        with pytest.raises(TypeError):
            getattr(fastdl, name)(fastdl.ones(2))
    with pytest.raises(RuntimeError):
        torch.vstack([torch.ones(2), torch.ones(3)])
    with pytest.raises(RuntimeError):
        fastdl.vstack([fastdl.ones(2), fastdl.ones(3)])


@pytest.mark.parametrize("indexing", ["ij", "xy"])
@pytest.mark.parametrize("shapes", [[(3,)], [(2,), (4,)], [(2,), (), (3,)], [(0,), (2,)],
                                    [(2,), (3,), (4,)]])
def test_meshgrid(indexing, shapes):
    arrays = [_r(*s) for s in shapes]
    check(rng, lambda *ts: fastdl.meshgrid(*ts, indexing=indexing),
                 lambda *ts: torch.meshgrid(*ts, indexing=indexing), *arrays)
    fs = [fastdl.tensor(a) for a in arrays]
    for f, o in zip(fs, fastdl.meshgrid(fs, indexing=indexing)):
        assert _shares(f, o) or o.numel() == 0


def test_meshgrid_errors():
    for bad in [dict(tensors=[torch.ones(2, 2)]), dict(tensors=[torch.ones(2)], indexing="ab"),
                dict(tensors=[torch.ones(2), torch.ones(2, dtype=torch.int64)])]:
        kw = {k: v for k, v in bad.items() if k == "indexing"}
        kw.setdefault("indexing", "ij")
        with pytest.raises(RuntimeError):
            torch.meshgrid(*bad["tensors"], **kw)
        with pytest.raises(RuntimeError):
            fastdl.meshgrid(*[fastdl.tensor(t.numpy()) for t in bad["tensors"]], **kw)


@pytest.mark.parametrize("shapes", [[(2, 1), (3,)], [(), (2, 3)], [(4, 1, 3), (1, 5, 1), (3,)],
                                    [(0, 1), (1, 4)]])
def test_broadcast_tensors_and_shapes(shapes):
    check(rng, fastdl.broadcast_tensors, torch.broadcast_tensors, *[_r(*s) for s in shapes])
    assert fastdl.broadcast_shapes(*shapes) == tuple(torch.broadcast_shapes(*shapes))
    assert fastdl.broadcast_shapes(2, (3, 1)) == tuple(torch.broadcast_shapes(2, (3, 1)))
    with pytest.raises(RuntimeError):
        torch.broadcast_shapes((2,), (3,))
    with pytest.raises(RuntimeError):
        fastdl.broadcast_shapes((2,), (3,))
    with pytest.raises(RuntimeError):
        fastdl.broadcast_tensors(fastdl.ones(2), fastdl.ones(3))
    with pytest.raises(ValueError):
        fastdl.broadcast_shapes(-1)


@pytest.mark.parametrize("shape,dim,index", [((3,), 0, 1), ((2, 3, 4), 1, -1), ((2, 3), -1, 0),
                                             ((4, 0), 0, 3)])
def test_select_and_select_scatter(shape, dim, index):
    x = _r(*shape)
    check(rng, lambda t: t.select(dim, index), lambda t: t.select(dim, index), x)
    check(rng, lambda t: fastdl.select(t, dim, index), lambda t: torch.select(t, dim, index), x)
    f = fastdl.tensor(x)
    assert _shares(fastdl.select(f, dim, index), f) or f.numel() == 0
    src = _r(*torch.zeros(shape).select(dim, index).shape)
    check(rng, lambda t, s: fastdl.select_scatter(t, s, dim, index),
          lambda t, s: torch.select_scatter(t, s, dim, index), x, src)
    with pytest.raises(IndexError):
        torch.select(torch.zeros(shape), dim, 5)
    with pytest.raises(IndexError):
        fastdl.select(fastdl.zeros(shape), dim, 5)
    with pytest.raises(IndexError):
        fastdl.select(fastdl.tensor(1.0), 0, 0)


@pytest.mark.parametrize("dim,start,end,step", [(0, None, None, 1), (1, 1, 4, 2), (-1, -3, None, 1),
                                                (0, 2, 2, 1), (1, 0, 100, 3)])
def test_slice_scatter(dim, start, end, step):
    x = _r(4, 5)
    region = x[(slice(None),) * (dim % 2) + (slice(start, end, step),)]
    check(rng, lambda t, s: fastdl.slice_scatter(t, s, dim, start, end, step),
          lambda t, s: torch.slice_scatter(t, s, dim, start, end, step), x, _r(*region.shape))
    with pytest.raises(RuntimeError):
        torch.slice_scatter(torch.zeros(4, 5), torch.zeros(9, 9), dim, start, end, step)
    with pytest.raises(RuntimeError):
        fastdl.slice_scatter(fastdl.zeros(4, 5), fastdl.zeros(9, 9), dim, start, end, step)


@pytest.mark.parametrize("shape,offset,dim1,dim2", [((3, 3), 0, 0, 1), ((3, 4), 1, 0, 1),
                                                    ((2, 3, 4), -1, 2, 0), ((4, 2), -3, 0, 1)])
def test_diagonal_scatter_and_diagflat(shape, offset, dim1, dim2):
    x = _r(*shape)
    src = _r(*torch.zeros(shape).diagonal(offset, dim1, dim2).shape)
    check(rng, lambda t, s: fastdl.diagonal_scatter(t, s, offset, dim1, dim2),
          lambda t, s: torch.diagonal_scatter(t, s, offset, dim1, dim2), x, src)
    check(rng, lambda t: t.diagflat(offset), lambda t: t.diagflat(offset), x)
    with pytest.raises(RuntimeError):
        torch.diagonal_scatter(torch.zeros(shape), torch.zeros(7), offset, dim1, dim2)
    with pytest.raises(RuntimeError):
        fastdl.diagonal_scatter(fastdl.zeros(shape), fastdl.zeros(7), offset, dim1, dim2)


@pytest.mark.parametrize("shape", [(2, 3), (4, 1, 2), (0, 3)])
def test_ravel_flips_msort_argwhere(shape):
    x = _r(*shape)
    x.reshape(-1)[::2] = 0
    check(rng, lambda t: t.ravel(), lambda t: t.ravel(), x)
    f = fastdl.tensor(x)
    assert _shares(f.ravel(), f) or f.numel() == 0
    check(rng, fastdl.fliplr, torch.fliplr, x)
    check(rng, fastdl.flipud, torch.flipud, x)
    check(rng, fastdl.msort, torch.msort, _r(*shape))  # no ties: sort is differentiable there
    check(rng, fastdl.argwhere, torch.argwhere, x, grad=False)
    assert fastdl.numel(f) == torch.numel(torch.tensor(x))
    for fn in (torch.fliplr, torch.flipud):
        with pytest.raises(RuntimeError):
            fn(torch.tensor(1.0))
        with pytest.raises(RuntimeError):
            getattr(fastdl, fn.__name__)(fastdl.tensor(1.0))


def test_ravel_of_a_transpose_copies():
    x = fastdl.arange(6.0).reshape(2, 3).t()
    assert x.ravel().tolist() == torch.arange(6.0).reshape(2, 3).t().ravel().tolist()
    assert not _shares(x.ravel(), x)


@pytest.mark.parametrize("row,col,offset", [(3, 3, 0), (4, 2, 1), (2, 5, -1), (0, 3, 0), (3, 3, 5)])
@pytest.mark.parametrize("name", ["tril_indices", "triu_indices"])
def test_triangle_indices(name, row, col, offset):
    assert_same(getattr(fastdl, name)(row, col, offset), getattr(torch, name)(row, col, offset))
    assert_same(getattr(fastdl, name)(row, col, offset, dtype=fastdl.int32),
                getattr(torch, name)(row, col, offset, dtype=torch.int32))
    with pytest.raises(RuntimeError):
        getattr(torch, name)(-1, 2)
    with pytest.raises(RuntimeError):
        getattr(fastdl, name)(-1, 2)


@pytest.mark.parametrize("indices,shape", [([4, 1, 0], (2, 3)), ([[7, -1], [-7, 5]], (2, 3)),
                                           (5, (6,)), ([3], (2, 1, 2))])
def test_unravel_index(indices, shape):
    assert_same(fastdl.unravel_index(fastdl.tensor(indices), shape),
                torch.unravel_index(torch.tensor(indices), shape))
    with pytest.raises(TypeError):
        torch.unravel_index(torch.tensor(1.0), shape)
    with pytest.raises(TypeError):
        fastdl.unravel_index(fastdl.tensor(1.0), shape)


def test_narrow_copy_split_with_sizes_sum_to_size_is_same_size():
    x = _r(4, 5)
    out = check(rng, lambda t: fastdl.narrow_copy(t, 1, 1, 3), lambda t: t.narrow_copy(1, 1, 3), x)
    check(rng, lambda t: t.split_with_sizes([1, 0, 3], 0),
          lambda t: t.split_with_sizes([1, 0, 3], 0), x)
    check(rng, lambda t: t.split_with_sizes([2, 3], dim=-1),
          lambda t: t.split_with_sizes([2, 3], dim=-1), x)
    f = fastdl.tensor(x)
    assert not _shares(fastdl.narrow_copy(f, 1, 1, 3), f) and out.shape == (4, 3)
    for size in [(1, 5), (5,), (4, 1), (1, 1), (4, 5)]:
        check(rng, lambda t: t.sum_to_size(*size), lambda t: t.sum_to_size(*size), x)
        check(rng, lambda t: t.sum_to_size(size), lambda t: t.sum_to_size(size), x)
    for bad in [(3,), (2, 4, 5)]:
        with pytest.raises(RuntimeError):
            torch.zeros(4, 5).sum_to_size(bad)
        with pytest.raises(RuntimeError):
            fastdl.zeros(4, 5).sum_to_size(bad)
    with pytest.raises(RuntimeError):
        fastdl.zeros(3).split_with_sizes([1, 1])
    assert fastdl.is_same_size(f, f * 2) and not f.is_same_size(f.t())
    assert torch.is_same_size(torch.zeros(2), torch.zeros(2))


@pytest.mark.parametrize("name,args", [("t_", ()), ("transpose_", (0, 1)), ("swapaxes_", (1, 0)),
                                       ("swapdims_", (0, -1)), ("squeeze_", ()),
                                       ("squeeze_", (0,)), ("unsqueeze_", (1,))])
def test_inplace_shape_methods(name, args):
    x = _r(1, 3) if "squeeze" in name else _r(2, 3)
    (f, t), = pairs(rng, x)
    f_out, t_out = getattr(f, name)(*args), getattr(t, name)(*args)
    assert f_out is f and t_out is t
    assert_same(f, t)
    # on a non-leaf: the result's history runs through the shape change
    (fl, tl), = pairs(rng, x, requires_grad=True)
    fy, ty = fl * 2, tl * 2
    getattr(fy, name)(*args)
    getattr(ty, name)(*args)
    w = rng.standard_normal(tuple(ty.shape))
    (fy * fastdl.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    assert_same(fl.grad, tl.grad)
    with pytest.raises(RuntimeError):
        getattr(tl, name)(*args)
    with pytest.raises(RuntimeError):
        getattr(fl, name)(*args)


def test_inplace_shape_change_of_a_view_keeps_writing_into_its_base():
    base = fastdl.zeros(2, 3)
    view = base[0]
    view.unsqueeze_(0)
    assert view.shape == (1, 3) and view._base is base
    view.fill_(1.0)
    assert base.tolist() == [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
