"""functional/aten_internal.py against torch beyond the OpInfo samples: indices a mask rejects
that lie out of range, empty inputs, int32 indices, gradients and double gradients, the
argument errors, and hash_tensor's bit patterns for every dtype."""
import sys
from pathlib import Path

import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).parent))
from opinfo_harness import compare_outputs  # noqa: E402

F64 = {torch.float64: ((1e-12, 1e-12),) * 2}


def _both(fn, *arrays, grad=()):
    """fn run on torch and on fastdl tensors made of the same arrays (lists of arrays become
    lists of tensors, scalars are kept); the float arrays at positions ``grad`` require grad."""
    outs = []
    for lib in (torch, fastdl):
        args = [lib.tensor(a, requires_grad=n in grad and a.dtype.kind == "f")
                if isinstance(a, np.ndarray) else
                [lib.tensor(i) for i in a] if isinstance(a, list) else a
                for n, a in enumerate(arrays)]
        outs.append((fn(lib, *args), args))
    return outs


def _raises_like_torch(fn, *arrays):
    errors = []
    for lib in (torch, fastdl):
        args = [lib.tensor(a) if isinstance(a, np.ndarray) else
                [lib.tensor(i) for i in a] if isinstance(a, list) else a for a in arrays]
        with pytest.raises((RuntimeError, IndexError, TypeError, ValueError)) as e:
            fn(lib, *args)
        errors.append(e.type)
    assert errors[0] is errors[1], errors


def _masked_index(lib, *args):
    return lib._unsafe_masked_index(*args)


def _masked_put(lib, *args):
    return lib._unsafe_masked_index_put_accumulate(*args)


RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 5))
ROWS = np.array([[0], [3], [9], [-7]])  # 9 and -7 are out of range: masked off below
COLS = np.array([[1, -2, 40]])
MASK = (ROWS >= 0) & (ROWS < 4) & (COLS >= -5) & (COLS < 5)


@pytest.mark.parametrize("index_dtype", [np.int64, np.int32])
def test_unsafe_masked_index_out_of_range_where_masked(index_dtype):
    (t, t_args), (f, f_args) = _both(_masked_index, X, MASK, [ROWS.astype(index_dtype),
                                                             COLS.astype(index_dtype)], 0.5,
                                     grad=(0,))
    compare_outputs(t, f, F64, "_unsafe_masked_index")
    g = RNG.standard_normal(t.shape)
    t.backward(torch.tensor(g))
    f.backward(fastdl.tensor(g))
    np.testing.assert_allclose(f_args[0].grad.numpy(), t_args[0].grad.numpy(), atol=1e-12)


