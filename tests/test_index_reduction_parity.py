"""aminmax, var/std(_mean), diff, cat's dtype, index_add/index_copy/index_reduce (the shapes
and errors of torch 2.13), against torch on the cases OpInfo's samples exposed: each case runs
in both libraries, which must agree on the result (values, shape, dtype) or both raise."""
import numpy as np
import pytest
import torch

import fastdl

rng = np.random.default_rng(20261130)  # fixed: the same inputs on every run


def _both(fn, *arrays):
    """fn(lib, *tensors) in torch and in fastdl on the same arrays: (torch's, fastdl's) result,
    or the exception each raised."""
    results = []
    for lib in (torch, fastdl):
        try:
            results.append(fn(lib, *[lib.tensor(a.copy()) for a in arrays]))
        except (RuntimeError, ValueError, TypeError, IndexError) as e:
            results.append(e)
    return results


def _same(fn, *arrays, error=None):
    """fastdl agrees with torch: the same values, shapes and dtypes, or both raise (the same
    exception class as torch, or ``error`` where fastdl's class deliberately differs)."""
    ref, out = _both(fn, *arrays)
    if isinstance(ref, Exception):
        assert isinstance(out, error or type(ref)), f"torch raised {ref!r}, fastdl gave {out!r}"
        return
    assert not isinstance(out, Exception), f"fastdl raised {out!r}; torch gave {ref}"
    refs = ref if isinstance(ref, tuple) else (ref,)
    outs = out if isinstance(out, tuple) else (out,)
    assert len(refs) == len(outs)
    for r, o in zip(refs, outs):
        assert tuple(o.shape) == tuple(r.shape)
        assert str(o.dtype) == str(r.dtype).replace("torch.", "")
        np.testing.assert_allclose(o.numpy(), r.numpy(), rtol=1e-6, atol=1e-7)


def _rand(*shape):
    return rng.standard_normal(shape)


# ---- aminmax: only the reduced dim must be non-empty ----
@pytest.mark.parametrize("shape,kwargs", [
    ((5, 0, 5), {"dim": 0}), ((5, 0, 5), {"dim": 2, "keepdim": True}), ((5, 0, 5), {"dim": 1}),
    ((5, 0, 5), {}), ((), {"dim": 0}), ((), {"dim": -1, "keepdim": True}), ((), {"dim": 1}),
    ((3, 4), {"dim": (0, 1)}), ((3, 4), {"dim": True}), ((3, 4), {"dim": -1})])
def test_aminmax_empty_and_dims(shape, kwargs):
    _same(lambda L, x: L.aminmax(x, **kwargs), _rand(*shape))


# ---- var/std and var_mean/std_mean: a bool second argument is unbiased ----
@pytest.mark.parametrize("fn", ["var", "std", "var_mean", "std_mean"])
@pytest.mark.parametrize("args,kwargs", [
    ((True,), {}), ((False,), {}), ((1, False), {}), ((1, True, True), {}),
    ((None, False, True), {}), ((True, True), {}), ((True,), {"keepdim": True}),
    ((0,), {"unbiased": True, "correction": 1}), ((0, 1), {}), ((1,), {"correction": 0})])
def test_variance_overloads(fn, args, kwargs):
    _same(lambda L, x: getattr(L, fn)(x, *args, **kwargs), _rand(4, 5))
    if fn in ("var", "std"):
        _same(lambda L, x: getattr(x, fn)(*args, **kwargs), _rand(4, 5))


# ---- diff: n=0 returns input (prepend/append still checked), torch's argument errors ----
@pytest.mark.parametrize("n,dim,pre,app", [
    (0, 0, (1, 5), (2, 5)), (0, 1, None, (5, 3)), (0, 7, None, None), (1, 1, (5, 1), (5, 2)),
    (9, 0, (2, 5), None), (-1, 0, None, None), (0, 0, (1, 4), None), (1, 0, (5,), None),
    (1, 0, (), None), (1, 5, None, None)])
def test_diff_order_prepend_append(n, dim, pre, app):
    arrays = [_rand(5, 5)] + [_rand(*s) for s in (pre, app) if s is not None]

    def call(L, x, *extra):
        it = iter(extra)
        return L.diff(x, n, dim, next(it) if pre is not None else None,
                      next(it) if app is not None else None)
    _same(call, *arrays)


