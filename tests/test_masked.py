"""fastdl.masked against torch.masked on fresh random inputs (odd shapes, masks that are absent,
full, broadcast or cover a whole slice, keepdim, dim tuples, dtype), with torch's gradients,
central-difference gradchecks, and the errors bad masks and dims get."""
import math

import numpy as np
import pytest

import fastdl
from fastdl.masked._mask import output_mask
from fastdl.testing import gradcheck

torch = pytest.importorskip("torch")

SHAPES = [(5, 3, 7), (4, 1, 3), (7,), (2, 6), ()]
MASK_KINDS = ["none", "random", "broadcast", "fully_masked_slice", "all_masked"]
# functions of (input, dim, keepdim=, mask=), and their extra leading arguments
REDUCTIONS = {"sum": (), "prod": (), "amax": (), "amin": (), "mean": (), "logsumexp": (),
              "var": (), "std": (), "norm": (2.0,), "norm_1": (1.0,), "norm_inf": (math.inf,),
              "norm_ninf": (-math.inf,), "norm_3": (3.0,)}
ALONG_DIM = {"cumsum": (), "cumprod": (), "softmax": (), "log_softmax": (), "softmin": (),
             "median": (), "normalize": (2.0,), "normalize_1": (1.0,)}
INTEGER_OK = {"sum", "prod", "amax", "amin", "argmax", "argmin", "cumsum", "cumprod", "var",
              "std", "logsumexp"}


def _mask(rng, shape, kind, dims):
    if kind == "none":
        return None
    if kind == "broadcast":  # fewer dims than the input, and a 1 where it has more
        m = np.asarray(rng.random(shape[1:]) < 0.6)
        return m[:1] if m.ndim > 1 else m
    m = np.asarray(rng.random(shape) < 0.6)
    if kind == "all_masked":
        m[...] = False
    elif kind == "fully_masked_slice" and m.ndim:
        m[tuple(slice(None) if i in dims else 0 for i in range(m.ndim))] = False
    return m


def _both(array):
    return torch.tensor(array), fastdl.tensor(array)


def _compare(name, t_fn, f_fn, array, mask, args, kwargs, grad):
    """Outputs equal in shape, dtype and value; for float64 inputs, also the gradients of a
    random-weighted sum of the finite outputs."""
    t_x, f_x = _both(array)
    t_x.requires_grad_(grad)
    f_x.requires_grad_(grad)
    t_m, f_m = (None, None) if mask is None else _both(mask)
    t_out = t_fn(t_x, *args, **kwargs, mask=t_m)
    f_out = f_fn(f_x, *args, **kwargs, mask=f_m)
    what = f"{name}{args} {kwargs} shape {array.shape} mask {None if mask is None else mask.shape}"
    assert tuple(f_out.shape) == tuple(t_out.shape), what
    assert str(f_out.dtype) == str(t_out.dtype).replace("torch.", ""), what
    tol = {torch.float32: 1e-5, torch.float64: 1e-10}.get(t_out.dtype, 0)
    np.testing.assert_allclose(f_out.detach().numpy(), t_out.detach().numpy(), rtol=tol,
                               atol=tol, equal_nan=True, err_msg=what)
    if not grad:
        return
    w = np.random.default_rng(1).standard_normal(tuple(t_out.shape))
    t_finite, f_finite = torch.isfinite(t_out), fastdl.isfinite(f_out)
    (torch.where(t_finite, t_out, 0) * torch.tensor(w)).sum().backward()
    (fastdl.where(f_finite, f_out, 0.0) * fastdl.tensor(w)).sum().backward()
    np.testing.assert_allclose(f_x.grad.numpy(), t_x.grad.numpy(), rtol=1e-8, atol=1e-10,
                               equal_nan=True, err_msg=what + " gradient")


def _input(rng, shape, dtype):
    if np.dtype(dtype).kind == "f":
        return rng.uniform(-2, 2, shape).astype(dtype)
    return rng.integers(-4, 5, shape).astype(dtype)  # ties for argmax and median


