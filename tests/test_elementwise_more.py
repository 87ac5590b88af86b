"""The binary and miscellaneous elementwise functions of fastdl.functional.elementwise_more
(atan2, fmax/fmin, ldexp, frexp, nextafter, gcd/lcm, the shifts, isclose, isposinf/isneginf/
isreal, sgn, positive, the comparison aliases) and the Tensor methods and in-place variants of
fastdl.functional.math_methods, against torch 2.13: values, dtypes, broadcasting, gradients,
float64 gradchecks and the errors torch raises."""
import numpy as np
import pytest
import torch

import fastdl
from fastdl.functional.math_methods import INPLACE_EXAMPLES
from fastdl.testing import gradcheck

rng = np.random.default_rng(20261130)  # fixed: the same inputs on every run (CI must not flake)
INF, NAN = float("inf"), float("nan")


def _assert_same(ours, theirs, rtol=1e-12, atol=0.0):
    ours = ours.detach().numpy()
    theirs = theirs.detach().numpy()
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, \
        (ours.dtype, theirs.dtype, ours.shape, theirs.shape)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, equal_nan=True)


def _both(array, requires_grad=False):
    array = np.asarray(array)
    grad = requires_grad and array.dtype.kind == "f"
    return (fastdl.tensor(array.copy(), requires_grad=grad),
            torch.tensor(array.copy(), requires_grad=grad))


def _compare_binary(name, a, b, rtol=1e-12, grad=True):
    """fastdl.name(a, b) against torch.name(a, b), and both gradients when float."""
    (fa, ta), (fb, tb) = _both(a, grad), _both(b, grad)
    out, ref = getattr(fastdl, name)(fa, fb), getattr(torch, name)(ta, tb)
    _assert_same(out, ref, rtol)
    if grad and ref.requires_grad:
        seed = rng.standard_normal(ref.shape).astype(out.detach().numpy().dtype)
        out.backward(fastdl.tensor(seed))
        ref.backward(torch.tensor(seed))
        for ours, theirs in ((fa, ta), (fb, tb)):
            if theirs.requires_grad:
                _assert_same(ours.grad, theirs.grad, max(rtol, 1e-6))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_atan2_broadcast_values_gradients(dtype):
    a = rng.standard_normal((3, 1, 5)).astype(dtype)
    b = rng.standard_normal((4, 1)).astype(dtype)
    _compare_binary("atan2", a, b, 1e-6 if dtype == np.float32 else 1e-13)
    edges = np.array([0.0, -0.0, INF, -INF, NAN, 1.0], dtype)
    _compare_binary("atan2", edges[:, None], edges[None, :], 1e-7, grad=False)
    _assert_same(fastdl.tensor(a).arctan2(0.5), torch.tensor(a).arctan2(torch.tensor(0.5)), 1e-6)
    assert gradcheck(fastdl.atan2, [fastdl.tensor(rng.standard_normal((2, 3)), requires_grad=True),
                                    fastdl.tensor(rng.standard_normal(3), requires_grad=True)])


def test_atan2_promotes_integers_to_float32():
    _compare_binary("atan2", np.array([1, -2, 0]), np.array([[2], [0]]), 1e-6, grad=False)
    _compare_binary("atan2", np.array([1, -2]), np.array([0.5, 2.0]), 1e-13, grad=False)


@pytest.mark.parametrize("name", ["fmax", "fmin"])
def test_fmax_fmin_ignore_nan_and_split_gradients_like_torch(name):
    a = np.array([[1.0, NAN, 3.0, NAN, 2.0, -INF]])
    b = np.array([[2.0, 1.0, NAN, NAN, 2.0, 0.0], [0.0, NAN, 4.0, 1.0, 2.0, INF]])
    _compare_binary(name, a, b)  # ties (2.0 vs 2.0) give input the gradient, as torch does
    _compare_binary(name, rng.standard_normal((3, 4)), rng.standard_normal(4))
    _compare_binary(name, np.array([1, 5, -3]), np.array([2, 4, -3]), grad=False)
    _compare_binary(name, np.array([1, 5]), np.array([2.5, NAN]), grad=False)  # int -> float
    x = [fastdl.tensor(rng.standard_normal((2, 3)), requires_grad=True),
         fastdl.tensor(rng.standard_normal((2, 3)) + 0.1, requires_grad=True)]
    assert gradcheck(getattr(fastdl, name), x)