def test_diff_argument_types_and_promotion():
    x = _rand(2, 3)
    _same(lambda L, a: L.diff(a, 1.5), x)
    _same(lambda L, a: L.diff(a, True), x)
    _same(lambda L, a: L.diff(a, 1, 1, 1.0), x)
    ints = rng.integers(-5, 5, (2, 4))
    for n in (0, 1):  # a float32 input with int64 prepend stays float32 (torch's categories)
        _same(lambda L, a, p: L.diff(a.float(), n, 1, p), x, ints)
    _same(lambda L, a, p: L.diff(a > 0, 1, 1, None, p), x, _rand(2, 1))


@pytest.mark.parametrize("a,b", [("float32", "int64"), ("int64", "float16"), ("bool", "uint8"),
                                 ("uint8", "int8"), ("int32", "float64"), ("bool", "float32")])
def test_cat_promotes_by_category(a, b):
    _same(lambda L: L.cat([L.ones(2, dtype=getattr(L, a)), L.ones(3, dtype=getattr(L, b))]))


# ---- index_add / index_copy / index_reduce: torch's shape rules and errors ----
INDEX_CASES = [  # (input shape, dim, index, source shape)
    ((), 0, [0], ()), ((), 0, [0], (1,)), ((), -1, [0], ()), ((), 0, [0, 0], (2,)),
    ((), 0, [0, 0], ()), ((), 0, 0, ()), ((), 1, [0], ()), ((), 0, [1], ()),
    ((3,), 0, [0], ()), ((3,), 0, [0, 1], (2,)), ((3,), 0, [0, 1], (2, 1)), ((3,), 0, 1, (1,)),
    ((1,), 0, [0], ()), ((3,), 0, [3], (1,)), ((0,), 0, [5], (1,)),
    ((3, 4), 0, [0, 1], (2, 1)), ((3, 4), 0, [0, 1], (2,)), ((3, 4), 0, [0], ()),
    ((3, 4), 1, [0, 1], (3, 2)), ((3, 4), -1, [0, 1], (3, 2)), ((3, 4), 1, [0, 1], (1, 2)),
    ((3, 4), 0, [0, 1], (2, 4, 1)), ((3, 4), 0, [0, 1], (2, 5)), ((3, 4), 1, [0, 1], (2,)),
    ((3, 4), 0, [0, 1], (3, 4)), ((3, 4), 0, [5], (1, 4)), ((3, 4), 0, [-1], (1, 4)),
    ((3, 0), 0, [5], (1, 0)), ((3, 4), 0, [[0]], (1, 4)), ((3, 4), 2, [0], (1, 4)),
    ((2, 3), 0, [0], (1, 3, 1)), ((2, 1), 0, [0, 1], (2, 3)), ((3, 4), 0, 1, (1, 4))]


@pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")  # torch's
@pytest.mark.parametrize("op", ["index_add", "index_copy", "index_reduce"])
@pytest.mark.parametrize("shape,dim,index,source_shape", INDEX_CASES)
def test_index_ops_shapes_and_errors(op, shape, dim, index, source_shape):
    extra = ("amax",) if op == "index_reduce" else ()
    # torch's index_copy of 1 slice into a (0,) input fails in its storage code
    # (RuntimeError "setStorage: ... out of bounds"); fastdl says the index is out of range
    error = IndexError if (op, shape) == ("index_copy", (0,)) else None
    _same(lambda L, x, i, s: getattr(L, op)(x, dim, i, s, *extra),
          _rand(*shape), np.array(index), _rand(*source_shape), error=error)


@pytest.mark.parametrize("op", ["index_add", "index_copy"])
def test_index_ops_index_dtype(op):
    # index_add takes int32 or int64 indices, index_copy int64 only; never floats
    for dtype in (np.int32, np.float32):
        _same(lambda L, x, i, s: getattr(L, op)(x, 0, i, s), _rand(3, 4),
              np.array([0, 2], dtype=dtype), _rand(2, 4))


def test_index_ops_zero_dim_gradients():
    """0-d input and source with a (1,) index (OpInfo's sample): values and gradients."""
    for op, kwargs in (("index_add", {"alpha": 2}), ("index_copy", {})):
        grads = []
        for lib in (torch, fastdl):
            x = lib.tensor(1.5, requires_grad=True)
            s = lib.tensor(-0.25, requires_grad=True)
            out = getattr(lib, op)(x, 0, lib.tensor([0]), s, **kwargs)
            (out * 3).backward()
            grads.append((out.item(), x.grad.item(), s.grad.item()))
        assert grads[0] == grads[1], (op, grads)


