"""torch's top-level in-place functions (torch.sin_, torch.clamp_, torch.gcd_ ...): each
writes into and returns its first argument, with torch's values, and autograd's in-place
rules apply as for the Tensor method."""
import numpy as np
import pytest

import fastdl
from fastdl.functional.inplace_toplevel import INPLACE

torch = pytest.importorskip("torch")

UNIT = [0.5, 0.25, -0.75, 0.1]
POSITIVE = [1.5, 2.0, 3.25, 1.0]
INPUTS = {"acosh_": POSITIVE, "arccosh_": POSITIVE, "log_": POSITIVE, "log10_": POSITIVE,
          "log2_": POSITIVE, "sqrt_": POSITIVE, "rsqrt_": POSITIVE, "logit_": [0.5, 0.25, 0.9,
                                                                           0.1]}
ARGS = {"clamp_": (-0.3, 0.3), "clip_": (-0.3, 0.3), "clamp_min_": (0.0,),
        "clamp_max_": (0.2,), "fill_": (7.0,), "nan_to_num_": (0.0, 9.0, -9.0)}
TENSOR_ARGS = {"ldexp_": np.array([1, 2, 0, 3]), "xlogy_": np.array([0.5, 1.0, 2.0, 3.0])}
UNARY = sorted(n for n in INPLACE if n not in ("gcd_", "lcm_", "zero_", "detach_"))


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch(name, dtype):
    data = np.array(INPUTS.get(name, UNIT), dtype=dtype)
    if name == "nan_to_num_":
        data = np.array([np.nan, np.inf, -np.inf, 1.0], dtype=dtype)
    args = ARGS.get(name, ())
    extra = TENSOR_ARGS.get(name)
    x, tx = fastdl.tensor(data.copy()), torch.tensor(data.copy())
    fa = args if extra is None else (fastdl.tensor(extra),)
    ta = args if extra is None else (torch.tensor(extra),)
    out = getattr(fastdl, name)(x, *fa)
    getattr(torch, name)(tx, *ta)
    assert out is x and x.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(x.numpy(), tx.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("name", ["gcd_", "lcm_"])
def test_integer_ops(name):
    a, b = [4, 6, 0, -9], [6, 9, 5, 6]
    x, tx = fastdl.tensor(a), torch.tensor(a)
    assert getattr(fastdl, name)(x, fastdl.tensor(b)) is x
    getattr(torch, name)(tx, torch.tensor(b))
    assert x.tolist() == tx.tolist()


def test_round_decimals_and_keyword_args():
    x = fastdl.tensor([1.26, -2.35])
    fastdl.round_(x, decimals=1)
    assert x.tolist() == torch.round_(torch.tensor([1.26, -2.35]), decimals=1).tolist()
    y = fastdl.tensor([-1.0, 2.0, 5.0])
    fastdl.clamp_(y, max=3.0)
    assert y.tolist() == [-1.0, 2.0, 3.0]
    z = fastdl.tensor([0.0, 1.0])
    fastdl.logit_(z, eps=0.25)
    np.testing.assert_allclose(z.numpy(), torch.logit_(torch.tensor([0.0, 1.0]), eps=0.25))


def test_zero_and_detach():
    x = fastdl.ones(2, 3)
    assert fastdl.zero_(x) is x and x.sum().item() == 0.0
    y = fastdl.ones(2, requires_grad=True) * 3
    assert fastdl.detach_(y) is y and not y.requires_grad and y.grad_fn is None


def test_autograd_through_inplace():
    a = fastdl.tensor([0.5, 1.0], requires_grad=True)
    ta = torch.tensor([0.5, 1.0], requires_grad=True)
    b, tb = a * 2, ta * 2
    fastdl.sin_(b)
    torch.sin_(tb)
    fastdl.clamp_(b, 0.0, 0.95)
    torch.clamp_(tb, 0.0, 0.95)
    b.sum().backward()
    tb.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-6)


def test_leaf_and_type_errors():
    leaf = fastdl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError):
        fastdl.exp_(leaf)
    with pytest.raises(TypeError, match="must be Tensor"):
        fastdl.abs_([1.0])
    for name in INPLACE:
        assert getattr(fastdl, name) is INPLACE[name] and name in fastdl.__all__
        assert hasattr(torch, name), name