def test_ldexp():
    x = rng.standard_normal((3, 4))
    # torch's gradient for input is grad * 2 ** other taken in integer arithmetic for an integer
    # exponent, so 0 for a negative one (2 ** -1 == 0): compared here for e >= 0 only, and
    # fastdl's 2 ** e checked for negative e below
    e = rng.integers(0, 6, (4,))
    _compare_binary("ldexp", x, e)
    _compare_binary("ldexp", x.astype(np.float32), e)
    negative = fastdl.tensor(x, requires_grad=True)
    fastdl.ldexp(negative, fastdl.tensor([-1, -2, 3, 0])).sum().backward()
    np.testing.assert_array_equal(negative.grad.numpy(), np.broadcast_to([0.5, 0.25, 8, 1],
                                                                         (3, 4)))
    _compare_binary("ldexp", np.array([1, 3]), np.array([2, -1]), grad=False)  # -> float32
    _compare_binary("ldexp", x, rng.standard_normal(4))  # a float exponent has a gradient
    assert gradcheck(fastdl.ldexp, [fastdl.tensor(x, requires_grad=True),
                                    fastdl.tensor(rng.standard_normal(4), requires_grad=True)])
    _assert_same(fastdl.tensor(x).ldexp(fastdl.tensor(e)), torch.tensor(x).ldexp(torch.tensor(e)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_frexp_values_dtypes_and_mantissa_gradient(dtype):
    x = np.concatenate([rng.standard_normal(20) * 10 ** rng.uniform(-30, 30, 20),
                        [0.0, -0.0, INF, -INF, NAN, 1.0, -0.5, 3e-40]]).astype(dtype)
    (fx, tx) = _both(x)
    (m, e), (tm, te) = fastdl.frexp(fx), torch.frexp(tx)
    _assert_same(m, tm, 0.0)
    _assert_same(e, te, 0.0)
    assert e.dtype == fastdl.int32 and not e.requires_grad
    m2, e2 = fx.frexp()
    np.testing.assert_array_equal(m2.numpy(), m.numpy())
    assert e2.equal(e)
    y = rng.standard_normal((3, 4)) * 7
    (fy, ty) = _both(y, requires_grad=True)
    fastdl.frexp(fy)[0].sum().backward()
    torch.frexp(ty)[0].sum().backward()
    _assert_same(fy.grad, ty.grad, 0.0)
    with pytest.raises(RuntimeError, match="only supports floating-point"):
        torch.frexp(torch.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="only supports floating-point"):
        fastdl.frexp(fastdl.tensor([1, 2]))


def test_nextafter():
    a = np.array([1.0, 1.0, 0.0, -0.0, INF, NAN, 2.0])
    b = np.array([2.0, 0.0, -1.0, 1.0, 0.0, 1.0, 2.0])
    for dtype in (np.float64, np.float32):
        _compare_binary("nextafter", a.astype(dtype), b.astype(dtype), 0.0, grad=False)
    _compare_binary("nextafter", a[:, None], b[None, :3], 0.0, grad=False)
    # input's gradient is 1 except where input == other (the result is other there): 0
    _compare_binary("nextafter", a, b)
    ours = fastdl.tensor(a, requires_grad=True)
    fastdl.nextafter(ours, fastdl.tensor(b)).sum().backward()
    assert ours.grad.tolist() == [1.0] * 6 + [0.0]
    with pytest.raises(NotImplementedError, match="nextafter"):
        torch.nextafter(torch.tensor([1]), torch.tensor([2]))
    with pytest.raises(NotImplementedError, match="nextafter"):
        fastdl.nextafter(fastdl.tensor([1]), fastdl.tensor([2]))


@pytest.mark.parametrize("name", ["gcd", "lcm"])
def test_gcd_lcm(name):
    a = rng.integers(-60, 60, (4, 5))
    b = rng.integers(-60, 60, (5,))
    a[0, :2] = 0
    b[0] = 0
    _compare_binary(name, a, b, 0.0, grad=False)
    _compare_binary(name, a.astype(np.int32), b.astype(np.int16), 0.0, grad=False)
    _assert_same(getattr(fastdl.tensor(a), name)(6), getattr(torch.tensor(a), name)(
        torch.tensor(6)), 0.0)
    for bad in ([1.0, 2.0], [True, False]):
        with pytest.raises(NotImplementedError, match=f"{name}_cpu"):
            getattr(torch, name)(torch.tensor(bad), torch.tensor(bad))
        with pytest.raises(NotImplementedError, match=f"{name}_cpu"):
            getattr(fastdl, name)(fastdl.tensor(bad), fastdl.tensor(bad))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int16, np.int8, np.uint8])
