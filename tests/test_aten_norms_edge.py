"""The ATen-level norms (native_batch_norm / _native_batch_norm_legit / _batch_norm_with_update,
native_layer_norm, native_group_norm) against torch where the OpInfo conformance run does not
look: the running statistics they update in place, empty batches and empty normalized regions,
one value per channel, mixed dtypes, non-contiguous inputs and argument errors."""
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")  # torch.testing._internal imports it
from torch.testing._internal.common_methods_invocations import op_db  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from opinfo_harness import Converted, compare_outputs, describe  # noqa: E402

TOL = {torch.float32: ((1e-5, 1e-5), (1e-5, 1e-5)), torch.float64: ((1e-12, 1e-12),) * 2}
BATCH_NORMS = {"native_batch_norm": fastdl.native_batch_norm,
               "_native_batch_norm_legit": fastdl._native_batch_norm_legit,
               "_batch_norm_with_update": fastdl._batch_norm_with_update}


def _opinfo(name):
    return next(op for op in op_db if op.name == name and op.variant_test_name == "")


@pytest.mark.parametrize("name", sorted(BATCH_NORMS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_running_statistics_updated_in_place_as_torch(name, dtype):
    """Every OpInfo sample with running statistics: after the call, fastdl's running_mean and
    running_var (args 2 and 3) hold torch's values (training updates them, eval leaves them)."""
    opinfo, checked, updated = _opinfo(name), 0, 0
    torch.manual_seed(0)
    for sample in opinfo.sample_inputs_func(opinfo, "cpu", dtype, False):
        if len(sample.args) < 6 or sample.args[2] is None:  # no running statistics
            continue
        conv = Converted(sample)
        t_in, t_args, _ = conv.torch_args
        f_in, f_args, _ = conv.fastdl_args
        before = t_args[2].clone()
        compare_outputs(opinfo(t_in, *t_args), BATCH_NORMS[name](f_in, *f_args), TOL,
                        f"{name} {describe(sample)}")
        updated += not torch.equal(before, t_args[2])
        compare_outputs(t_args[2:4], f_args[2:4], TOL, f"{name} running stats {describe(sample)}")
        checked += 1
    assert checked >= 5 and updated >= 3


def _torch_and_fastdl(fn_t, fn_f):
    """(torch's result or exception type, fastdl's result or exception type)."""
    results = []
    for fn in (fn_t, fn_f):
        try:
            results.append(fn())
        except (RuntimeError, ValueError, TypeError, IndexError) as e:
            results.append(type(e))
    return results


def _pair(array):
    return torch.tensor(array), fastdl.tensor(array)


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 4), (2, 3, 0), (0, 0)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("stats", [True, False])
def test_native_batch_norm_empty_batch(shape, training, stats):
    """torch's ATen batch norm refuses an empty batch in training (RuntimeError; nn.functional
    returns an empty output instead) and returns empty outputs in eval."""
    if not stats and not training:
        return  # eval needs running statistics
    x_t, x_f = _pair(np.zeros(shape, np.float32))
    rm, rv = np.zeros(shape[1], np.float32), np.ones(shape[1], np.float32)
    t_stats = (torch.tensor(rm), torch.tensor(rv)) if stats else (None, None)
    f_stats = (fastdl.tensor(rm), fastdl.tensor(rv)) if stats else (None, None)
    want, got = _torch_and_fastdl(
        lambda: torch.native_batch_norm(x_t, None, None, *t_stats, training, 0.1, 1e-5),
        lambda: fastdl.native_batch_norm(x_f, None, None, *f_stats, training, 0.1, 1e-5))
    if isinstance(want, type):
        assert got is want
    else:
        compare_outputs(want, got, TOL, f"native_batch_norm empty {shape}")
    if stats:  # untouched either way
        np.testing.assert_array_equal(f_stats[0].numpy(), rm)
        np.testing.assert_array_equal(f_stats[1].numpy(), rv)
    # nn.functional's batch_norm takes the empty batch in training too (and so does fastdl's)
    out = fastdl.nn.functional.batch_norm(x_f, *f_stats, training=True)
    assert tuple(out.shape) == shape


@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1)])
def test_native_batch_norm_one_value_per_channel(shape):
    """ATen trains on one value per channel (rstd 1 / sqrt(eps), a NaN running variance);
    nn.functional's batch_norm refuses it, as torch's does."""
    x = np.random.default_rng(0).standard_normal(shape)
    outs = []
    for lib in (torch, fastdl):
        stats = (lib.tensor(np.zeros(3)), lib.tensor(np.ones(3)))
        outs.append((lib.native_batch_norm(lib.tensor(x), None, None, *stats, True, 0.1, 1e-5),
                     stats))
    compare_outputs(outs[0], outs[1], {torch.float64: ((1e-7, 1e-7),) * 2}, "one value")
    assert np.isnan(outs[1][1][1].numpy()).all()
    for lib in (torch, fastdl):
        with pytest.raises(ValueError, match="more than 1 value per channel"):
            lib.nn.functional.batch_norm(lib.tensor(x), None, None, training=True)
    # the top-level (ATen) batch_norm trains on it, as native_batch_norm does
    outs = []
    for lib in (torch, fastdl):
        stats = (lib.tensor(np.zeros(3)), lib.tensor(np.ones(3)))
        outs.append((lib.batch_norm(lib.tensor(x), None, None, *stats, True, 0.1, 1e-5, False),
                     stats))
    compare_outputs(outs[0], outs[1], {torch.float64: ((1e-7, 1e-7),) * 2}, "top-level")


