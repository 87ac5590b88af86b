"""Central differences (float64) against autograd for every differentiable op, including the
second derivatives (gradgradcheck) that create_graph relies on."""
import numpy as np
import pytest

import fastdl
from fastdl.testing import GradcheckError, gradcheck, gradgradcheck


def _x(*shape, seed=0, low=-1.5, high=1.5):
    rng = np.random.default_rng(seed)
    return fastdl.tensor(rng.uniform(low, high, shape), requires_grad=True)


IDX = fastdl.tensor([[0, 2, 1], [2, 2, 0]])

OPS_1 = {
    "exp": lambda x: x.exp(), "log": lambda x: (x.abs() + 0.5).log(),
    "sqrt": lambda x: (x * x + 0.3).sqrt(), "sin": lambda x: x.sin(), "cos": lambda x: x.cos(),
    "tanh": lambda x: x.tanh(), "sigmoid": lambda x: x.sigmoid(), "reciprocal": lambda x: (x + 3).reciprocal(),
    "pow_scalar": lambda x: x ** 3, "rpow": lambda x: 1.7 ** x, "abs": lambda x: (x + 0.05).abs(),
    "relu": lambda x: (x + 0.05).relu(), "clamp": lambda x: (x + 0.05).clamp(-0.5, 0.5),
    "softmax": lambda x: x.softmax(1), "log_softmax": lambda x: x.log_softmax(0),
    "logsumexp": lambda x: x.logsumexp(1), "var": lambda x: x.var(1), "std": lambda x: x.std(),
    "mean": lambda x: x.mean(0, keepdim=True), "sum": lambda x: x.sum((0, 1)),
    "max_dim": lambda x: x.max(1)[0], "amax": lambda x: x.amax(0), "min_all": lambda x: x.min(),
    "reshape_T": lambda x: x.reshape(4, 3).T * 1.0, "permute": lambda x: x[None].permute(2, 0, 1),
    "expand": lambda x: x[:, :1].expand(3, 5), "index_adv": lambda x: x[[0, 0, 2], [1, 1, 3]],
    "index_mask": lambda x: x[x > 0.2], "gather": lambda x: x[:2].gather(1, IDX),
    "cat_split": lambda x: fastdl.cat(x.split([1, 2], 0)[::-1], 0) * 2.0,
    "stack_chunk": lambda x: fastdl.stack(x.chunk(2, 1)[:1] * 2, 0),
    "where": lambda x: fastdl.where(x > 0, x * x, -x),
    "masked_fill": lambda x: x.masked_fill(x < 0, 0.5) * x,
    "matmul_self": lambda x: x @ x.T, "cumsum": lambda x: x.cumsum(1),
    "norm": lambda x: x.norm(), "repeat": lambda x: x.repeat(2, 1),
    "to_float64": lambda x: x.to(fastdl.float64) * x.clone(),
}


@pytest.mark.parametrize("name", sorted(OPS_1))
def test_gradcheck_unary(name):
    assert gradcheck(OPS_1[name], (_x(3, 4),), atol=1e-6)


OPS_2 = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 0.5), "pow": lambda a, b: (a * a + 0.5) ** b,
    "maximum": lambda a, b: fastdl.maximum(a, b * 0.9), "minimum": lambda a, b: fastdl.minimum(a, b),
    "matmul": lambda a, b: a @ b.T, "bmm_broadcast": lambda a, b: a[None] @ b.T[None, None],
    "scatter_add": lambda a, b: a.scatter_add(1, IDX.repeat(2, 1)[:3], b[:, :3]),
    "where2": lambda a, b: fastdl.where(a > b, a, b * 2),
}


@pytest.mark.parametrize("name", sorted(OPS_2))
def test_gradcheck_binary_with_broadcast(name):
    a = _x(3, 4)
    b = _x(4, seed=1) if name in ("add", "sub", "mul", "div", "pow", "maximum", "where2") \
        else _x(3, 4, seed=1)
    if name in ("matmul", "bmm_broadcast"):
        b = _x(5, 4, seed=1)
    assert gradcheck(OPS_2[name], (a, b), atol=1e-6)


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid", "softmax", "log_softmax", "logsumexp",
                                  "var", "pow_scalar", "rpow", "sqrt", "gather", "index_adv",
                                  "where", "matmul_self", "cumsum", "max_dim", "expand", "log",
                                  "sin", "reciprocal"])
def test_gradgradcheck_unary(name):
    assert gradgradcheck(OPS_1[name], (_x(3, 4),), atol=1e-5)


@pytest.mark.parametrize("name", ["mul", "div", "matmul", "pow", "scatter_add"])
def test_gradgradcheck_binary(name):
    a, b = _x(3, 4), _x(3, 4, seed=1)
    if name == "matmul":
        b = _x(5, 4, seed=1)
    assert gradgradcheck(OPS_2[name], (a, b), atol=1e-5)


def test_gradcheck_detects_a_wrong_backward():
    class Wrong(fastdl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x  # missing factor 2

    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(Wrong.apply, (_x(3),))
    assert gradcheck(Wrong.apply, (_x(3),), raise_exception=False) is False


def test_gradcheck_requires_float64():
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda x: x * 2, (fastdl.randn(3, requires_grad=True),))


def test_gradgradcheck_detects_a_non_differentiable_backward():
    class DetachedBackward(fastdl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * (x * x).detach()  # right first derivative, no second derivative

    x = _x(3)
    assert gradcheck(DetachedBackward.apply, (x,))
    with pytest.raises(GradcheckError):
        gradgradcheck(DetachedBackward.apply, (x,))
