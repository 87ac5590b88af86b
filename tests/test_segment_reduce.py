"""fastdl.segment_reduce against torch.segment_reduce on fresh random inputs: every reduction,
lengths and offsets along axes 0-2, empty segments, initial, unsafe lengths, float32/float64
outputs and gradients (ties and NaN included), gradcheck, and torch's errors."""
import numpy as np
import pytest

import fastdl
from fastdl.testing import gradcheck

torch = pytest.importorskip("torch")

REDUCTIONS = ("sum", "mean", "max", "min", "prod")
DTYPES = {np.float32: (torch.float32, 1e-5), np.float64: (torch.float64, 1e-12)}


def _lengths(rng, batch, size, segments):
    """Random non-negative lengths summing to ``size`` per row, one segment always empty."""
    cuts = np.sort(rng.integers(0, size + 1, batch + (segments - 2,)), -1)
    edges = np.concatenate([np.zeros(batch + (1,), int), cuts,
                            np.full(batch + (1,), size)], -1)
    return np.insert(np.diff(edges, axis=-1), rng.integers(segments), 0, axis=-1)


def _compare(data, reduce, dtype=np.float64, grad=None, **kwargs):
    t_dtype, tol = DTYPES[dtype]
    data = np.asarray(data, dtype)
    tx = torch.tensor(data, requires_grad=True)
    fx = fastdl.tensor(data, requires_grad=True)
    ty = torch.segment_reduce(tx, reduce, **{k: torch.tensor(v) if isinstance(v, np.ndarray)
                                             else v for k, v in kwargs.items()})
    fy = fastdl.segment_reduce(fx, reduce, **{k: fastdl.tensor(v) if isinstance(v, np.ndarray)
                                              else v for k, v in kwargs.items()})
    assert fy.dtype == fx.dtype and tuple(fy.shape) == tuple(ty.shape)
    np.testing.assert_allclose(fy.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    g = np.random.default_rng(1).random(ty.shape).astype(dtype) + 0.5 if grad is None else grad
    tg, = torch.autograd.grad(ty, tx, torch.tensor(g, dtype=t_dtype))
    fy.backward(fastdl.tensor(g))
    np.testing.assert_allclose(fx.grad.numpy(), tg.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis,shape", [(0, (11, 3)), (1, (3, 13, 2)), (2, (2, 3, 9))])
@pytest.mark.parametrize("initial", [None, 0.75])
def test_lengths_and_offsets_match_torch(reduce, dtype, axis, shape, initial):
    rng = np.random.default_rng([REDUCTIONS.index(reduce), axis, initial is None])
    data = rng.standard_normal(shape)
    lengths = _lengths(rng, shape[:axis], shape[axis], 5)
    _compare(data, reduce, dtype, lengths=lengths, axis=axis, initial=initial)
    offsets = np.concatenate([np.zeros(shape[:axis] + (1,), int), lengths.cumsum(-1)], -1)
    _compare(data, reduce, dtype, offsets=offsets, axis=axis - len(shape), initial=initial)


@pytest.mark.parametrize("reduce", REDUCTIONS)
def test_empty_segments_and_initial(reduce):
    empty = {"sum": 0.0, "mean": float("nan"), "max": -float("inf"), "min": float("inf"),
             "prod": 1.0}[reduce]
    x = fastdl.tensor([1.0, 3.0])
    out = fastdl.segment_reduce(x, reduce, lengths=fastdl.tensor([0, 2, 0]))
    np.testing.assert_equal(out.numpy()[[0, 2]], [empty, empty])
    out = fastdl.segment_reduce(x, reduce, lengths=fastdl.tensor([0, 2]), initial=7)
    assert out.tolist()[0] == 7.0
    if reduce == "mean":  # torch divides by the count, not count + 1
        assert out.tolist()[1] == 5.5


@pytest.mark.parametrize("reduce", REDUCTIONS)
def test_ties_zeros_and_nan_gradients_match_torch(reduce):
    data = [2.0, 2.0, 1.0, 0.0, 0.0, 3.0, 0.0, 4.0, float("nan"), 5.0, float("nan"), 1.0, 1.0]
    lengths = np.array([3, 2, 2, 4, 2])
    for initial in (None, 2.0, 1.0, 0.0):
        _compare(data, reduce, lengths=lengths, initial=initial,
                 grad=np.array([1.0, 2.0, 0.5, 3.0, 1.5]))


@pytest.mark.parametrize("reduce", REDUCTIONS)
def test_unsafe_lengths_that_fall_short_match_torch(reduce):
    rng = np.random.default_rng(3)
    _compare(rng.standard_normal((10, 3, 2)), reduce, lengths=np.array([1, 2, 0, 6, 0]),
             unsafe=True, initial=2)
    _compare(rng.standard_normal((2, 9)), reduce, offsets=np.array([[1, 4, 4, 8]] * 2),
             axis=1)


@pytest.mark.parametrize("reduce", REDUCTIONS)
def test_gradcheck(reduce):
    rng = np.random.default_rng(4)
    x = fastdl.tensor(rng.standard_normal((3, 7, 2)), requires_grad=True)
    lengths = fastdl.tensor([[2, 0, 5], [1, 3, 3], [7, 0, 0]])
    assert gradcheck(lambda d: fastdl.segment_reduce(d, reduce, lengths=lengths, axis=1,
                                                     initial=0.5), (x,), atol=1e-6)


ERRORS = [
    (dict(lengths=np.array([1, -1, 4])), "lengths contains negative value!"),
    (dict(lengths=np.array([1, 2])), "Expected all rows of lengths along axis to sum"),
    (dict(lengths=np.array([1, 3]), offsets=np.array([0, 1, 4])), "not both"),
    ({}, "Either lengths or offsets must be defined"),
    (dict(lengths=np.array([4]), indices=np.array([0, 0, 0, 0])), "not supported yet"),
    (dict(offsets=np.array([0, 3, 1, 4])), "Expected segment_length >= 0"),
    (dict(lengths=np.array([[1]] * 4), axis=0), "Expected axis to be the last dimension"),
]


@pytest.mark.parametrize("kwargs,message", ERRORS)
def test_bad_input_raises_like_torch(kwargs, message):
    data = np.arange(4.0).reshape(4, 1)
    with pytest.raises(RuntimeError, match=message):
        fastdl.segment_reduce(fastdl.tensor(data), "sum", **{
            k: fastdl.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()})
    if "not both" not in message:  # torch silently prefers offsets there
        with pytest.raises(RuntimeError, match=message):
            torch.segment_reduce(torch.tensor(data), "sum", **{
                k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                for k, v in kwargs.items()})


def test_bad_reduce_and_dtypes():
    x = fastdl.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="reduce argument must be either"):
        fastdl.segment_reduce(x, "median", lengths=fastdl.tensor([2]))
    with pytest.raises(RuntimeError, match="integer tensor"):
        fastdl.segment_reduce(x, "sum", lengths=fastdl.tensor([2.0]))
    with pytest.raises(NotImplementedError, match="not implemented"):
        fastdl.segment_reduce(fastdl.tensor([1, 2]), "sum", lengths=fastdl.tensor([2]))
    # torch's amax / amin spellings name max and min
    assert fastdl.segment_reduce(x, "amax", lengths=fastdl.tensor([2])).tolist() == [2.0]