def test_bit_shifts_like_torch_including_out_of_range_counts(dtype):
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max, (3, 6), endpoint=True).astype(dtype)
    counts = np.array([0, 1, 3, info.bits - 1, info.bits, info.bits + 5]).astype(dtype)
    for name in ("bitwise_left_shift", "bitwise_right_shift"):
        _compare_binary(name, a, counts, 0.0, grad=False)
        if dtype != np.uint8:
            _compare_binary(name, a[:, :2], -counts[1:3], 0.0, grad=False)  # negative counts
    (fa, ta) = _both(a)
    _assert_same(fa << 2, ta << 2, 0.0)
    _assert_same(fa >> 1, ta >> 1, 0.0)
    _assert_same(3 << fastdl.tensor(counts[:3]), 3 << torch.tensor(counts[:3]), 0.0)
    _assert_same(100 >> fastdl.tensor(counts[:3]), 100 >> torch.tensor(counts[:3]), 0.0)


def test_bit_shifts_refuse_floats_and_promote_bool_with_int_scalar():
    with pytest.raises(NotImplementedError, match="lshift_cpu"):
        torch.bitwise_left_shift(torch.tensor([1.0]), 1)
    with pytest.raises(NotImplementedError, match="lshift_cpu"):
        fastdl.bitwise_left_shift(fastdl.tensor([1.0]), 1)
    with pytest.raises(NotImplementedError, match="rshift_cpu"):
        fastdl.tensor([1.0]) >> 1
    _assert_same(fastdl.bitwise_right_shift(fastdl.tensor([True, False]), 1),
                 torch.bitwise_right_shift(torch.tensor([True, False]), 1), 0.0)


def test_isclose():
    a = np.array([1.0, 1.0 + 1e-9, 1.1, INF, INF, -INF, NAN, 0.0, 1e-9])
    b = np.array([1.0, 1.0, 1.0, INF, -INF, -INF, NAN, 1e-9, 0.0])
    for kw in ({}, {"equal_nan": True}, {"rtol": 0.2}, {"rtol": 0, "atol": 0},
               {"atol": 1e-8, "rtol": 0}):
        for dtype in (np.float64, np.float32):
            _assert_same(fastdl.isclose(fastdl.tensor(a.astype(dtype)),
                                        fastdl.tensor(b.astype(dtype)), **kw),
                         torch.isclose(torch.tensor(a.astype(dtype)),
                                       torch.tensor(b.astype(dtype)), **kw))
    ints = rng.integers(-5, 5, (3, 4))
    _assert_same(fastdl.tensor(ints).isclose(fastdl.tensor(ints[0]), atol=1),
                 torch.tensor(ints).isclose(torch.tensor(ints[0]), atol=1))
    _assert_same(fastdl.isclose(fastdl.tensor([True, False]), fastdl.tensor([True, True])),
                 torch.isclose(torch.tensor([True, False]), torch.tensor([True, True])))
    with pytest.raises(RuntimeError, match="did not match"):
        torch.isclose(torch.tensor([1, 2]), torch.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="did not match"):
        fastdl.isclose(fastdl.tensor([1, 2]), fastdl.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="greater than or equal to zero"):
        fastdl.isclose(fastdl.ones(2), fastdl.ones(2), rtol=-1)