MIXED = ["weight", "bias", "running_mean", "running_var"]


@pytest.mark.parametrize("which", MIXED)
@pytest.mark.parametrize("input_dtype, other_dtype", [(np.float32, np.float64),
                                                      (np.float64, np.float32)])
@pytest.mark.parametrize("training", [True, False])
def test_native_batch_norm_mixed_dtypes_raise(which, input_dtype, other_dtype, training):
    """One parameter or running statistic of another float dtype than input: torch's CPU
    kernel raises RuntimeError (fastdl did compute, casting float64 statistics)."""
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(input_dtype)
    args = {name: np.full(3, 0.5, input_dtype) for name in MIXED}
    args[which] = args[which].astype(other_dtype)
    for lib in (torch, fastdl):
        a = {k: lib.tensor(v) for k, v in args.items()}
        with pytest.raises(RuntimeError):
            lib.native_batch_norm(lib.tensor(x), a["weight"], a["bias"], a["running_mean"],
                                  a["running_var"], training, 0.1, 1e-5)


@pytest.mark.parametrize("which", ["weight", "bias"])
def test_native_layer_and_group_norm_mixed_dtypes_raise(which):
    x = np.random.default_rng(0).standard_normal((2, 4, 3)).astype(np.float32)
    for lib in (torch, fastdl):
        params = {"weight": None, "bias": None}
        params[which] = lib.ones(4, dtype=lib.float64)
        with pytest.raises(RuntimeError):
            lib.native_group_norm(lib.tensor(x), params["weight"], params["bias"], 2, 4, 3, 2,
                                  1e-5)
        params[which] = lib.ones(3, dtype=lib.float64)
        with pytest.raises(RuntimeError):
            lib.native_layer_norm(lib.tensor(x), [3], params["weight"], params["bias"], 1e-5)


@pytest.mark.parametrize("shape, normalized", [((0, 3), [3]), ((2, 0), [0]), ((0,), [0]),
                                               ((2, 3, 0), [3, 0]), ((0, 2, 3), [2, 3])])
