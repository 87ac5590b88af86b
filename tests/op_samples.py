"""Sample inputs for every op in ``fastdl.autograd.op.REGISTRY`` (used by test_op_registry.py).

Each ``Sample`` names the registered op it covers and a function ``fn(L, *tensors)`` written
once against a library namespace ``L`` (``L.T``: the top-level module, ``L.F``: its
nn.functional, ``L.nn``, ``L.const(array)``: a tensor that needs no grad, ``L.grad(out, inputs,
g)``: gradients with create_graph=True), so the same code runs on fastdl and on PyTorch, the
oracle. ``inputs(rng)`` gives numpy arrays; float64 ones require grad unless listed in
``nograd`` (integer and bool ones never do). Values keep away from the points where an op is not
differentiable (relu at 0, clamp bounds, max ties, integer quotients ...) so central differences
are valid.

An op that only runs inside another op's backward (``threshold_backward``, ``gelu_backward``,
``index_put_zeros``, ``zero_view_region`` ...) is sampled as the first derivative of the public
op that uses it: ``fn`` calls ``L.grad``, so the op is recorded in ``fn``'s own graph and
gradcheck/gradgradcheck check its first and second derivatives. One reached only by a double
backward (``normalize``) is found in the graph of the sample's first derivative.

``check``: "gradgrad" (gradcheck and gradgradcheck), "grad" (gradcheck only), "zero"
(piecewise-constant: the gradient must be exactly zero). ``xfail``: {test kind: reason} for
known bugs (kinds: "reach", "grad", "gradgrad", "torch").
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class Sample:
    op: str
    name: str
    fn: Callable
    inputs: Callable
    nograd: tuple = ()
    check: str = "gradgrad"
    torch: bool = True  # False: no PyTorch equivalent to compare with
    needs: str | None = None  # "cupy": skipped where cupy is not installed
    eps: float = 1e-6
    atol: float = 1e-7  # central differences in float64 with eps = 1e-6 are good to ~1e-9
    rtol: float = 1e-6
    grad_outputs: Callable | None = None  # rng, output shapes -> arrays for gradgradcheck
    torch_rtol: float = 1e-10
    torch_atol: float = 1e-12
    xfail: dict = field(default_factory=dict)
    # set (to the reason) where the op's gradient is by definition not the derivative of its
    # value (embedding's padding_idx and scale_grad_by_freq): no first-order gradcheck then
    not_a_derivative: str | None = None

    @property
    def id(self):
        return f"{self.op}:{self.name}"

    def arrays(self):
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        return [np.array(a, order="C") for a in self.inputs(rng)]  # 0-d stays 0-d

    def requires_grad(self, arrays):
        return [a.dtype.kind == "f" and i not in self.nograd for i, a in enumerate(arrays)]


SAMPLES: list[Sample] = []


def sample(op, name, fn, inputs, **kw):
    SAMPLES.append(Sample(op, name, fn, inputs, **kw))


def vjp_at(L, f, xs, g):
    """The gradients of ``f(*xs)`` applied to ``g`` with ``xs`` held fixed (fresh leaves): a
    function of ``g`` alone. For backward ops that are linear in the upstream gradient and do not
    depend on the input differentiably (the input only picks a mask, a shape, rows)."""
    xs = [x.detach().requires_grad_() for x in xs]
    return L.grad(f(*xs), xs, g)


# ---- value generators (rng first) ---------------------------------------------------------
def U(r, shape, lo=-1.5, hi=1.5):
    return r.uniform(lo, hi, shape)


def S(r, shape, lo=0.1, hi=1.5):
    """Magnitude in [lo, hi], random sign: away from 0."""
    return r.uniform(lo, hi, shape) * r.choice([-1.0, 1.0], shape)


def avoid(r, shape, points, lo=-1.5, hi=1.5, margin=0.08):
    """Uniform draws at least ``margin`` from every point in ``points``."""
    x = U(r, shape, lo, hi)
    for _ in range(1000):
        bad = np.zeros(np.shape(x), bool)
        for p in points:
            bad |= np.abs(x - p) < margin
        if not bad.any():
            return x
        x = np.where(bad, U(r, shape, lo, hi), x)
    raise AssertionError("could not draw values away from the given points")


def nonint(r, shape):
    """Values whose fractional part is away from 0 and 0.5 (floor/round/trunc discontinuities)."""
    frac = np.where(r.random(shape) < 0.5, r.uniform(0.1, 0.4, shape), r.uniform(0.6, 0.9, shape))
    return r.integers(-3, 3, shape) + frac


def quotient_pair(r, shape_a, shape_b):
    """(a, b) with b in [0.6, 1.4] and a / b away from integers (floor/trunc/remainder kinks)."""
    b = r.uniform(0.6, 1.4, shape_b)
    q = nonint(r, np.broadcast_shapes(shape_a, shape_b))
    a = q * b
    assert a.shape == tuple(shape_a), "quotient_pair needs shape_a to be the broadcast shape"
    return a, b


def G(r, shape):
    """An upstream gradient (cotangent)."""
    return r.standard_normal(shape)


def grid(r, shape, lo=-2.0, hi=2.0):
    """Multiples of 1/64: exact in float32, so casts have exact finite differences."""
    return r.integers(int(lo * 64), int(hi * 64), shape) / 64.0


IDX = np.array([[0, 2, 1, 2], [2, 2, 0, 0], [1, 0, 0, 2]])  # gather/scatter index, repeats
MASK = np.array([[True, False, True, True, False], [False, False, True, False, True],
                 [True, True, False, False, False]])

# ---- sum_to, expand ------------------------------------------------------------------------
sample("expand", "1x5_to_3x5", lambda L, x: x.expand(3, 5), lambda r: [U(r, (1, 5))])
sample("expand", "3x1_to_2x3x4", lambda L, x: x.expand(2, 3, 4), lambda r: [U(r, (3, 1))])
sample("expand", "minus_one", lambda L, x: x.expand(2, -1, 4), lambda r: [U(r, (3, 1))])
sample("expand", "0d_to_2x3", lambda L, x: x.expand(2, 3), lambda r: [U(r, ())])
sample("sum_to", "grad_of_expand", lambda L, x, g: vjp_at(L, lambda x: x.expand(2, 3, 4), [x], g),
       lambda r: [U(r, (3, 1)), G(r, (2, 3, 4))], nograd=(0,))
sample("sum_to", "grad_of_broadcast_mul", lambda L, a, b, g: L.grad(a * b, [a, b], g),
       lambda r: [U(r, (3, 5)), U(r, (5,)), G(r, (3, 5))])

# ---- add, sub, mul, div and scalar forms ---------------------------------------------------
sample("add", "broadcast_3x5_5", lambda L, a, b: a + b, lambda r: [U(r, (3, 5)), U(r, (5,))])
sample("add", "alpha_1x7_0d", lambda L, a, b: L.T.add(a, b, alpha=2.5),
       lambda r: [U(r, (1, 7)), U(r, ())])
sample("add", "inplace_nonleaf", lambda L, a, b: (a * 1.0).add_(b),
       lambda r: [U(r, (3, 5)), U(r, (3, 1))])
sample("sub", "broadcast_3x1_1x5", lambda L, a, b: a - b, lambda r: [U(r, (3, 1)), U(r, (1, 5))])
sample("sub", "inplace_nonleaf", lambda L, a, b: (a * 1.0).sub_(b, alpha=1.5),
       lambda r: [U(r, (1, 7)), U(r, (7,))])
sample("add_scalar", "plus", lambda L, x: x + 2.5, lambda r: [U(r, (3, 5))])
sample("add_scalar", "minus_0d", lambda L, x: x - 1.25, lambda r: [U(r, ())])
sample("add_scalar", "inplace", lambda L, x: (x * 1.0).add_(0.75), lambda r: [U(r, (1, 7))])
sample("mul", "broadcast_3x5_5", lambda L, a, b: a * b, lambda r: [U(r, (3, 5)), U(r, (5,))])
sample("mul", "0d_times_1x7", lambda L, a, b: a * b, lambda r: [U(r, ()), U(r, (1, 7))])
sample("mul", "square_same_tensor", lambda L, a: a * a, lambda r: [U(r, (3, 5))])
sample("mul", "inplace_nonleaf", lambda L, a, b: (a + 0.0).mul_(b),
       lambda r: [U(r, (3, 5)), U(r, (5,))])
sample("mul_scalar", "times", lambda L, x: 2.5 * x, lambda r: [U(r, (3, 5))])
sample("mul_scalar", "div_by_scalar", lambda L, x: x / 4.0, lambda r: [U(r, (1, 7))])
sample("div", "broadcast", lambda L, a, b: a / b, lambda r: [U(r, (3, 5)), S(r, (5,), 0.5, 2.0)])
sample("div", "0d_numerator", lambda L, a, b: a / b, lambda r: [U(r, ()), S(r, (1, 7), 0.5, 2)])
sample("div", "inplace_nonleaf", lambda L, a, b: (a * 1.0).div_(b),
       lambda r: [U(r, (3, 5)), S(r, (3, 1), 0.5, 2.0)])
sample("rdiv_scalar", "int_over_x_0d", lambda L, x: 3 / x, lambda r: [S(r, (), 0.5, 2.0)])
sample("rdiv_scalar", "scalar_over_x", lambda L, x: 2.0 / x, lambda r: [S(r, (3, 5), 0.5, 2.0)])
sample("div_scalar", "inplace", lambda L, x: (x * 1.0).div_(3.0), lambda r: [U(r, (3, 5))])
sample("trunc_divide", "rounding_trunc",
       lambda L, a, b: L.T.div(a, b, rounding_mode="trunc"),
       lambda r: list(quotient_pair(r, (3, 5), (5,))), check="zero")
sample("floor_divide", "floordiv", lambda L, a, b: a // b,  # torch: floor_divide has no derivative
       lambda r: list(quotient_pair(r, (3, 5), (5,))), check="zero", torch=False)
sample("floor_divide", "rounding_floor",
       lambda L, a, b: L.T.div(a, b, rounding_mode="floor"),
       lambda r: list(quotient_pair(r, (1, 7), (1, 7))), check="zero")
sample("remainder", "mod_broadcast", lambda L, a, b: a % b,
       lambda r: list(quotient_pair(r, (3, 5), (5,))))
sample("remainder", "mod_negative", lambda L, a, b: L.T.remainder(-a, b),
       lambda r: list(quotient_pair(r, (1, 7), (1, 7))))
sample("fmod", "broadcast", lambda L, a, b: L.T.fmod(a, b),
       lambda r: list(quotient_pair(r, (3, 5), (5,))))
sample("fmod", "negative_divisor_method", lambda L, a, b: a.fmod(-b),
       lambda r: list(quotient_pair(r, (1, 7), (1, 7))))
sample("neg", "neg", lambda L, x: -x, lambda r: [U(r, (3, 5))])
sample("sub", "rsub_scalar_0d", lambda L, x: 1.5 - x, lambda r: [U(r, ())])

# ---- powers --------------------------------------------------------------------------------
sample("pow_scalar", "cube", lambda L, x: x ** 3, lambda r: [U(r, (3, 5))])
sample("pow_scalar", "fractional", lambda L, x: x ** 2.5, lambda r: [U(r, (1, 7), 0.3, 2.0)])
sample("pow_scalar", "negative", lambda L, x: x ** -1.5, lambda r: [U(r, (3, 5), 0.5, 2.0)])
sample("pow_scalar", "zero_exponent", lambda L, x: x ** 0, lambda r: [U(r, (3, 5))])
sample("pow", "tensor_exponent", lambda L, a, b: a ** b,
       lambda r: [U(r, (3, 5), 0.3, 2.0), U(r, (5,), -1.5, 2.5)])
sample("pow", "0d_base", lambda L, a, b: a ** b, lambda r: [U(r, (), 0.5, 2.0), U(r, (1, 7))])
sample("rpow_scalar", "scalar_base", lambda L, x: 1.7 ** x, lambda r: [U(r, (3, 5))])

# ---- unary float functions -----------------------------------------------------------------
_UNARY = {
    "exp": (lambda L, x: x.exp(), (-1.5, 1.5)),
    "expm1": (lambda L, x: x.expm1(), (-1.5, 1.5)),
    "log": (lambda L, x: x.log(), (0.3, 2.5)),
    "log2": (lambda L, x: x.log2(), (0.3, 2.5)),
    "log10": (lambda L, x: x.log10(), (0.3, 2.5)),
    "log1p": (lambda L, x: x.log1p(), (-0.6, 2.0)),
    "sqrt": (lambda L, x: x.sqrt(), (0.3, 2.5)),
    "rsqrt": (lambda L, x: x.rsqrt(), (0.3, 2.5)),
    "sin": (lambda L, x: x.sin(), (-3.0, 3.0)),
    "cos": (lambda L, x: x.cos(), (-3.0, 3.0)),
    "tan": (lambda L, x: x.tan(), (-1.2, 1.2)),
    "tanh": (lambda L, x: x.tanh(), (-2.0, 2.0)),
    "reciprocal": (lambda L, x: x.reciprocal(), (0.5, 2.0)),
    "square": (lambda L, x: x.square(), (-1.5, 1.5)),
    "sigmoid": (lambda L, x: x.sigmoid(), (-3.0, 3.0)),
}
for _name, (_fn, (_lo, _hi)) in _UNARY.items():
    sample(_name, "3x5", _fn, lambda r, lo=_lo, hi=_hi: [U(r, (3, 5), lo, hi)])
    sample(_name, "0d", _fn, lambda r, lo=_lo, hi=_hi: [U(r, (), lo, hi)])
sample("reciprocal", "negative", lambda L, x: x.reciprocal(), lambda r: [U(r, (1, 7), -2, -0.5)])

sample("abs", "away_from_0", lambda L, x: x.abs(), lambda r: [S(r, (3, 5))])
sample("abs", "operator_0d", lambda L, x: abs(x), lambda r: [S(r, ())])
for _op, _fn in (("sign", lambda L, x: x.sign()), ("floor", lambda L, x: x.floor()),
                 ("ceil", lambda L, x: x.ceil()), ("trunc", lambda L, x: x.trunc()),
                 ("round", lambda L, x: x.round())):
    sample(_op, "3x5", _fn, lambda r: [nonint(r, (3, 5))], check="zero")
sample("round", "decimals", lambda L, x: L.T.round(x, decimals=1),
       lambda r: [nonint(r, (1, 7)) / 10], check="zero")

# ---- relu, clamp, maximum, minimum, where --------------------------------------------------
sample("relu", "method", lambda L, x: x.relu(), lambda r: [S(r, (3, 5))])
sample("relu", "functional_0d", lambda L, x: L.F.relu(x), lambda r: [S(r, ())])
sample("relu", "inplace_nonleaf", lambda L, x: L.F.relu(x * 1.0, inplace=True),
       lambda r: [S(r, (1, 7))])
sample("threshold_backward", "grad_of_relu", lambda L, x, g: vjp_at(L, lambda x: x.relu(), [x], g),
       lambda r: [S(r, (3, 5)), G(r, (3, 5))], nograd=(0,))
sample("clamp", "both_bounds", lambda L, x: x.clamp(-0.5, 0.5),
       lambda r: [avoid(r, (3, 5), (-0.5, 0.5))])
sample("clamp", "min_only", lambda L, x: L.T.clamp(x, min=-0.3),
       lambda r: [avoid(r, (1, 7), (-0.3,))])
sample("clamp", "max_only_0d", lambda L, x: x.clamp(max=0.2), lambda r: [avoid(r, (), (0.2,))])
sample("clamp", "inplace_nonleaf", lambda L, x: (x * 1.0).clamp_(-0.4, 0.6),
       lambda r: [avoid(r, (3, 5), (-0.4, 0.6))])


def _clamp_tensor_inputs(r):
    lo = U(r, (5,), -1.0, -0.1)
    hi = U(r, (3, 1), 0.1, 1.0)
    lo[0] = 1.2  # lo > hi: the result is hi there (torch's rule), and hi gets the gradient
    x = U(r, (3, 5))
    for _ in range(1000):
        bad = (np.abs(x - lo) < 0.05) | (np.abs(x - hi) < 0.05)
        if not bad.any():
            return [x, lo, hi]
        x = np.where(bad, U(r, (3, 5)), x)
    raise AssertionError


sample("clamp_tensor", "tensor_bounds", lambda L, x, lo, hi: L.T.clamp(x, lo, hi),
       _clamp_tensor_inputs)
sample("clamp_tensor", "min_tensor_only", lambda L, x, lo: L.T.clamp(x, min=lo),
       lambda r: _clamp_tensor_inputs(r)[:2])
sample("clamp_tensor", "max_tensor_only", lambda L, x, hi: L.T.clamp(x, max=hi),
       lambda r: [(a := _clamp_tensor_inputs(r))[0], a[2]])
sample("maximum", "broadcast", lambda L, a, b: L.T.maximum(a, b),
       lambda r: [U(r, (3, 5)), U(r, (5,))])
sample("maximum", "0d_vs_1x7", lambda L, a, b: L.T.maximum(a, b),
       lambda r: [U(r, ()), U(r, (1, 7))])
sample("maximum", "max_of_two_tensors", lambda L, a, b: L.T.max(a, b),
       lambda r: [U(r, (3, 5)), U(r, (3, 5))])
sample("minimum", "broadcast", lambda L, a, b: L.T.minimum(a, b),
       lambda r: [U(r, (3, 1)), U(r, (1, 5))])
sample("where", "broadcast", lambda L, a, b: L.T.where(L.const(MASK), a, b),
       lambda r: [U(r, (3, 5)), U(r, (5,))])
sample("where", "scalar_other", lambda L, x: L.T.where(x > 0, x * x, 0.5),
       lambda r: [S(r, (3, 5))])
sample("where", "masked_fill_0d_tensor_value",
       lambda L, x, v: x.masked_fill(L.const(MASK), v), lambda r: [U(r, (3, 5)), U(r, ())])
sample("getitem", "masked_select", lambda L, x: L.T.masked_select(x, L.const(MASK[0])),
       lambda r: [U(r, (3, 5))])
sample("where", "masked_fill", lambda L, x: x.masked_fill(L.const(MASK), 0.5) * x,
       lambda r: [U(r, (3, 5))])

# ---- reductions ----------------------------------------------------------------------------
sample("sum", "dim1", lambda L, x: x.sum(1), lambda r: [U(r, (3, 5))])
sample("sum", "dims_keepdim", lambda L, x: x.sum((0, 2), keepdim=True), lambda r: [U(r, (2, 3, 2))])
sample("sum", "dtype_and_mean_keepdim",
       lambda L, x: x.sum(1, dtype=L.T.float64) + x.mean((0, 1), keepdim=True),
       lambda r: [U(r, (3, 5))])
sample("sum", "0d_dim0", lambda L, x: x.sum(0), lambda r: [U(r, ())])
sample("sum", "var_dim_correction0", lambda L, x: x.var(1, correction=0), lambda r: [U(r, (3, 5))])
sample("sum", "std_dim0_keepdim", lambda L, x: x.std(0, keepdim=True), lambda r: [U(r, (3, 5))])
sample("sum", "logsumexp", lambda L, x: x.logsumexp(1), lambda r: [U(r, (3, 5))])
sample("sum", "norm_p3_dim", lambda L, x: x.norm(p=3, dim=1), lambda r: [S(r, (3, 5))])
sample("sum", "mean_dim", lambda L, x: x.mean(-1), lambda r: [U(r, (1, 7))])
sample("sum_all", "full", lambda L, x: x.sum(), lambda r: [U(r, (3, 5))])
sample("sum_all", "mean_0d", lambda L, x: x.mean(), lambda r: [U(r, ())])
sample("sum_all", "var", lambda L, x: x.var(), lambda r: [U(r, (1, 7))])
sample("cumsum", "dim1", lambda L, x: x.cumsum(1), lambda r: [U(r, (3, 5))])
sample("cumsum", "dim0_1x7", lambda L, x: x.cumsum(0), lambda r: [U(r, (1, 7))])
sample("cumsum", "negative_dim_3d", lambda L, x: x.cumsum(-2), lambda r: [U(r, (2, 3, 2))])
sample("cumsum", "0d", lambda L, x: x.cumsum(0), lambda r: [U(r, ())])
sample("logcumsumexp", "dim1", lambda L, x: L.T.logcumsumexp(x, 1), lambda r: [U(r, (3, 5), -3, 3)])
sample("logcumsumexp", "method_negative_dim_3d", lambda L, x: x.logcumsumexp(-2),
       lambda r: [U(r, (2, 4, 3))])
sample("logcumsumexp", "0d", lambda L, x: x.logcumsumexp(0), lambda r: [U(r, ())])
sample("extreme", "amax_dim", lambda L, x: x.amax(1), lambda r: [U(r, (3, 5))])
sample("extreme", "amin_dims_keepdim", lambda L, x: x.amin((0, 2), keepdim=True),
       lambda r: [U(r, (2, 3, 2))])
sample("extreme", "amax_dims", lambda L, x: x.amax((0, 2)), lambda r: [U(r, (2, 3, 2))])
sample("extreme", "max_all", lambda L, x: x.max(), lambda r: [U(r, (1, 7))])
sample("extreme", "min_all_0d", lambda L, x: x.min(), lambda r: [U(r, ())])
sample("extreme", "norm_inf", lambda L, x: x.norm(p=float("inf")), lambda r: [S(r, (3, 5))])

# ---- softmax, log_softmax ------------------------------------------------------------------
sample("softmax", "dim1", lambda L, x: x.softmax(1), lambda r: [U(r, (3, 5))])
sample("softmax", "0d", lambda L, x: L.F.softmax(x, dim=0), lambda r: [U(r, ())])
sample("softmax", "functional_dim0", lambda L, x: L.F.softmax(x, dim=0), lambda r: [U(r, (1, 7))])
sample("log_softmax", "dim_last", lambda L, x: x.log_softmax(-1), lambda r: [U(r, (3, 5))])
sample("log_softmax", "cross_entropy_probability_target",
       lambda L, x, t: L.F.cross_entropy(x, t, label_smoothing=0.1),
       lambda r: [U(r, (4, 3)), U(r, (4, 3), 0, 1)])
sample("log_softmax", "functional_dim1_3d", lambda L, x: L.F.log_softmax(x, dim=1),
       lambda r: [U(r, (2, 3, 2))])

# ---- conversion ----------------------------------------------------------------------------
# float64 -> float32 -> float64 on multiples of 1/64 with eps = 2**-10: every value and every
# perturbation is exact in float32, so the finite differences are exact too.
sample("to_dtype", "float_double", lambda L, x: x.float().double() * x,
       lambda r: [grid(r, (3, 5))], eps=2.0 ** -10,
       grad_outputs=lambda r, shapes: [grid(r, s) for s in shapes])
sample("to_device", "cuda_and_back", lambda L, x: x.to("cuda").to("cpu") * x,
       lambda r: [U(r, (3, 5))], needs="cupy")

# ---- indexing ------------------------------------------------------------------------------
sample("getitem", "basic_slices", lambda L, x: x[1:, ::2], lambda r: [U(r, (3, 5))])
sample("getitem", "int_0d_result", lambda L, x: x[1, 3], lambda r: [U(r, (3, 5))])
sample("getitem", "none_ellipsis", lambda L, x: x[None, ..., 1], lambda r: [U(r, (2, 3, 2))])
sample("getitem", "advanced_repeats", lambda L, x: x[[0, 0, 2], [1, 1, 3]],
       lambda r: [U(r, (3, 5))])
sample("getitem", "tensor_index_repeats", lambda L, x: x[L.const(np.array([2, 0, 2]))],
       lambda r: [U(r, (3, 5))])
sample("getitem", "negative_int_and_0d_tensor_index",
       lambda L, x: x[-1, L.const(np.array(-2))], lambda r: [U(r, (3, 5))])
sample("getitem", "bool_mask", lambda L, x: x[L.const(MASK)], lambda r: [U(r, (3, 5))])
sample("getitem", "index_select", lambda L, x: x.index_select(1, L.const(np.array([4, 0, 4]))),
       lambda r: [U(r, (3, 5))])
sample("index_put_zeros", "grad_of_slices", lambda L, x, g: vjp_at(L, lambda x: x[1:, ::2], [x], g),
       lambda r: [U(r, (3, 5)), G(r, (2, 3))], nograd=(0,))
sample("index_put_zeros", "grad_of_advanced_repeats",
       lambda L, x, g: vjp_at(L, lambda x: x[[0, 0, 2], [1, 1, 3]], [x], g),
       lambda r: [U(r, (3, 5)), G(r, (3,))], nograd=(0,))


def _setitem_slices(L, x, v):
    y = x * 1.0
    y[1:, ::2] = v
    return y


def _setitem_advanced(L, x, v):
    y = x * 1.0
    y[[0, 2]] = v
    return y


def _setitem_scalar(L, x):
    y = x * 2.0
    y[0, 1] = 0.5
    return y


sample("setitem", "slices_broadcast_value", _setitem_slices, lambda r: [U(r, (3, 5)), U(r, (1, 3))])
sample("setitem", "advanced_rows", _setitem_advanced, lambda r: [U(r, (3, 5)), U(r, (5,))])
def _setitem_leading_ones(L, x, v):
    y = x * 1.0
    y[1:, ::2] = v  # v (1, 1, 3): numpy and torch drop the leading 1s
    return y


sample("setitem", "python_scalar", _setitem_scalar, lambda r: [U(r, (3, 5))])
sample("setitem", "value_with_extra_leading_ones", _setitem_leading_ones,
       lambda r: [U(r, (3, 5)), U(r, (1, 1, 3))])
sample("zero_region", "grad_of_setitem",
       lambda L, x, v, g: vjp_at(L, lambda x, v: _setitem_slices(L, x, v), [x, v], g),
       lambda r: [U(r, (3, 5)), U(r, (1, 3)), G(r, (3, 5))], nograd=(0, 1))


def _inplace_on_view(L, x, w):
    y = x * 1.0
    y[1:, ::2].mul_(w)  # in place on a view of a non-leaf: the base gets a CopySlices node
    return y


def _inplace_on_row(L, x, w):
    y = x.sin()
    row = y[1]
    row.add_(w)
    return y * row.sum()


sample("copy_slices", "mul_on_strided_view", _inplace_on_view,
       lambda r: [U(r, (3, 5)), U(r, (3,))])
sample("copy_slices", "add_on_row_then_read", _inplace_on_row,
       lambda r: [U(r, (3, 5)), U(r, (5,))])
sample("zero_view_region", "grad_of_copy_slices",
       lambda L, x, w, g: L.grad(_inplace_on_view(L, x, w), [x, w], g),
       lambda r: [U(r, (3, 5)), U(r, (3,)), G(r, (3, 5))])


def _copy_broadcast(L, x, s):
    y = x * 1.0
    y.copy_(s)
    return y * x


def _fill_tensor(L, x, v):
    y = x * 1.0
    y[:, 1:3].fill_(v)
    return y


def _fill_scalar(L, x):
    y = x * 2.0
    y.fill_(0.5)
    return y + x.sin()


def _zero_view(L, x):
    y = x.sin()
    y[1:].zero_()
    return y


sample("copy", "copy_broadcast_src", _copy_broadcast, lambda r: [U(r, (3, 5)), U(r, (5,))])
sample("copy", "fill_with_0d_tensor_on_view", _fill_tensor, lambda r: [U(r, (3, 5)), U(r, ())])
sample("fill", "fill_scalar", _fill_scalar, lambda r: [U(r, (3, 5))])
sample("fill", "zero_on_view", _zero_view, lambda r: [U(r, (3, 5))])
sample("gather", "dim1_repeats", lambda L, x: x.gather(1, L.const(IDX)), lambda r: [U(r, (3, 5))])
sample("gather", "dim0", lambda L, x: x.gather(0, L.const(IDX[:2, :3])), lambda r: [U(r, (3, 4))])
sample("gather", "take_along_dim", lambda L, x: L.T.take_along_dim(x, L.const(IDX[:1]), 1),
       lambda r: [U(r, (3, 5))])
sample("gather", "0d", lambda L, x: x.gather(0, L.const(np.array(0))), lambda r: [U(r, ())])
sample("gather", "max_dim_values", lambda L, x: x.max(1)[0], lambda r: [U(r, (3, 5))])
sample("scatter_add", "dim1_repeats", lambda L, a, b: a.scatter_add(1, L.const(IDX), b),
       lambda r: [U(r, (3, 5)), U(r, (3, 4))])
# torch's own backward fails here (ScatterAddBackward0 returns a gradient of index's shape for
# src), so only fastdl's checks apply
sample("scatter_add", "src_larger_than_index",
       lambda L, a, b: a.scatter_add(1, L.const(IDX[:, :2]), b),
       lambda r: [U(r, (3, 5)), U(r, (3, 4))], torch=False)
sample("scatter_add", "dim0", lambda L, a, b: a.scatter_add(0, L.const(IDX[:2, :3]), b),
       lambda r: [U(r, (3, 4)), U(r, (2, 3))])
# scatter: torch leaves duplicate indices undefined, so it is compared on unique ones only
IDX_UNIQUE = np.array([[4, 0, 2, 1], [1, 3, 0, 4], [2, 4, 3, 0]])  # no repeat within a row
sample("scatter", "dim1_unique", lambda L, a, b: a.scatter(1, L.const(IDX_UNIQUE), b),
       lambda r: [U(r, (3, 5)), U(r, (3, 4))])
sample("scatter", "negative_dim0_unique",
       lambda L, a, b: L.T.scatter(a, -2, L.const(np.array([[2, 0, 1], [0, 1, 2]])), b),
       lambda r: [U(r, (3, 4)), U(r, (2, 3))])
sample("scatter", "src_larger_than_index",  # torch's backward fails here, as for scatter_add
       lambda L, a, b: a.scatter(1, L.const(IDX_UNIQUE[:, :2]), b),
       lambda r: [U(r, (3, 5)), U(r, (3, 4))], torch=False)
sample("scatter", "duplicates_last_write_wins",  # fastdl's defined order: not torch's
       lambda L, a, b: a.scatter(1, L.const(IDX), b), lambda r: [U(r, (3, 5)), U(r, (3, 4))],
       torch=False)
sample("scatter_fill", "value", lambda L, x: x.scatter(1, L.const(IDX), 2.5),
       lambda r: [U(r, (3, 5))])
sample("scatter_fill", "grad_of_scatter", lambda L, a, b, g: vjp_at(
           L, lambda a, b: a.scatter(0, L.const(np.array([[2, 0, 1]])), b), [a, b], g),
       lambda r: [U(r, (3, 3)), U(r, (1, 3)), G(r, (3, 3))], nograd=(0, 1))
for _reduce in ("sum", "mean", "amax", "amin", "prod"):
    for _include_self in (True, False):
        # IDX repeats within rows; continuous random values keep amax/amin free of ties, and
        # prod's values are away from 0 (its zeros have their own sample)
        sample("scatter_reduce", f"{_reduce}_include_self_{_include_self}",
               lambda L, a, b, reduce=_reduce, include_self=_include_self: a.scatter_reduce(
                   1, L.const(IDX), b, reduce, include_self=include_self),
               lambda r: [S(r, (3, 5), 0.5, 1.5), S(r, (3, 4), 0.5, 1.5)])
sample("scatter_reduce", "prod_zeros", lambda L, a, b: a.scatter_reduce(0, L.const(IDX[:2]), b,
                                                                         "prod"),
       lambda r: [np.array([[0.0, 1.2, 0.7, -0.9], [0.8, 0.0, 1.1, 1.3], [1.4, 0.6, 0.9, 0.0]]),
                  np.array([[1.1, 0.0, 0.0, 0.5], [0.0, 0.0, 1.2, -0.7]])], check="grad")
sample("scatter_reduce", "amax_negative_dim_src_larger",
       lambda L, a, b: L.T.scatter_reduce(a, -1, L.const(IDX[:, :2]), b, "amax"),
       lambda r: [U(r, (3, 5)), U(r, (3, 4))], torch=False)  # torch's backward fails, as above

# ---- shape ---------------------------------------------------------------------------------
sample("reshape", "3x5_to_5x3", lambda L, x: x.reshape(5, 3), lambda r: [U(r, (3, 5))])
sample("reshape", "noncontiguous_flatten", lambda L, x: x.t().reshape(-1), lambda r: [U(r, (3, 5))])
sample("reshape", "unsqueeze_squeeze", lambda L, x: x.unsqueeze(0).squeeze(1),
       lambda r: [U(r, (1, 7))])
sample("reshape", "0d_to_1x1", lambda L, x: x.reshape(1, 1), lambda r: [U(r, ())])
sample("permute", "3d", lambda L, x: x.permute(2, 0, 1), lambda r: [U(r, (2, 3, 2))])
sample("permute", "T", lambda L, x: x.T, lambda r: [U(r, (3, 5))])
sample("transpose", "dims_0_2", lambda L, x: x.transpose(0, 2), lambda r: [U(r, (2, 3, 2))])
sample("transpose", "t", lambda L, x: x.t(), lambda r: [U(r, (3, 5))])
sample("cat", "dim1", lambda L, a, b: L.T.cat([a, b], 1), lambda r: [U(r, (3, 2)), U(r, (3, 1))])
sample("cat", "with_legacy_empty", lambda L, a, b: L.T.cat([a, b, a], 0),
       # the empty tensor needs no grad: fastdl.testing.gradcheck rejects an empty input as
       # "not contiguous" (np.shares_memory of empty arrays is False)
       lambda r: [U(r, (2, 3)), np.zeros((0,))], nograd=(1,))
sample("cat", "stack", lambda L, a, b: L.T.stack([a, b, a], 0),
       lambda r: [U(r, (1, 7)), U(r, (1, 7))])
sample("flip", "both_dims", lambda L, x: x.flip((0, 1)), lambda r: [U(r, (3, 5))])
sample("flip", "dim_last", lambda L, x: x.flip(-1), lambda r: [U(r, (2, 3, 2))])
sample("repeat", "tile_3d", lambda L, x: x.repeat(2, 1, 3), lambda r: [U(r, (2, 3))])
sample("repeat", "0d", lambda L, x: x.repeat(3), lambda r: [U(r, ())])
sample("contiguous", "of_transpose", lambda L, x: x.t().contiguous() * 1.0,
       lambda r: [U(r, (3, 5))])
sample("clone", "clone", lambda L, x: x.clone(), lambda r: [U(r, (3, 5))])

# ---- linear algebra ------------------------------------------------------------------------
sample("mm", "matmul_3x4_4x2", lambda L, a, b: a @ b, lambda r: [U(r, (3, 4)), U(r, (4, 2))])
sample("mm", "batched_broadcast", lambda L, a, b: a @ b, lambda r: [U(r, (2, 3, 2)), U(r, (2, 3))])
sample("mm", "matrix_times_batch", lambda L, a, b: a @ b,
       lambda r: [U(r, (3, 2)), U(r, (2, 2, 3))])
sample("mm", "vector_vector", lambda L, a, b: L.T.dot(a, b), lambda r: [U(r, (5,)), U(r, (5,))])
sample("mm", "vector_matrix", lambda L, a, b: a @ b, lambda r: [U(r, (3,)), U(r, (3, 5))])
sample("mm", "mm_transposed_operands", lambda L, a, b: L.T.mm(a.t(), b.t()),
       lambda r: [U(r, (4, 3)), U(r, (2, 4))])
sample("linear", "bias", lambda L, x, w, b: L.F.linear(x, w, b),
       lambda r: [U(r, (3, 4)), U(r, (2, 4)), U(r, (2,))])
sample("linear", "3d_input_no_bias", lambda L, x, w: L.F.linear(x, w),
       lambda r: [U(r, (2, 3, 2)), U(r, (3, 2))])
sample("linear", "strided_operands", lambda L, x, w, b: L.F.linear(x.t(), w.t(), b),
       lambda r: [U(r, (4, 3)), U(r, (4, 2)), U(r, (2,))])
sample("mm", "1x7_times_7x1", lambda L, a, b: a @ b, lambda r: [U(r, (1, 7)), U(r, (7, 1))])
sample("linear", "1d_input", lambda L, x, w, b: L.F.linear(x, w, b),
       lambda r: [U(r, (4,)), U(r, (3, 4)), U(r, (3,))])

def _elu_on_view(L, x):
    y = x * 1.0
    L.F.elu(y[:, 1:4], alpha=0.7, inplace=True)
    return y


# ---- nn activations and their backward ops -------------------------------------------------
_ACT = {
    "leaky_relu": (lambda L, x: L.F.leaky_relu(x, 0.2), lambda r, s: S(r, s)),
    "elu": (lambda L, x: L.F.elu(x, alpha=1.3), lambda r, s: S(r, s)),
    "gelu": (lambda L, x: L.F.gelu(x), lambda r, s: U(r, s, -3.0, 3.0)),
    "silu": (lambda L, x: L.F.silu(x), lambda r, s: U(r, s, -3.0, 3.0)),
    "softplus": (lambda L, x: L.F.softplus(x, beta=2.0, threshold=1.5),
                 lambda r, s: avoid(r, s, (0.75,), -2.0, 2.0)),  # beta * x = threshold
}
for _name, (_fn, _gen) in _ACT.items():
    sample(_name, "3x5", _fn, lambda r, gen=_gen: [gen(r, (3, 5))])
    sample(_name, "0d", _fn, lambda r, gen=_gen: [gen(r, ())])
    if _name == "leaky_relu":  # piecewise linear: its backward op is, given x, linear in g
        sample(f"{_name}_backward", "grad_of_" + _name,
               lambda L, x, g, fn=_fn: vjp_at(L, lambda x: fn(L, x), [x], g),
               lambda r, gen=_gen: [gen(r, (1, 7)), G(r, (1, 7))], nograd=(0,))
    else:
        sample(f"{_name}_backward", "grad_of_" + _name,
               lambda L, x, g, fn=_fn: L.grad(fn(L, x), x, g)[0],
               lambda r, gen=_gen: [gen(r, (1, 7)), G(r, (1, 7))])
sample("gelu", "tanh_approximation", lambda L, x: L.F.gelu(x, approximate="tanh"),
       lambda r: [U(r, (3, 5), -3.0, 3.0)])
sample("gelu_backward", "grad_of_gelu_tanh",
       lambda L, x, g: L.grad(L.F.gelu(x, approximate="tanh"), x, g)[0],
       lambda r: [U(r, (1, 7), -3.0, 3.0), G(r, (1, 7))])
sample("leaky_relu", "inplace_nonleaf", lambda L, x: L.F.leaky_relu(x * 1.0, 0.1, inplace=True),
       lambda r: [S(r, (3, 5))])
sample("elu", "inplace_nonleaf", lambda L, x: L.F.elu(x * 1.0, inplace=True),
       lambda r: [S(r, (1, 7))])
sample("silu", "inplace_nonleaf", lambda L, x: L.F.silu(x + 0.0, inplace=True),
       lambda r: [U(r, (1, 7))])
sample("elu", "inplace_on_view_of_nonleaf", lambda L, x: _elu_on_view(L, x),
       lambda r: [S(r, (3, 5))])
sample("softplus", "default_beta", lambda L, x: L.F.softplus(x), lambda r: [U(r, (3, 5), -4, 4)])

# ---- elementwise losses --------------------------------------------------------------------
sample("mse_loss", "mean", lambda L, x, t: L.F.mse_loss(x, t),
       lambda r: [U(r, (3, 5)), U(r, (3, 5))])
sample("mse_loss", "sum_0d", lambda L, x, t: L.F.mse_loss(x, t, reduction="sum"),
       lambda r: [U(r, ()), U(r, ())])
sample("mse_loss", "none", lambda L, x, t: L.F.mse_loss(x, t, reduction="none"),
       lambda r: [U(r, (1, 7)), U(r, (1, 7))])
sample("scaled_difference", "grad_of_mse",
       lambda L, x, t, g: L.grad(L.F.mse_loss(x, t, reduction="none"), [x, t], g),
       lambda r: [U(r, (3, 5)), U(r, (3, 5)), G(r, (3, 5))])
sample("scaled_difference", "grad_of_mse_mean",
       lambda L, x, t, g: L.grad(L.F.mse_loss(x, t), [x, t], g),
       lambda r: [U(r, (1, 7)), U(r, (1, 7)), G(r, ())])


def _pair_with_diff(r, shape, kinks, lo=-1.5, hi=1.5):
    """(x, t) with x - t away from ``kinks``."""
    x = U(r, shape)
    d = avoid(r, shape, kinks, lo, hi)
    return [x, x - d]


sample("l1_loss", "mean", lambda L, x, t: L.F.l1_loss(x, t),
       lambda r: _pair_with_diff(r, (3, 5), (0.0,)))
sample("l1_loss", "none", lambda L, x, t: L.F.l1_loss(x, t, reduction="none"),
       lambda r: _pair_with_diff(r, (1, 7), (0.0,)))
sample("huber_loss", "delta_0p8", lambda L, x, t: L.F.huber_loss(x, t, delta=0.8),
       lambda r: _pair_with_diff(r, (3, 5), (-0.8, 0.8)))
sample("huber_loss", "sum", lambda L, x, t: L.F.huber_loss(x, t, reduction="sum"),
       lambda r: _pair_with_diff(r, (1, 7), (-1.0, 1.0)))
sample("smooth_l1_loss", "beta_0p6", lambda L, x, t: L.F.smooth_l1_loss(x, t, beta=0.6),
       lambda r: _pair_with_diff(r, (3, 5), (-0.6, 0.6)))
sample("smooth_l1_loss", "none", lambda L, x, t: L.F.smooth_l1_loss(x, t, reduction="none"),
       lambda r: _pair_with_diff(r, (1, 7), (-1.0, 1.0)))
sample("binary_cross_entropy", "weight",
       lambda L, p, t, w: L.F.binary_cross_entropy(p, t, weight=w),
       lambda r: [U(r, (3, 5), 0.1, 0.9), U(r, (3, 5), 0, 1), U(r, (5,), 0.5, 1.5)], nograd=(2,))
sample("binary_cross_entropy", "sum",
       lambda L, p, t: L.F.binary_cross_entropy(p, t, reduction="sum"),
       lambda r: [U(r, (1, 7), 0.1, 0.9), U(r, (1, 7), 0, 1)])
sample("binary_cross_entropy_with_logits", "mean",
       lambda L, x, t: L.F.binary_cross_entropy_with_logits(x, t),
       lambda r: [U(r, (3, 5), -3, 3), U(r, (3, 5), 0, 1)])
sample("binary_cross_entropy_with_logits", "weight_pos_weight",
       lambda L, x, t, w, pw: L.F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw,
                                                                    reduction="none"),
       lambda r: [U(r, (3, 5), -3, 3), U(r, (3, 5), 0, 1), U(r, (3, 1), 0.5, 1.5),
                  U(r, (5,), 0.5, 3.0)], nograd=(2, 3))
sample("kl_div", "batchmean", lambda L, x, t: L.F.kl_div(x, t, reduction="batchmean"),
       lambda r: [U(r, (3, 5), -3, 0), U(r, (3, 5), 0.1, 1.0)])
sample("kl_div", "mean", lambda L, x, t: L.F.kl_div(x, t, reduction="mean"),
       lambda r: [U(r, (1, 7), -3, 0), U(r, (1, 7), 0.1, 1.0)])
sample("huber_loss", "none", lambda L, x, t: L.F.huber_loss(x, t, reduction="none", delta=0.5),
       lambda r: _pair_with_diff(r, (3, 5), (-0.5, 0.5)))
sample("kl_div", "log_target_none",
       lambda L, x, t: L.F.kl_div(x, t, reduction="none", log_target=True),
       lambda r: [U(r, (1, 7), -3, 0), U(r, (1, 7), -3, 0)])

# ---- classification losses -----------------------------------------------------------------
T4 = np.array([1, 0, 2, 1])
T23 = np.array([[0, 2], [1, 1]])
W3 = np.array([0.7, 1.3, 0.9])

sample("nll_loss", "weight_mean", lambda L, x: L.F.nll_loss(x, L.const(T4), weight=L.const(W3)),
       lambda r: [U(r, (4, 3), -3, 0)])
sample("nll_loss", "ignore_index_sum_3d",
       lambda L, x: L.F.nll_loss(x, L.const(T23), ignore_index=1, reduction="sum"),
       lambda r: [U(r, (2, 3, 2), -3, 0)])
sample("nll_loss", "1d_none", lambda L, x: L.F.nll_loss(x, L.const(np.array(2)), reduction="none"),
       lambda r: [U(r, (3,), -3, 0)])
sample("nll_loss_backward", "grad_of_nll",
       lambda L, x, g: vjp_at(L, lambda x: L.F.nll_loss(x, L.const(T4), weight=L.const(W3),
                                                       reduction="none"), [x], g),
       lambda r: [U(r, (4, 3), -3, 0), G(r, (4,))], nograd=(0,))
sample("nll_loss_backward", "grad_of_nll_mean_3d",
       lambda L, x, g: vjp_at(L, lambda x: L.F.nll_loss(x, L.const(T23), ignore_index=2), [x], g),
       lambda r: [U(r, (2, 3, 2), -3, 0), G(r, ())], nograd=(0,))
sample("cross_entropy", "mean", lambda L, x: L.F.cross_entropy(x, L.const(T4)),
       lambda r: [U(r, (4, 3))])
sample("cross_entropy", "weight_smoothing_ignore",
       lambda L, x: L.F.cross_entropy(x, L.const(T4), weight=L.const(W3), ignore_index=0,
                                      label_smoothing=0.1),
       lambda r: [U(r, (4, 3))])
sample("cross_entropy", "1d_input", lambda L, x: L.F.cross_entropy(x, L.const(np.array(1))),
       lambda r: [U(r, (3,))])
sample("cross_entropy", "3d_none", lambda L, x: L.F.cross_entropy(x, L.const(T23),
                                                                  reduction="none"),
       lambda r: [U(r, (2, 3, 2))])
sample("cross_entropy_backward", "grad_of_ce",
       lambda L, x, g: L.grad(L.F.cross_entropy(x, L.const(T4), weight=L.const(W3),
                                                label_smoothing=0.2), x, g)[0],
       lambda r: [U(r, (4, 3)), G(r, ())])
sample("cross_entropy_backward", "grad_of_ce_sum_ignore_index",
       lambda L, x, g: L.grad(L.F.cross_entropy(x, L.const(T4), ignore_index=1,
                                                reduction="sum"), x, g)[0],
       lambda r: [U(r, (4, 3)), G(r, ())])
sample("cross_entropy_backward", "grad_of_ce_3d_mean_weight",
       lambda L, x, g: L.grad(L.F.cross_entropy(x, L.const(T23), weight=L.const(W3)), x, g)[0],
       lambda r: [U(r, (2, 3, 2)), G(r, ())])
sample("cross_entropy_backward", "grad_of_ce_none",
       lambda L, x, g: L.grad(L.F.cross_entropy(x, L.const(T23), reduction="none"), x, g)[0],
       lambda r: [U(r, (2, 3, 2)), G(r, (2, 2))])


def _margin_inputs(r, shape, target, margin):
    """Scores with every margin - x[y] + x[j] away from 0 (the hinge's kink)."""
    for _ in range(1000):
        x = U(r, shape)
        rows = x.reshape(-1, shape[-1])
        z = margin - rows[np.arange(rows.shape[0]), np.reshape(target, -1)][:, None] + rows
        if (np.abs(z) > 0.05).all():
            return [x]
    raise AssertionError


sample("multi_margin_loss", "p1_mean", lambda L, x: L.F.multi_margin_loss(x, L.const(T4)),
       lambda r: _margin_inputs(r, (4, 3), T4, 1.0))
sample("multi_margin_loss", "p2_weight_margin_sum",
       lambda L, x: L.F.multi_margin_loss(x, L.const(T4), p=2, margin=0.7, weight=L.const(W3),
                                          reduction="sum"),
       lambda r: _margin_inputs(r, (4, 3), T4, 0.7))
sample("multi_margin_loss", "p2_none", lambda L, x: L.F.multi_margin_loss(x, L.const(T4), p=2,
                                                                      reduction="none"),
       lambda r: _margin_inputs(r, (4, 3), T4, 1.0))
sample("multi_margin_loss", "1d_none",
       lambda L, x: L.F.multi_margin_loss(x, L.const(np.array([2])), reduction="none"),
       lambda r: _margin_inputs(r, (5,), np.array([2]), 1.0))

# ---- normalization -------------------------------------------------------------------------
RM, RV = np.array([0.1, -0.2]), np.array([0.8, 1.3])

sample("batch_norm", "training_affine",
       lambda L, x, w, b: L.F.batch_norm(x, None, None, w, b, training=True),
       lambda r: [U(r, (3, 2, 2)), U(r, (2,), 0.5, 1.5), U(r, (2,))])
sample("batch_norm", "training_2d_no_affine",
       lambda L, x: L.F.batch_norm(x, None, None, training=True), lambda r: [U(r, (4, 3))])
sample("batch_norm", "eval_running_stats",
       lambda L, x, w, b: L.F.batch_norm(x, L.const(RM), L.const(RV), w, b, training=False),
       lambda r: [U(r, (3, 2, 2)), U(r, (2,), 0.5, 1.5), U(r, (2,))])
sample("layer_norm", "affine", lambda L, x, w, b: L.F.layer_norm(x, (4,), w, b),
       lambda r: [U(r, (3, 4)), U(r, (4,), 0.5, 1.5), U(r, (4,))])
sample("layer_norm", "bias_only", lambda L, x, b: L.F.layer_norm(x, (4,), None, b),
       lambda r: [U(r, (3, 4)), U(r, (4,))])
sample("batch_norm", "training_bias_only",
       lambda L, x, b: L.F.batch_norm(x, None, None, None, b, training=True),
       lambda r: [U(r, (3, 2, 2)), U(r, (2,))])
sample("batch_norm", "eval_bias_only",
       lambda L, x, b: L.F.batch_norm(x, L.const(RM), L.const(RV), None, b, training=False),
       lambda r: [U(r, (3, 2)), U(r, (2,))])
sample("batch_norm", "training_weight_only_4d",
       lambda L, x, w: L.F.batch_norm(x, None, None, w, training=True),
       lambda r: [U(r, (2, 2, 2, 2)), U(r, (2,), 0.5, 1.5)])
sample("layer_norm", "two_dims_no_affine", lambda L, x: L.F.layer_norm(x, (3, 2)),
       lambda r: [U(r, (2, 3, 2))])


def _bn_grad(L, x, w, b, g):
    return L.grad(L.F.batch_norm(x, None, None, w, b, training=True), [x, w], g)


def _ln_grad(L, x, w, g):
    return L.grad(L.F.layer_norm(x, (4,), w), [x, w], g)


sample("normalize_backward", "grad_of_batch_norm", _bn_grad,
       lambda r: [U(r, (3, 2, 2)), U(r, (2,), 0.5, 1.5), U(r, (2,)), G(r, (3, 2, 2))], nograd=(2,))
sample("normalize_backward", "grad_of_layer_norm_no_affine",
       lambda L, x, g: L.grad(L.F.layer_norm(x, (4,)), x, g)[0],
       lambda r: [U(r, (2, 4)), G(r, (2, 4))])
sample("normalize_backward", "grad_of_batch_norm_eval",
       lambda L, x, w, g: L.grad(L.F.batch_norm(x, L.const(RM), L.const(RV), w, training=False),
                                 [x, w], g),
       lambda r: [U(r, (3, 2, 2)), U(r, (2,), 0.5, 1.5), G(r, (3, 2, 2))])
sample("normalize_backward", "grad_of_layer_norm_affine_3d",
       lambda L, x, w, b, g: L.grad(L.F.layer_norm(x, (2,), w, b), [x, w], g),
       lambda r: [U(r, (2, 2, 2)), U(r, (2,), 0.5, 1.5), U(r, (2,)), G(r, (2, 2, 2))],
       nograd=(2,))
sample("normalize_backward", "grad_of_batch_norm_no_affine",
       lambda L, x, g: L.grad(L.F.batch_norm(x, None, None, training=True), x, g)[0],
       lambda r: [U(r, (4, 2)), G(r, (4, 2))])
sample("normalize_weight_grad", "grad_of_layer_norm", _ln_grad,
       lambda r: [U(r, (2, 4)), U(r, (4,), 0.5, 1.5), G(r, (2, 4))])
sample("normalize_weight_grad", "grad_of_batch_norm", _bn_grad,
       lambda r: [U(r, (3, 2, 2)), U(r, (2,), 0.5, 1.5), U(r, (2,)), G(r, (3, 2, 2))], nograd=(2,))
# normalize (xhat as an op) only appears in the double backward: found one level down
sample("normalize", "double_backward_of_layer_norm", _ln_grad,
       lambda r: [U(r, (2, 4)), U(r, (4,), 0.5, 1.5), G(r, (2, 4))])

# ---- embedding -----------------------------------------------------------------------------
EMB_IDX = np.array([[0, 2, 2], [4, 1, 2]])

sample("embedding", "plain", lambda L, w: L.F.embedding(L.const(EMB_IDX), w),
       lambda r: [U(r, (5, 3))])
sample("embedding", "padding_idx_scale_by_freq",
       lambda L, w: L.F.embedding(L.const(EMB_IDX), w, padding_idx=1, scale_grad_by_freq=True),
       lambda r: [U(r, (5, 3))],
       not_a_derivative="padding_idx and scale_grad_by_freq modify the gradient (as in torch)")
sample("embedding_backward", "grad_of_embedding_padding",
       lambda L, w, g: vjp_at(L, lambda w: L.F.embedding(L.const(EMB_IDX), w, padding_idx=4), [w],
                              g),
       lambda r: [U(r, (5, 3)), G(r, (2, 3, 3))], nograd=(0,))
# torch's double backward of embedding ignores scale_grad_by_freq (embedding_dense_double_backward
# takes no counts), so only fastdl's own checks apply: its value is linear in g and gradcheck
# confirms its derivative is the exact adjoint (scaled rows)
sample("embedding_backward", "grad_of_embedding_scale_by_freq",
       lambda L, w, g: vjp_at(L, lambda w: L.F.embedding(L.const(EMB_IDX), w, padding_idx=4,
                                                         scale_grad_by_freq=True), [w], g),
       lambda r: [U(r, (5, 3)), G(r, (2, 3, 3))], nograd=(0,), torch=False)


# ---- module backward hooks -----------------------------------------------------------------
def _hooked_pair(L, a, b):
    """A module with two tensor inputs and two outputs under a full backward hook: both pass
    through multi-output identity ops (one select node per tensor)."""
    class Pair(L.nn.Module):
        def forward(self, a, b):
            return a * b, a + b

    m = Pair()
    m.register_full_backward_hook(lambda mod, grad_input, grad_output: None)
    p, s = m(a, b)
    return p * s.sin()


def _hooked_single(L, x):
    class Square(L.nn.Module):
        def forward(self, x):
            return x * x

    m = Square()
    m.register_full_backward_hook(lambda mod, grad_input, grad_output: None)
    return m(x)


for _op in ("module_inputs_backward_hook", "module_outputs_backward_hook"):
    sample(_op, "two_in_two_out", _hooked_pair, lambda r: [U(r, (3, 5)), U(r, (5,))])
    sample(_op, "one_in_one_out", _hooked_single, lambda r: [U(r, (1, 7))])
    sample(_op + ".select", "two_in_two_out", _hooked_pair, lambda r: [U(r, (3, 5)), U(r, (5,))])


# ---- the same samples with some inputs held constant ---------------------------------------
# Backward formulas branch on which inputs need a gradient (ctx.edges, need_t): with one input
# constant, the other branch runs, and in double backward a different set of nodes is recorded.
def with_constants(sample_id, nograd):
    import dataclasses
    base = next(s for s in SAMPLES if s.id == sample_id)
    tag = "_".join(str(i) for i in nograd)
    SAMPLES.append(dataclasses.replace(base, name=f"{base.name}-const{tag}",
                                       nograd=tuple(sorted(set(base.nograd) | set(nograd)))))


for _id, _nograd in [
        ("add:broadcast_3x5_5", (1,)), ("sub:broadcast_3x1_1x5", (0,)),
        ("mul:broadcast_3x5_5", (1,)), ("mul:broadcast_3x5_5", (0,)),
        ("div:broadcast", (0,)), ("div:broadcast", (1,)),
        ("remainder:mod_broadcast", (0,)), ("remainder:mod_broadcast", (1,)),
        ("pow:tensor_exponent", (0,)), ("pow:tensor_exponent", (1,)),
        ("clamp_tensor:tensor_bounds", (1, 2)), ("clamp_tensor:tensor_bounds", (0,)),
        ("maximum:broadcast", (1,)), ("where:broadcast", (0,)),
        ("mm:matmul_3x4_4x2", (0,)), ("mm:matmul_3x4_4x2", (1,)),
        ("mm:batched_broadcast", (1,)),
        ("linear:bias", (1, 2)), ("linear:bias", (0,)), ("linear:bias", (0, 1)),
        ("cat:dim1", (0,)), ("scatter_add:dim1_repeats", (0,)), ("scatter_add:dim1_repeats", (1,)),
        ("scatter:dim1_unique", (0,)), ("scatter:dim1_unique", (1,)),
        ("scatter_reduce:prod_include_self_True", (0,)),
        ("scatter_reduce:prod_include_self_True", (1,)),
        ("scatter_reduce:amax_include_self_False", (1,)), ("fmod:broadcast", (0,)),
        ("copy:copy_broadcast_src", (1,)), ("copy_slices:mul_on_strided_view", (1,)),
        ("setitem:slices_broadcast_value", (0,)), ("setitem:slices_broadcast_value", (1,)),
        ("mse_loss:mean", (1,)), ("l1_loss:mean", (1,)), ("huber_loss:delta_0p8", (0,)),
        ("smooth_l1_loss:beta_0p6", (1,)), ("binary_cross_entropy:weight", (1,)),
        ("binary_cross_entropy_with_logits:weight_pos_weight", (1,)),
        ("binary_cross_entropy_with_logits:mean", (0,)),
        ("kl_div:batchmean", (1,)), ("kl_div:log_target_none", (1,)), ("kl_div:batchmean", (0,)),
        ("scaled_difference:grad_of_mse", (2,)), ("cross_entropy_backward:grad_of_ce", (1,)),
        ("batch_norm:training_affine", (0,)), ("batch_norm:training_affine", (1,)),
        ("layer_norm:affine", (0, 2)),
        ("normalize_backward:grad_of_batch_norm", (3,)), ("gelu_backward:grad_of_gelu", (1,)),
        ("module_inputs_backward_hook:two_in_two_out", (1,)),
]:
    with_constants(_id, _nograd)

# first derivatives with respect to some inputs only (the others constant in the sample)
sample("scaled_difference", "grad_of_mse_wrt_input_only",
       lambda L, x, t, g: L.grad(L.F.mse_loss(x, t, reduction="sum"), x, g)[0],
       lambda r: [U(r, (3, 5)), U(r, (3, 5)), G(r, ())], nograd=(1,))
sample("cross_entropy_backward", "grad_of_ce_at_fixed_input",
       lambda L, x, g: vjp_at(L, lambda x: L.F.cross_entropy(x, L.const(T4), label_smoothing=0.1),
                              [x], g),
       lambda r: [U(r, (4, 3)), G(r, ())], nograd=(0,))
sample("normalize_backward", "grad_of_batch_norm_constant_params",
       lambda L, x, g: L.grad(L.F.batch_norm(x, None, None, L.const(np.array([0.6, 1.4])),
                                             L.const(np.array([0.2, -0.3])), training=True),
                              x, g)[0],
       lambda r: [U(r, (3, 2, 2)), G(r, (3, 2, 2))])
sample("normalize_weight_grad", "grad_of_layer_norm_wrt_weight_only",  # linear in g alone
       lambda L, x, w, g: vjp_at(L, lambda w: L.F.layer_norm(x, (4,), w), [w], g),
       lambda r: [U(r, (2, 4)), U(r, (4,), 0.5, 1.5), G(r, (2, 4))], nograd=(0, 1))
sample("normalize_backward", "grad_of_layer_norm_wrt_input_only",
       lambda L, x, w, g: L.grad(L.F.layer_norm(x, (4,), w), x, g)[0],
       lambda r: [U(r, (2, 4)), U(r, (4,), 0.5, 1.5), G(r, (2, 4))], nograd=(1,))
sample("softplus_backward", "grad_of_softplus_at_fixed_input",
       lambda L, x, g: vjp_at(L, lambda x: L.F.softplus(x, beta=2.0, threshold=1.5), [x], g),
       lambda r: [avoid(r, (1, 7), (0.75,), -2.0, 2.0), G(r, (1, 7))], nograd=(0,))


# Kernel families keep their samples in their own files (op_samples_<family>.py), each calling
# ``sample`` from here; importing them last lets them use every helper above.
def _load_family_samples():
    import importlib
    import pathlib
    for path in sorted(pathlib.Path(__file__).parent.glob("op_samples_*.py")):
        importlib.import_module(path.stem)


_load_family_samples()