def test_predicates_sgn_positive():
    x = np.array([1.0, INF, -INF, NAN, 0.0, -0.0, -2.5])
    for values in (x, x.astype(np.float32), np.array([1, -2, 0])):
        for name in ("isposinf", "isneginf", "isreal", "sgn", "positive"):
            (f, t) = _both(values)
            _assert_same(getattr(fastdl, name)(f), getattr(torch, name)(t), 0.0)
            _assert_same(getattr(f, name)(), getattr(t, name)(), 0.0)
    _assert_same(fastdl.sgn(fastdl.tensor([True, False])), torch.sgn(torch.tensor([True, False])))
    with pytest.raises(RuntimeError, match="bool tensor is not supported"):
        torch.positive(torch.tensor([True]))
    with pytest.raises(RuntimeError, match="bool tensor is not supported"):
        fastdl.positive(fastdl.tensor([True]))
    x = fastdl.tensor([1.0, -2.0], requires_grad=True)
    assert fastdl.positive(x) is x
    fastdl.sgn(x).sum().backward()  # sign: a zero gradient, as in torch
    assert x.grad.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("name,torch_name", [("greater", "gt"), ("greater_equal", "ge"),
                                             ("less", "lt"), ("less_equal", "le"),
                                             ("not_equal", "ne")])
def test_comparison_aliases(name, torch_name):
    a, b = rng.integers(0, 3, (3, 4)), rng.integers(0, 3, (4,))
    _compare_binary(name, a, b, 0.0, grad=False)
    assert getattr(fastdl, name) is getattr(fastdl, torch_name)
    _assert_same(getattr(fastdl.tensor(a), name)(1), getattr(torch.tensor(a), name)(1), 0.0)


def test_every_new_name_is_where_torch_has_it():
    names = ("asin acos atan atan2 sinh cosh asinh acosh atanh arcsin arccos arctan arctan2 "
             "arcsinh arccosh arctanh erf erfc erfinv lgamma digamma polygamma mvlgamma i0 exp2 "
             "frac fix sgn positive absolute ldexp frexp nextafter fmax fmin gcd lcm isclose "
             "isneginf isposinf isreal greater greater_equal less less_equal not_equal "
             "bitwise_left_shift bitwise_right_shift").split()
    for n in names:
        assert hasattr(torch, n) and callable(getattr(fastdl, n)), n
        assert hasattr(torch.Tensor, n) and callable(getattr(fastdl.Tensor, n)), n
        assert n in fastdl.__all__
    for n in INPLACE_EXAMPLES:
        assert hasattr(torch.Tensor, n + "_") and hasattr(fastdl.Tensor, n + "_"), n
    for n in ("__lshift__", "__rshift__", "__rlshift__", "__rrshift__"):
        assert hasattr(fastdl.Tensor, n)


# no gradient to compare: torch leaves the autograd history of self as it was for these
# non-differentiable in-place ops (the gradient passes through as if nothing happened), where
# fastdl records the copy of a constant (no gradient); for floor_divide_ and heaviside_ torch
# has no derivative
NO_GRADIENT_COMPARISON = set("eq ne lt le gt ge greater greater_equal less less_equal not_equal "
                             "logical_and logical_or logical_xor logical_not floor_divide "
                             "heaviside nextafter".split())
# torch lets these non-differentiable ones write into a leaf that requires grad; fastdl refuses
# (as for every in-place op on such a leaf)
TORCH_ALLOWS_ON_A_LEAF = {"logical_and", "logical_or", "logical_xor", "logical_not"}
# torch's gradient is a ZeroTensor (no numpy view): fastdl's must be zeros
ZERO_GRADIENT = {"sgn"}
# torch raises "the derivative for 'inplace version of acosh' is not implemented" for these on a
# tensor that requires grad; fastdl records them (checked against the out-of-place gradient)
TORCH_HAS_NO_INPLACE_DERIVATIVE = {"acosh", "arccosh", "asinh", "arcsinh", "atanh", "arctanh"}
# differentiable in their second argument only: a gradient through self raises, in torch too
NO_DERIVATIVE_FOR_SELF = {"igamma", "igammac"}