def _axes(dim, ndim):
    """The dims a reduction over ``dim`` combines (every one for None)."""
    if dim is None:
        return range(ndim)
    return [d % max(ndim, 1) for d in ((dim,) if isinstance(dim, int) else dim)]


def _dims_for(shape):
    dims = [None, -1, 0] if shape else [None, 0]
    if len(shape) >= 3:
        dims += [(0, 2), (-1, 1)]
    return dims


def _check_against_torch(key, name, lead_args, dims_of, kwargs_of, seed, grad=True):
    """Every dtype the function takes x every shape x its dims x every kind of mask."""
    rng = np.random.default_rng(seed)
    for dtype in (np.float64, np.float32, np.int64):
        if dtype == np.int64 and name not in INTEGER_OK:
            continue
        for shape in SHAPES:
            for dim in dims_of(shape):
                for kind in MASK_KINDS:
                    _compare(key, getattr(torch.masked, name), getattr(fastdl.masked, name),
                             _input(rng, shape, dtype),
                             _mask(rng, shape, kind, _axes(dim, len(shape))),
                             lead_args + (dim,), kwargs_of(rng), grad and dtype == np.float64)


def _keepdim(rng):
    return {"keepdim": bool(rng.integers(2))}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # torch's own integer logsumexp casts
@pytest.mark.parametrize("key", sorted(REDUCTIONS))
def test_reductions_match_torch(key):
    name = key.split("_")[0]
    kwargs_of = _keepdim
    if name in ("var", "std"):
        kwargs_of = lambda rng: {**_keepdim(rng), "correction": int(rng.integers(3))}  # noqa: E731
    _check_against_torch(key, name, REDUCTIONS[key], _dims_for, kwargs_of, seed=0)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_reductions_match_torch(name):
    dims_of = lambda shape: [None, 0, -1]  # noqa: E731  (one dim or all: torch.argmax's)
    _check_against_torch(name, name, (), dims_of, _keepdim, seed=1, grad=False)


@pytest.mark.parametrize("key", sorted(ALONG_DIM))
def test_normalizations_and_scans_match_torch(key):
    name = key.split("_1")[0]
    dims_of = lambda shape: [-1, 0] if shape else [0]  # noqa: E731
    kwargs_of = _keepdim if name == "median" else lambda rng: {}  # noqa: E731
    _check_against_torch(key, name, ALONG_DIM[key], dims_of, kwargs_of, seed=2)


def test_dtype_argument_matches_torch():
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, (3, 4)).astype(np.float32)
    m = rng.random((3, 4)) < 0.6
    ints = rng.integers(-4, 5, (3, 4)).astype(np.int32)
    for name, array, dtype in [("sum", ints, None), ("sum", ints, "float64"),
                               ("prod", ints, "int32"), ("amax", x, "float64"),
                               ("softmax", x, "float64"), ("log_softmax", x, "float64"),
                               ("cumsum", ints, None), ("cumsum", x, "float64"),
                               ("mean", ints, "float64"), ("norm", x, "float64"),
                               ("var", ints, None), ("std", x, "float64"),
                               ("argmin", x, "int64"), ("logsumexp", x, "float64")]:
        args = (2.0, 1) if name == "norm" else (1,)
        t_kw = {} if dtype is None else {"dtype": getattr(torch, dtype)}
        f_kw = {} if dtype is None else {"dtype": getattr(fastdl, dtype)}
        t_out = getattr(torch.masked, name)(torch.tensor(array), *args, **t_kw,
                                            mask=torch.tensor(m))
        f_out = getattr(fastdl.masked, name)(fastdl.tensor(array), *args, **f_kw,
                                             mask=fastdl.tensor(m))
        assert str(f_out.dtype) == str(t_out.dtype).replace("torch.", ""), (name, dtype)
        np.testing.assert_allclose(f_out.numpy(), t_out.numpy(), rtol=1e-6, equal_nan=True)