def test_native_layer_norm_empty(shape, normalized):
    """An empty batch gives empty statistics; an empty normalized region gives mean 0 and rstd
    NaN (ATen's pass over no values), without numpy warnings."""
    x_t, x_f = _pair(np.zeros(shape, np.float32))
    want = torch.native_layer_norm(x_t, normalized, None, None, 1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = fastdl.native_layer_norm(x_f, normalized, None, None, 1e-5)
    compare_outputs(want, got, TOL, f"native_layer_norm {shape} {normalized}")


def test_native_layer_norm_empty_normalized_shape_raises():
    for lib in (torch, fastdl):
        with pytest.raises(RuntimeError, match="at least 1-dimensional"):
            lib.native_layer_norm(lib.ones(2, 3), [], None, None, 1e-5)


@pytest.mark.parametrize("shape, N, C, HxW, group", [((0, 4, 2), 0, 4, 2, 2),
                                                     ((2, 4, 0), 2, 4, 0, 2),
                                                     ((2, 4, 0, 3), 2, 4, 0, 4)])
def test_native_group_norm_empty(shape, N, C, HxW, group):
    x_t, x_f = _pair(np.zeros(shape, np.float32))
    w_t, w_f = _pair(np.ones(C, np.float32))
    want = torch.native_group_norm(x_t, w_t, None, N, C, HxW, group, 1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = fastdl.native_group_norm(x_f, w_f, None, N, C, HxW, group, 1e-5)
    compare_outputs(want, got, TOL, f"native_group_norm {shape}")


def test_native_group_norm_bad_group_count_raises():
    for lib in (torch, fastdl):
        with pytest.raises(RuntimeError, match="greater than 0"):
            lib.native_group_norm(lib.ones(2, 4, 3), None, None, 2, 4, 3, 0, 1e-5)


def test_non_contiguous_inputs_parameters_and_running_statistics():
    """Transposed input, strided weight and running statistics that are strided views of one
    buffer: outputs and gradients equal torch's, and the in-place update reaches the buffer.
    torch's native_group_norm is compared on contiguous copies: it asserts a contiguous input,
    and reads a strided weight as if it were contiguous (w[::2] as w[:4]; its
    nn.functional.group_norm copies first and is right)."""
    rng = np.random.default_rng(1)
    a, w, buf = rng.standard_normal((3, 4, 5)), rng.standard_normal(8), np.zeros(8)
    buf[1::2] = 1.0
    tol = {torch.float64: ((1e-12, 1e-12),) * 2}
    t_buf, f_buf = torch.tensor(buf), fastdl.tensor(buf)
    runs = []
    for lib, b in ((torch, t_buf), (fastdl, f_buf)):
        x = lib.tensor(a, requires_grad=True)
        weight = lib.tensor(w, requires_grad=True)
        xt, ws = x.transpose(0, 2), weight[::2]  # (5, 4, 3) and (4,), both views
        outs = (lib.native_batch_norm(xt, ws, None, b[0::2], b[1::2], True, 0.3, 1e-5)
                + lib.native_layer_norm(xt, [4, 3], ws.reshape(4, 1).expand(4, 3), None, 1e-5)
                + (lib.native_group_norm(xt.contiguous(), ws.contiguous(), None, 5, 4, 3, 2,
                                         1e-5) if lib is torch else
                   lib.native_group_norm(xt, ws, None, 5, 4, 3, 2, 1e-5)))
        total = sum((o * (i + 1.5)).sum() for i, o in enumerate(outs) if o.requires_grad)
        total.backward()
        runs.append((outs, x.grad, weight.grad))
    compare_outputs(runs[0][0], runs[1][0], tol, "non-contiguous outputs")
    compare_outputs(runs[0][1:], runs[1][1:], tol, "non-contiguous gradients")
    np.testing.assert_allclose(f_buf.numpy(), t_buf.numpy(), rtol=1e-12, atol=1e-12)
    assert not np.array_equal(f_buf.numpy(), buf)  # the update went through the views


def test_batch_norm_argument_errors():
    x = fastdl.ones(4, 3)
    with pytest.raises(ValueError, match="both be None or neither"):
        fastdl.native_batch_norm(x, None, None, fastdl.zeros(3), None, True, 0.1, 1e-5)
    with pytest.raises(ValueError, match="both be None or neither"):
        torch.native_batch_norm(torch.ones(4, 3), None, None, torch.zeros(3), None, True, 0.1,
                                1e-5)
    for lib in (torch, fastdl):
        with pytest.raises(IndexError):
            lib.native_batch_norm(lib.ones(3), None, None, None, None, True, 0.1, 1e-5)
    # the no_stats overload in eval has nothing to normalize by (torch crashes there)
    with pytest.raises(RuntimeError, match="needs running statistics"):
        fastdl._native_batch_norm_legit(x, None, None, False, 0.1, 1e-5)
    with pytest.raises(TypeError, match="expects"):
        fastdl._native_batch_norm_legit(x, None, None, True, 0.1)
    with pytest.raises(TypeError, match="running_mean"):
        fastdl._batch_norm_with_update(x, None, None, None, None, 0.1, 1e-5)
    with pytest.raises((TypeError, RuntimeError)):
        torch.ops.aten._batch_norm_with_update(torch.ones(4, 3), None, None, None, None, 0.1,
                                               1e-5)


def test_native_batch_norm_legit_keywords():
    """torch takes the overloads' arguments by name too."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3))
    outs = []
    for lib in (torch, fastdl):
        rm, rv = lib.tensor(np.zeros(3)), lib.tensor(np.ones(3))
        outs.append(lib._native_batch_norm_legit(lib.tensor(x), None, None, rm, running_var=rv,
                                                 training=True, momentum=0.2, eps=1e-3)
                    + (rm, rv))
        outs.append(lib._native_batch_norm_legit(lib.tensor(x), None, None, training=True,
                                                 momentum=0.2, eps=1e-3))
    compare_outputs(outs[:2], outs[2:], {torch.float64: ((1e-12, 1e-12),) * 2}, "keywords")