# ---- masked_scatter: input and mask broadcast together; source is read flat ----
@pytest.mark.parametrize("shape,mask_shape,source_shape", [
    ((5,), (5, 5), (25,)), ((5, 5), (5,), (25,)), ((5, 1), (1, 5), (5, 5)), ((3,), (2,), (5,)),
    ((5, 5), (5, 5), (3,)), ((2,), (2,), (3, 3)), ((), (), (1,)), ((), (2,), (2,)),
    ((2,), (), (2,)), ((0,), (0,), (0,)), ((2, 2), (2, 2), (0,)), ((), (), (0,))])
def test_masked_scatter_broadcasts(shape, mask_shape, source_shape):
    mask = np.ones(mask_shape, dtype=bool) if 0 not in source_shape else \
        rng.random(mask_shape) > 0.5
    _same(lambda L, x, m, s: L.masked_scatter(x, m, s), _rand(*shape), mask,
          _rand(*source_shape))
    if 0 in shape or 0 in source_shape:
        return
    grads = []  # the gradients: input's summed over the broadcast, source's at the taken ones
    for lib in (torch, fastdl):
        x = lib.tensor(np.arange(float(np.prod(shape))).reshape(shape), requires_grad=True)
        s = lib.tensor(np.arange(float(np.prod(source_shape))).reshape(source_shape) + 0.5,
                       requires_grad=True)
        try:
            out = lib.masked_scatter(x, lib.tensor(mask), s)
        except RuntimeError:
            return  # both raise (checked above)
        (out * lib.tensor(np.arange(1.0, out.numel() + 1).reshape(tuple(out.shape)))).sum() \
            .backward()
        grads.append((x.grad.numpy(), s.grad.numpy()))
    for ours, theirs in zip(grads[1], grads[0]):
        np.testing.assert_array_equal(ours, theirs)


# ---- histogramdd: no points bin [0, 1] (numpy's default); non-finite or reversed ranges ----
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # density of no points: 0 / 0
@pytest.mark.parametrize("points,bins,kwargs", [
    (np.zeros((0, 2)), 3, {}), (np.zeros((5, 0, 2)), [1, 2], {"density": True}),
    (np.array([[np.inf, 1.0], [2.0, 3.0]]), 2, {}),
    (np.array([[1.0, 1.0], [2.0, 3.0]]), 2, {"range": [0.0, np.inf, 0.0, 1.0]}),
    (np.array([[1.0, 1.0], [2.0, 3.0]]), 2, {"range": [2.0, 1.0, 0.0, 1.0]}),
    (np.array([[1.0, 1.0], [1.0, 3.0]]), 2, {})])
def test_histogramdd_ranges(points, bins, kwargs):
    _same(lambda L, x: (lambda h, e: (h, *e))(*L.histogramdd(x.float(), bins, **kwargs)),
          points)


# ---- cdist: compute_mode (torch's matmul form for p = 2) ----
@pytest.mark.parametrize("shapes,mode", [
    (((30, 3), (4, 3)), "use_mm_for_euclid_dist_if_necessary"),
    (((2, 5, 3), (1, 26, 3)), "use_mm_for_euclid_dist_if_necessary"),
    (((5, 3), (4, 3)), "use_mm_for_euclid_dist"),
    (((30, 3), (40, 3)), "donot_use_mm_for_euclid_dist"),
    (((3, 0), (4, 0)), "use_mm_for_euclid_dist"), (((3, 2), (4, 2)), "mm"),
    (((3, 2), (4, 2)), None)])
def test_cdist_compute_mode(shapes, mode):
    a, b = (rng.standard_normal(s).astype(np.float32) for s in shapes)
    _same(lambda L, x, y: L.cdist(x, y, 2.0, mode), a, b)
    _same(lambda L, x, y: L.cdist(x, y, 1.0, compute_mode=mode), a, b)
    if mode is None or mode == "mm":
        return
    grads = []
    for lib in (torch, fastdl):
        x, y = lib.tensor(a.copy(), requires_grad=True), lib.tensor(b.copy(), requires_grad=True)
        (lib.cdist(x, y, 2.0, mode) * 0.5).sum().backward()
        grads.append((x.grad.numpy(), y.grad.numpy()))
    for ours, theirs in zip(grads[1], grads[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


# ---- norm: 'nuc' (and 'fro' over more than two dims) are matrix norms ----
@pytest.mark.parametrize("args", [("nuc",), ("nuc", [1, 2]), ("nuc", (0, 2), True),
                                  ("fro", (0, 1, 2)), ("fro", (0, 1)), ("bad",), ("nuc", 1),
                                  (None,), ("nuc", [0, 0]), (2, [])])
def test_norm_string_orders(args):
    _same(lambda L, x: L.norm(x, *args), _rand(3, 4, 5))
    if len(args) == 1:
        _same(lambda L, x: L.norm(x, *args), _rand(4, 5))