def test_unsafe_masked_index_put_accumulate_repeats_and_gradients():
    values = RNG.standard_normal((4, 3))
    rows = np.array([[0], [0], [9], [3]])  # a repeated row adds up
    mask = (rows < 4) & (COLS >= -5) & (COLS < 5)
    (t, t_args), (f, f_args) = _both(_masked_put, X, mask, [rows, COLS], values, grad=(0, 3))
    compare_outputs(t, f, F64, "_unsafe_masked_index_put_accumulate")
    g = RNG.standard_normal(t.shape)
    t.backward(torch.tensor(g))
    f.backward(fastdl.tensor(g))
    for i in (0, 3):
        np.testing.assert_allclose(f_args[i].grad.numpy(), t_args[i].grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("shape, indices", [((0, 3), [np.array([1, 5])]),
                                            ((2, 0), [np.array([[0], [1]]), np.array([[4]])]),
                                            ((0, 0), [np.array([3])])])
def test_unsafe_masked_index_empty_input(shape, indices):
    """Nothing to read: torch indexes a stand-in of the fill value (shapes as indexing gives),
    and the accumulating put returns a copy."""
    x = np.zeros(shape)
    mask = np.zeros(np.broadcast_shapes(*(i.shape for i in indices)), bool)
    (t, _), (f, _) = _both(_masked_index, x, mask, indices, 2.5)
    compare_outputs(t, f, F64, "_unsafe_masked_index empty")
    (t, _), (f, _) = _both(_masked_put, x, mask, indices, np.ones(mask.shape))
    compare_outputs(t, f, F64, "_unsafe_masked_index_put_accumulate empty")


def test_unsafe_masked_index_errors():
    mask = np.ones((1, 3), bool)
    _raises_like_torch(_masked_index, X, mask, [COLS.astype(np.int16)], 0.0)
    _raises_like_torch(_masked_index, X, mask, [COLS.astype(bool)], 0.0)
    _raises_like_torch(_masked_put, X, mask, [COLS.astype(np.uint8)], np.ones((1, 3)))
    with pytest.raises(IndexError, match="too many indices"):
        fastdl._unsafe_masked_index(fastdl.ones(3), fastdl.tensor([True]),
                                    [fastdl.tensor([0]), fastdl.tensor([0])], 0.0)
    for lib in (torch, fastdl):
        with pytest.raises(TypeError):
            lib._unsafe_masked_index(lib.ones(3), lib.tensor([True]), [None], 0.0)


@pytest.mark.parametrize("args", [(0,), (1, 1, -1), (0, -100, 100, 2), (1, 4, 1, 1),
                                  (-1, None, None, 3), (0, 2, 2, 1)])
def test_slice_values_gradients_and_view(args):
    x = RNG.standard_normal((3, 5))
    t_x = torch.tensor(x, requires_grad=True)
    f_x = fastdl.tensor(x, requires_grad=True)
    t, f = torch.ops.aten.slice(t_x, *args), fastdl.slice(f_x, *args)
    compare_outputs(t, f, F64, f"slice{args}")
    g = RNG.standard_normal(t.shape)
    t.backward(torch.tensor(g))
    f.backward(fastdl.tensor(g))
    np.testing.assert_array_equal(f_x.grad.numpy(), t_x.grad.numpy())
    base = fastdl.tensor(x)
    fastdl.slice(base, *args).fill_(7.0)  # a view: the write reaches its base
    want = torch.tensor(x)
    torch.ops.aten.slice(want, *args).fill_(7.0)
    np.testing.assert_array_equal(base.numpy(), want.numpy())


def test_slice_errors_and_namespace():
    for args in [(fastdl.ones(3), 0, None, None, 0), (fastdl.ones(3), 1),
                 (fastdl.ones(3), -2), (fastdl.tensor(1.0), 0)]:
        with pytest.raises((RuntimeError, IndexError)) as mine:
            fastdl.slice(*args)
        t_args = (torch.tensor(args[0].numpy()),) + args[1:]
        with pytest.raises((RuntimeError, IndexError)) as theirs:
            torch.ops.aten.slice(*t_args)
        assert mine.type is theirs.type
    assert "slice" not in fastdl.__all__  # a star import keeps the builtin
    namespace = {}
    exec("from fastdl import *", namespace)
    assert "slice" not in namespace


def _pool_backward(lib, x, kernel, stride, padding, dilation, ceil_mode, g_scale=1.0):
    pool = lib.nn.functional.max_pool2d_with_indices if lib is fastdl else (
        lambda *a: torch.nn.functional.max_pool2d_with_indices(*a, return_indices=True))
    out, idx = pool(x, kernel, stride, padding, dilation, ceil_mode)
    g = lib.tensor(RNG_G.standard_normal(tuple(out.shape)) * g_scale, requires_grad=True)
    op = lib.max_pool2d_with_indices_backward if lib is fastdl else \
        torch.ops.aten.max_pool2d_with_indices_backward
    return op(g, x, kernel, stride, padding, dilation, ceil_mode, idx), g


RNG_G = np.random.default_rng(3)


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation, ceil_mode", [
    ((2, 3, 7, 6), [3, 2], [2, 1], [1, 0], [1, 2], True),
    ((3, 5, 5), [2, 2], [2, 2], [0, 0], [1, 1], False),  # unbatched
    ((1, 1, 4, 4), [2, 2], [1, 1], [1, 1], [2, 2], False)])
def test_max_pool2d_with_indices_backward_values_and_double_backward(
        shape, kernel, stride, padding, dilation, ceil_mode):
    x = RNG.standard_normal(shape)
    x.flat[::5] = np.inf  # input's values reach neither the result nor its gradient
    results = []
    for lib in (torch, fastdl):
        xt = lib.tensor(x, requires_grad=True)
        RNG_G.bit_generator.state = np.random.default_rng(3).bit_generator.state
        out, g = _pool_backward(lib, xt, kernel, stride, padding, dilation, ceil_mode)
        w = lib.tensor(np.random.default_rng(4).standard_normal(tuple(out.shape)))
        (out * w).sum().backward()
        results.append((out, g.grad, xt.grad))
    compare_outputs(results[0][:2], results[1][:2], F64, "max_pool2d_with_indices_backward")
    assert not np.isnan(results[1][0].detach().numpy()).any()
    assert results[1][2] is None or not results[1][2].numpy().any()
    assert not results[0][2].any()