def test_logaddexp_matches_torch():
    rng = np.random.default_rng(4)
    for shape, other_shape in [((5, 3), (5, 3)), ((4, 1, 3), (2, 3)), ((7,), ())]:
        for masks in [(None, None), ("a", None), (None, "b"), ("a", "b")]:
            a, b = rng.uniform(-3, 3, shape), rng.uniform(-3, 3, other_shape)
            ma = rng.random(shape) < 0.5 if masks[0] else None
            mb = rng.random(other_shape) < 0.5 if masks[1] else None
            t_a, f_a = _both(a)
            t_b, f_b = _both(b)
            t_a.requires_grad_(), f_a.requires_grad_(), t_b.requires_grad_(), f_b.requires_grad_()
            opt = lambda m, lib: None if m is None else lib.tensor(m)  # noqa: E731
            t_out = torch.masked.logaddexp(t_a, t_b, input_mask=opt(ma, torch),
                                           other_mask=opt(mb, torch))
            f_out = fastdl.masked.logaddexp(f_a, f_b, input_mask=opt(ma, fastdl),
                                            other_mask=opt(mb, fastdl))
            np.testing.assert_allclose(f_out.detach().numpy(), t_out.detach().numpy(),
                                       rtol=1e-12, equal_nan=True)
            torch.where(torch.isfinite(t_out), t_out, 0).sum().backward()
            fastdl.where(fastdl.isfinite(f_out), f_out, 0.0).sum().backward()
            np.testing.assert_allclose(f_a.grad.numpy(), t_a.grad.numpy(), equal_nan=True)
            np.testing.assert_allclose(f_b.grad.numpy(), t_b.grad.numpy(), equal_nan=True)


# (function name, extra arguments before the mask): small float64 cases whose outputs no
# kept element reached are zeroed (torch's gradcheck_wrapper_masked_operation), so a fully
# masked slice's -inf or NaN does not poison the finite differences. var and std reduce where
# no slice is fully masked: there torch's gradient is NaN (the slice's mean is 0 / 0, and
# 0 * NaN reaches its elements), and fastdl's the same (test_reductions_match_torch)
GRADCHECK_CASES = [("sum", (1,), {}), ("prod", ((0, 2),), {}), ("amax", (1,), {}),
                   ("amin", (None,), {}), ("mean", (0,), {"keepdim": True}),
                   ("logsumexp", (2,), {}), ("norm", (2.0, 1), {}), ("norm", (3.0, 2), {}),
                   ("var", (1,), {"correction": 0}), ("std", ((1, 2),), {"correction": 0}),
                   ("median", (1,), {}), ("cumsum", (2,), {}), ("cumprod", (1,), {}),
                   ("softmax", (2,), {}), ("log_softmax", (1,), {}), ("softmin", (0,), {}),
                   ("normalize", (2.0, 2), {})]


@pytest.mark.parametrize("name, args, kwargs", GRADCHECK_CASES,
                         ids=[f"{c[0]}{i}" for i, c in enumerate(GRADCHECK_CASES)])
def test_gradcheck(name, args, kwargs):
    rng = np.random.default_rng(5)
    x = fastdl.tensor(rng.uniform(0.5, 2.0, (2, 3, 4)) * rng.choice([-1, 1], (2, 3, 4)),
                      requires_grad=True)
    # fully masked rows along dim 2, single kept elements along dim 1
    mask = fastdl.tensor([[False] * 4, [True, True, False, True], [True, False, True, True]])
    op = getattr(fastdl.masked, name)

    def wrapped(t):
        out = op(t, *args, **kwargs, mask=mask)
        return fastdl.where(output_mask(op, t, *args, **kwargs, mask=mask), out, 0.0)
    assert gradcheck(wrapped, (x,), atol=1e-6)


