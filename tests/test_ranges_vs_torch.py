"""arange and linspace against torch over a grid of arguments and dtypes (OpInfo's samples use
only a few of the integer-dtype rules), and float64 -> float16 casts, which torch rounds through
float32."""
import itertools
import warnings

import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")

DTYPES = {torch.int64: np.int64, torch.int32: np.int32, torch.uint8: np.uint8,
          torch.float64: np.float64, torch.float32: np.float32, torch.bool: np.bool_}
ENDS = (0, 1, -3, 5, 0.5, -0.9, 2.1, 4.3, -8.000001, 7.9, 300, float("inf"), float("nan"), True)
STEPS = (1, -1, 2, -4.0, 0.5, -0.4, 1.5, 0.9, 3, 0, float("nan"))


def _outcome(fn):
    """(values, dtype name) or the exception type; warnings (numpy overflow) silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = fn()
        except (RuntimeError, ValueError, TypeError, NotImplementedError) as e:
            return type(e).__name__
    return out.tolist(), str(out.dtype).replace("torch.", "")


def _same(torch_result, fastdl_result, t_dtype):
    """Same error type, or same dtype, length and values. Floating values may differ by a few
    units in the last place of the largest one: torch's vectorized arange steps 8 or 16 values
    (the CPU's vector width) from one rounded base; fastdl rounds each start + i * step once."""
    if isinstance(torch_result, str) or isinstance(fastdl_result, str):
        return torch_result == fastdl_result
    (t, t_dtype_name), (f, f_dtype_name) = torch_result, fastdl_result
    if t_dtype_name != f_dtype_name or len(t) != len(f):
        return False
    t, f = np.array(t, float), np.array(f, float)
    finite = np.isfinite(t).all() and t.size
    atol = 4 * np.finfo(DTYPES[t_dtype]).eps * np.abs(t).max() if t_dtype.is_floating_point \
        and finite else 0
    return np.allclose(f, t, rtol=0, atol=atol, equal_nan=True)


@pytest.mark.parametrize("t_dtype", list(DTYPES), ids=str)
def test_arange_matches_torch(t_dtype):
    bad = []
    for start, end, step in itertools.product(ENDS, ENDS, STEPS):
        t = _outcome(lambda: torch.arange(start, end, step, dtype=t_dtype))
        f = _outcome(lambda: fastdl.arange(start, end, step, dtype=DTYPES[t_dtype]))
        if not _same(t, f, t_dtype):
            bad.append(f"arange({start}, {end}, {step}): torch {t}, fastdl {f}")
    assert not bad, f"{len(bad)} differ:\n" + "\n".join(bad[:10])


@pytest.mark.parametrize("t_dtype", list(DTYPES), ids=str)
def test_linspace_matches_torch(t_dtype):
    bad = []
    for start, end, steps in itertools.product(ENDS, ENDS, (0, 1, 2, 3, 7, 9, 50, -1)):
        t = _outcome(lambda: torch.linspace(start, end, steps, dtype=t_dtype))
        f = _outcome(lambda: fastdl.linspace(start, end, steps, dtype=DTYPES[t_dtype]))
        if not _same(t, f, t_dtype):
            bad.append(f"linspace({start}, {end}, {steps}): torch {t}, fastdl {f}")
    assert not bad, f"{len(bad)} differ:\n" + "\n".join(bad[:10])


def test_integer_dtypes_truncate_the_arguments_first():
    # int64 counts from the truncated values, other integer dtypes from the arguments as given
    assert fastdl.arange(0.0, -8.000001, -4.0, dtype=fastdl.int64).tolist() == [0, -4]
    assert fastdl.arange(0.0, -8.000001, -4.0, dtype=np.int32).tolist() == [0, -4, -8]
    assert fastdl.arange(0.5, 5.0, 1.5, dtype=fastdl.int64).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="step must be nonzero"):
        fastdl.arange(0, 3, 0.5, dtype=fastdl.int64)  # step truncates to 0
    # one rounding of 1 - (2/3) * 3 (a fused multiply-add in torch): -0.99999999999999989
    assert fastdl.linspace(-3, 1, 7, dtype=fastdl.int64).tolist() == [-3, -2, -1, 0, 0, 0, 1]


def test_linspace_rejects_what_torch_rejects():
    with pytest.raises(RuntimeError, match="non-negative"):
        fastdl.linspace(0, 3, -1)
    with pytest.raises(TypeError, match="steps"):
        fastdl.linspace(0, 3, 1.0)
    with pytest.raises(RuntimeError, match="0-dimensional"):
        fastdl.linspace(fastdl.tensor([1, 2]), fastdl.tensor([1, 2]), 3)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")  # -65520 is -inf in float16
def test_float64_to_float16_rounds_through_float32_as_torch():
    x = np.array([3.1787109375 - 2.0 ** -40, 1.0009765625 + 2.0 ** -40, -65519.99999, 1e-8])
    expected = torch.tensor(x).half().numpy()
    np.testing.assert_array_equal(fastdl.tensor(x).half().numpy(), expected)
    np.testing.assert_array_equal(fastdl.tensor(x).to(fastdl.float16).numpy(), expected)


def test_tensor_bfloat16_says_fastdl_cannot_store_it():
    with pytest.raises(TypeError, match="not a storage dtype"):
        fastdl.ones(2).bfloat16()