def test_max_pool2d_with_indices_backward_errors():
    x = fastdl.ones(1, 1, 4, 4)
    out, idx = fastdl.nn.functional.max_pool2d_with_indices(x, 2)
    with pytest.raises(RuntimeError, match="grad_output of shape"):
        fastdl.max_pool2d_with_indices_backward(fastdl.ones(1, 1, 3, 3), x, 2, 2, 0, 1, False,
                                                idx)
    with pytest.raises(RuntimeError, match="indices of shape"):
        fastdl.max_pool2d_with_indices_backward(out, x, 2, 2, 0, 1, False, idx[..., :1])
    with pytest.raises(RuntimeError, match="dtype"):
        fastdl.max_pool2d_with_indices_backward(out.double(), x, 2, 2, 0, 1, False, idx)
    t_x = torch.ones(1, 1, 4, 4)
    t_out, t_idx = torch.nn.functional.max_pool2d_with_indices(t_x, 2)
    with pytest.raises(RuntimeError):
        torch.ops.aten.max_pool2d_with_indices_backward(torch.ones(1, 1, 3, 3), t_x, [2, 2],
                                                        [2, 2], [0, 0], [1, 1], False, t_idx)


@pytest.mark.parametrize("grad_dtype", [np.float64, np.float32, np.int64, np.bool_])
@pytest.mark.parametrize("mask", [np.array([True, False, True]), np.array([1.0, 0.0, 0.5]),
                                  np.array([[1, 0, 1], [0, 1, 1]], dtype=np.uint8)])
def test_native_dropout_backward_dtypes_and_broadcasting(grad_dtype, mask):
    grad = np.array([1.5, -2.0, 3.0]).astype(grad_dtype)
    (t, t_args), (f, f_args) = _both(
        lambda lib, g, m: (torch.ops.aten.native_dropout_backward if lib is torch else
                           fastdl.native_dropout_backward)(g, m, 1.25), grad, mask, grad=(0,))
    compare_outputs(t, f, {torch.float64: ((0, 0),) * 2, torch.float32: ((0, 0),) * 2},
                    "native_dropout_backward")
    if grad.dtype.kind == "f":
        t.sum().backward()
        f.sum().backward()
        np.testing.assert_array_equal(f_args[0].grad.numpy(), t_args[0].grad.numpy())


@pytest.mark.parametrize("values, dtype", [
    ([1.5, -0.0, np.nan, -np.inf, 3e38], np.float32), ([1e-300, -2.5, np.nan], np.float64),
    ([-1, 127, -128], np.int8), ([255, 3], np.uint8), ([-5, 2**31 - 1], np.int32),
    ([-(2**63), 2**62], np.int64), ([True, True, False], np.bool_), ([-300, 7], np.int16),
    ([1.5, -0.1, 65504.0, np.nan], np.float16)])
def test_hash_tensor_bit_patterns(values, dtype):
    x = np.array(values, dtype=dtype)
    for kwargs in ({}, {"dim": 0, "keepdim": True}):
        want = torch.hash_tensor(torch.tensor(x), **kwargs)
        got = fastdl.hash_tensor(fastdl.tensor(x), **kwargs)
        assert str(got.dtype) == "uint64" and tuple(got.shape) == tuple(want.shape)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_hash_tensor_reductions_and_errors():
    x = RNG.integers(-50, 50, (3, 0, 4))
    for kwargs in ({"dim": 0}, {"dim": (0, 2), "keepdim": True}, {"dim": -1}):
        want = torch.hash_tensor(torch.tensor(x), **kwargs)
        np.testing.assert_array_equal(fastdl.hash_tensor(fastdl.tensor(x), **kwargs).numpy(),
                                      want.numpy())
    x = RNG.standard_normal((3, 4))
    np.testing.assert_array_equal(fastdl.hash_tensor(fastdl.tensor(x), ()).numpy(),
                                  torch.hash_tensor(torch.tensor(x), ()).numpy())
    for args, kwargs in [((fastdl.zeros(0),), {}), ((fastdl.zeros(2, 0), 1), {}),
                         ((fastdl.ones(2),), {"mode": 1}), ((fastdl.ones(2), 1), {}),
                         ((fastdl.ones(2, 3), (0, -2)), {})]:
        t_args = (torch.tensor(args[0].numpy()),) + args[1:]
        with pytest.raises((RuntimeError, IndexError)) as theirs:
            torch.hash_tensor(*t_args, **kwargs)
        with pytest.raises(theirs.type):
            fastdl.hash_tensor(*args, **kwargs)
    for dtype in (np.uint16, np.uint32, np.uint64):  # torch's xor kernel lacks them
        with pytest.raises(NotImplementedError):
            torch.hash_tensor(torch.tensor(np.array([1, 2], dtype=dtype)))
        with pytest.raises(NotImplementedError):
            fastdl.hash_tensor(fastdl.tensor(np.array([1, 2], dtype=dtype)))