def test_gradcheck_logaddexp():
    rng = np.random.default_rng(6)
    a = fastdl.tensor(rng.uniform(-2, 2, (3, 4)), requires_grad=True)
    b = fastdl.tensor(rng.uniform(-2, 2, (4,)), requires_grad=True)
    ma, mb = fastdl.tensor(rng.random((3, 4)) < 0.6), fastdl.tensor([True, False, True, True])
    assert gradcheck(lambda a, b: fastdl.masked.logaddexp(a, b, input_mask=ma, other_mask=mb),
                     (a, b), atol=1e-6)


def test_fully_masked_slices_give_torchs_values():
    x = fastdl.tensor([[1.0, 2.0], [3.0, 4.0]])
    m = fastdl.tensor([[True, False], [False, False]])
    M = fastdl.masked
    assert M.sum(x, 1, mask=m).tolist() == [1.0, 0.0]
    assert M.prod(x, 1, mask=m).tolist() == [1.0, 1.0]
    assert M.amax(x, 1, mask=m).tolist() == [1.0, -math.inf]
    assert M.amin(x, 1, mask=m).tolist() == [1.0, math.inf]
    assert M.logsumexp(x, 1, mask=m).tolist() == [1.0, -math.inf]
    assert M.norm(x, -math.inf, 1, mask=m).tolist() == [1.0, math.inf]
    for fn in (M.mean, M.var, M.std):
        assert math.isnan(fn(x, 1, mask=m)[1].item())
    assert all(math.isnan(v) for v in M.softmax(x, 1, mask=m)[1].tolist())
    ints = fastdl.tensor([[1, 2], [3, 4]])
    assert M.amax(ints, 1, mask=m).tolist() == [1, np.iinfo(np.int64).min]


def test_non_bool_mask_is_converted_like_torch():
    # torch.masked takes any mask dtype and keeps the non-zero elements (mask.to(bool))
    x = np.arange(6.0).reshape(2, 3)
    m = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.5]])
    expected = torch.masked.sum(torch.tensor(x), 1, mask=torch.tensor(m))
    assert fastdl.masked.sum(fastdl.tensor(x), 1, mask=fastdl.tensor(m)).tolist() == \
        expected.tolist() == fastdl.masked.sum(fastdl.tensor(x), 1,
                                               mask=fastdl.tensor(m != 0)).tolist()


@pytest.mark.parametrize("call, error, match", [
    (lambda x: fastdl.masked.sum(x, mask=fastdl.ones(4, dtype=fastdl.bool)), RuntimeError,
     r"mask of shape \(4,\) does not broadcast to the input's shape \(2, 3\)"),
    (lambda x: fastdl.masked.amax(x, 1, mask=fastdl.ones(1, 2, 3, dtype=fastdl.bool)),
     IndexError, "more dims than the input"),
    (lambda x: fastdl.masked.softmax(x, 0, mask=[[True] * 3] * 2), TypeError,
     "mask must be a Tensor, got list"),
    (lambda x: fastdl.masked.sum(x, (1, 1)), RuntimeError, "appears multiple times"),
    (lambda x: fastdl.masked.mean(x, 2), IndexError, "Dimension out of range"),
    (lambda x: fastdl.masked.mean(x.long()), ValueError, "Could not infer output dtype"),
    (lambda x: fastdl.masked.median(x.long(), 1, mask=fastdl.tensor([False] * 3)), ValueError,
     "no fully masked out rows"),
    (lambda x: fastdl.masked.var(x, 1, unbiased=True, correction=1), ValueError,
     "either unbiased or correction"),
])
def test_bad_input_raises_clearly(call, error, match):
    with pytest.raises(error, match=match):
        call(fastdl.ones(2, 3))


def test_bad_masks_raise_in_torch_too():
    # the same inputs make torch.masked raise the same exception types
    x = torch.ones(2, 3)
    with pytest.raises(RuntimeError):
        torch.masked.sum(x, mask=torch.ones(4, dtype=torch.bool))
    with pytest.raises(IndexError):
        torch.masked.amax(x, 1, mask=torch.ones(1, 2, 3, dtype=torch.bool))
