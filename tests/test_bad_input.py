"""Bad input gets a clear error, never a silent result (issue #9)."""
import resource
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastdl
from fastdl import nn


def test_matmul_out_must_match_shape_exactly():
    a, b = np.ones((1, 3), np.float32), np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"out has shape \(5, 4\).*\(1, 4\)"):
        fastdl.ops.matmul(a, b, out=np.zeros((5, 4), np.float32))
    batched = np.ones((2, 1, 3), np.float32)
    with pytest.raises(ValueError, match="out must match"):
        fastdl.ops.matmul(batched, b, out=np.zeros((2, 2, 4), np.float32))


def test_matmul_out_must_match_dtype():
    a, b = np.ones((2, 3), np.float32), np.full((3, 4), 0.5, np.float32)
    with pytest.raises(ValueError, match="dtype int32"):
        fastdl.ops.matmul(a, b, out=np.zeros((2, 4), np.int32))
    out = np.zeros((2, 4), np.float32)
    assert fastdl.ops.matmul(a, b, out=out) is out and (out == 1.5).all()


@pytest.mark.parametrize("kw", [{"alpha": "2"}, {"beta": "0"}, {"alpha": 1j}, {"beta": [1.0]},
                                {"alpha": None}])
def test_gemm_rejects_non_numbers_naming_the_argument(kw):
    a, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    name = next(iter(kw))
    with pytest.raises(TypeError, match=f"gemm: {name} must be a real number"):
        fastdl.ops.gemm(a, b, np.zeros((2, 4), np.float32), **kw)
    with pytest.raises(TypeError, match=f"gemm: {name}"):  # the general (batched) path too
        fastdl.ops.gemm(a[None], b[None], np.zeros((1, 2, 4), np.float32), **kw)


def test_gemm_accepts_numpy_scalars_and_names_beta():
    a, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    assert fastdl.ops.gemm(a, b, alpha=np.float32(2), beta=np.int64(0))[0, 0] == 6
    with pytest.raises(ValueError, match="beta=2.0"):
        fastdl.ops.gemm(a, b, beta=2.0)


def test_set_num_threads_huge_is_a_clear_error():
    with pytest.raises(ValueError, match="more threads than fastdl allows"):
        fastdl.set_num_threads(2 ** 40)


def test_index_select_negative_index_raises():
    x = fastdl.arange(6.0).reshape(2, 3)
    with pytest.raises(IndexError, match="index -1 is out of range for dimension 1 of size 3"):
        fastdl.index_select(x, 1, fastdl.tensor([0, -1]))
    with pytest.raises(IndexError, match="index 3 is out of range"):
        fastdl.index_select(x, 1, fastdl.tensor([3]))
    assert fastdl.index_select(x, 1, fastdl.tensor([2, 0])).tolist() == [[2.0, 0.0], [5.0, 3.0]]


@pytest.mark.parametrize("op", [lambda a, b: a // b, lambda a, b: a % b,
                                lambda a, b: fastdl.div(a, b, rounding_mode="trunc"),
                                lambda a, b: fastdl.div(a, b, rounding_mode="floor"),
                                lambda a, b: a // 0, lambda a, b: a % 0])
def test_integer_division_by_zero_raises(op):
    a, b = fastdl.tensor([5, 7]), fastdl.tensor([2, 0])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        op(a, b)


def test_float_division_by_zero_still_gives_inf():
    assert (fastdl.tensor([1.0]) // fastdl.tensor([0.0])).tolist() == [float("inf")]
    assert fastdl.tensor([5, 7]) // fastdl.tensor([2, 3]) is not None


@pytest.mark.parametrize("size", [(2.5,), ((2, 2.5),), ("3",), (None,)])
def test_creation_rejects_non_integer_sizes(size):
    with pytest.raises(TypeError, match="size must be a sequence of ints"):
        fastdl.zeros(*size)


def test_creation_accepts_integer_like_sizes():
    assert fastdl.zeros(np.int64(3)).shape == (3,)
    assert fastdl.ones(fastdl.tensor(2), 3).shape == (2, 3)


def test_linear_with_zero_in_features():
    layer = nn.Linear(0, 3)
    x = fastdl.zeros(2, 0, requires_grad=True)
    y = layer(x)
    assert y.shape == (2, 3)
    np.testing.assert_array_equal(y.detach().numpy(), np.broadcast_to(layer.bias.detach().numpy(), (2, 3)))
    y.sum().backward()
    assert x.grad.shape == (2, 0) and layer.weight.grad.shape == (3, 0)
    assert layer(fastdl.zeros(4, 2, 0)).shape == (4, 2, 3)


def test_linear_rejects_mismatched_features():
    # (2, 6) reshaped to (4, 3) used to "work" against a (3, 3) weight
    with pytest.raises(RuntimeError, match=r"shapes cannot be multiplied \(2x6 and 3x3\)"):
        fastdl.nn.functional.linear(fastdl.zeros(2, 6), fastdl.zeros(3, 3))


def test_long_broadcast_vector_is_not_copied():
    # A stride-0 vector of 2^26 doubles is 512 MiB when gathered; the product must read it in
    # place (the 2^31-long one asked for 8 GiB and ended in std::bad_alloc).
    code = textwrap.dedent("""
        import resource, numpy as np, fastdl
        fastdl.set_num_threads(1)
        v = np.broadcast_to(np.float64(1.0), (2 ** 26,))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        r = fastdl.ops.matmul(v, v)
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(float(r), grown)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300).stdout.split()
    assert float(out[0]) == 2.0 ** 26
    assert int(out[1]) < 64 * 1024, f"max RSS grew by {int(out[1]) // 1024} MiB"