def _example_arguments(name, module, dtype):
    """Arguments for ``x.name_(...)`` built with ``module`` (fastdl or torch)."""
    other = {"pow": [2], "polygamma": [1], "mvlgamma": [2], "ldexp": [module.tensor([1, 2, 0])],
             "round": []}
    if name in other:
        return other[name]
    if INPLACE_EXAMPLES[name][1] == "":
        return []
    values = [8, 1, 3] if dtype.kind in "iu" else [0.5, 2.0, -0.75]
    return [module.tensor(np.array(values, dtype=dtype))]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # log_, sqrt_ ... of a negative value
@pytest.mark.parametrize("name", sorted(INPLACE_EXAMPLES))
def test_inplace_variant_matches_torch(name):
    integer = INPLACE_EXAMPLES[name][0].startswith("fastdl.tensor([12")
    if integer:
        base = np.array([12, 5, -7])
    elif name in ("acosh", "arccosh", "mvlgamma"):
        base = np.array([1.5, 2.5, 3.0])
    else:
        base = np.array([0.25, 0.5, -0.375])
    dtype = base.dtype
    x, tx = _both(base)
    out = getattr(x, name + "_")(*_example_arguments(name, fastdl, dtype))
    ref = getattr(tx, name + "_")(*_example_arguments(name, torch, dtype))
    assert out is x and ref is tx
    _assert_same(x, tx, 1e-8 if name == "polygamma" else 1e-12)  # torch's trigamma: ~1e-9
    if integer:
        return
    # through a non-leaf: the gradient reaches the tensor before the update, as in torch
    y, ty = _both(base, requires_grad=True)
    z = y * 1.5
    getattr(z, name + "_")(*_example_arguments(name, fastdl, dtype))
    seed = rng.standard_normal(3)
    if name in NO_DERIVATIVE_FOR_SELF:
        tz = getattr(ty * 1.5, name + "_")(*_example_arguments(name, torch, dtype))
        for out, grad in ((z, fastdl.tensor(seed)), (tz, torch.tensor(seed))):
            with pytest.raises(NotImplementedError, match=f"derivative for '{name}: input'"):
                out.backward(grad)
        return
    z.backward(fastdl.tensor(seed))
    if name in TORCH_HAS_NO_INPLACE_DERIVATIVE:
        tz = getattr(ty * 1.5, name)(*_example_arguments(name, torch, dtype))
    else:
        tz = getattr(ty * 1.5, name + "_")(*_example_arguments(name, torch, dtype))
    if name in ZERO_GRADIENT:
        assert not y.grad.numpy().any()
    elif name not in NO_GRADIENT_COMPARISON:
        tz.backward(torch.tensor(seed))
        _assert_same(y.grad, ty.grad, 1e-8)  # 1e-8: torch's trigamma (digamma_'s gradient)
    # a leaf that requires grad refuses, as in torch
    leaf, tleaf = _both(base, requires_grad=True)
    if name not in TORCH_ALLOWS_ON_A_LEAF:
        with pytest.raises(RuntimeError, match="leaf"):
            getattr(tleaf, name + "_")(*_example_arguments(name, torch, dtype))
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(leaf, name + "_")(*_example_arguments(name, fastdl, dtype))


@pytest.mark.parametrize("name", ["sin", "asin", "erf", "lgamma", "exp2", "sqrt", "atan2",
                                  "digamma"])
def test_inplace_on_an_integer_tensor_raises_like_torch(name):
    args = {"atan2": lambda m: [m.tensor([1, 1])]}.get(name, lambda m: [])
    with pytest.raises(RuntimeError, match="can't be cast"):
        getattr(torch.tensor([1, 2]), name + "_")(*args(torch))
    with pytest.raises(RuntimeError, match="can't be cast"):
        getattr(fastdl.tensor([1, 2]), name + "_")(*args(fastdl))
