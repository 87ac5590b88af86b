"""OpInfo ops whose output values cannot equal torch's, and how their values are checked instead.

Used by ``test_opinfo_conformance.py``. Random samplers draw from fastdl's generator, not
torch's; ``empty`` and friends return uninitialized memory. For these ops the harness compares
the outputs' structure (count, type, shape, dtype, requires_grad) with torch's and then checks
fastdl's values against the op's support (rand in [0, 1), randint in [low, high), bernoulli in
{0, 1} and exact where p is 0 or 1, multinomial's indices valid, never of a zero weight and
distinct without replacement, ...). Gradients are compared as for any op: torch defines them
without looking at the draw (zero for normal's mean and std and for bernoulli's p).

An entry goes stale when fastdl's values equal torch's in every sample (the op's values are
then comparable: remove it); uninitialized outputs are exempt (both libraries may happen to
return the same bytes, or not).
"""
from __future__ import annotations

import numpy as np
import torch

import fastdl
from opinfo_harness import assert_same_tensor_kind, flatten_outputs


class ValueCheck:
    """``support(values, *args, **kwargs)`` asserts that fastdl's output values (numpy arrays,
    one per output) are possible outputs of the op called with the sample's arguments (torch
    tensors as numpy arrays, in the order the OpInfo's ``op`` takes them)."""

    def __init__(self, support, reason, uninitialized=False):
        self.support, self.reason, self.uninitialized = support, reason, uninitialized


def _numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    if isinstance(x, fastdl.Tensor):
        return np.asarray(x.detach().numpy())
    if isinstance(x, (list, tuple)) and not isinstance(x, torch.Size):
        return type(x)(_numpy(v) for v in x)
    return x


def compare_random(check, t_out, f_out, sample, what, tally):
    """Structure as torch's, values within the op's support (``check``); counts in ``tally``
    (opinfo_harness.Tally) the samples whose values were checked and those that differ from
    torch's."""
    t_flat, f_flat = flatten_outputs(t_out), flatten_outputs(f_out)
    assert len(t_flat) == len(f_flat), \
        f"{what}: fastdl returned {len(f_flat)} outputs, torch {len(t_flat)}"
    for i, (t, f) in enumerate(zip(t_flat, f_flat)):
        assert_same_tensor_kind(t, f, f"{what}: output {i}")
        assert f.requires_grad == t.requires_grad, \
            f"{what}: output {i} requires_grad={f.requires_grad}, torch {t.requires_grad}"
    values = [_numpy(f) for f in f_flat]
    if any(v.size for v in values):
        if not check.uninitialized:
            args = [_numpy(sample.input), *_numpy(tuple(sample.args))]
            kwargs = {k: _numpy(v) for k, v in sample.kwargs.items()}
            try:
                check.support(values, *args, **kwargs)
            except AssertionError as e:
                raise AssertionError(f"{what}: values outside the op's support: {e}") from None
            tally.values_checked += 1
        if any(not np.array_equal(v, _numpy(t), equal_nan=True) for v, t in zip(values, t_flat)):
            tally.values_differ += 1


# ---- supports ----
def _within(x, low, high, closed_high=False):
    inside = (x >= low) & ((x <= high) if closed_high else (x < high))
    assert inside.all(), f"{x[~inside][:5]} not in [{low}, {high}{']' if closed_high else ')'}"


def _integral(x):
    assert (x == np.trunc(x)).all(), f"non-integers {x[x != np.trunc(x)][:5]}"


def _standard_normal(z):
    """z: what should be standard normal draws. Finite, and for 25 or more of them a mean and
    a spread no honest sample strays from (|mean| under 6 standard errors; standard deviation
    in (0.3, 2), past 5 sigma of its own spread for 24 degrees of freedom)."""
    assert np.isfinite(z).all(), "non-finite normal samples"
    if z.size >= 25:
        assert abs(z.mean()) < 6 / np.sqrt(z.size), f"mean {z.mean()} of {z.size} draws"
        assert 0.3 < z.std(ddof=1) < 2, f"standard deviation {z.std(ddof=1)} of {z.size} draws"


def _normal(out, mean, std):
    """normal(mean, std) draws: equal to mean where std is 0, else (out - mean) / std is
    standard normal."""
    out = out.astype(np.float64)
    mean, std = (np.broadcast_to(np.asarray(v, np.float64), out.shape) for v in (mean, std))
    zero = std == 0
    np.testing.assert_array_equal(out[zero], mean[zero])
    _standard_normal((out[~zero] - mean[~zero]) / std[~zero])


def _randint_bounds(args):
    """randint's (low, high) from (high, ...) or (low, high, ...) after the size/input."""
    return (0, args[0]) if len(args) == 1 else (args[0], args[1])


def randn_support(values, *args, **kwargs):
    _standard_normal(values[0].astype(np.float64))


def rand_support(values, *args, **kwargs):
    _within(values[0], 0, 1)


def randint_support(values, *args, **kwargs):
    low, high = _randint_bounds([a for a in args if not isinstance(a, (tuple, list))])
    _integral(values[0])
    _within(values[0], low, high)


def randint_like_support(values, input, *bounds, **kwargs):
    low, high = _randint_bounds(bounds)
    _integral(values[0])
    _within(values[0], low, high)


def normal_support(values, mean, std, *args, **kwargs):
    _normal(values[0], mean, std)


def normal_number_mean_support(values, std, mean, *args, **kwargs):
    _normal(values[0], mean, std)


def normal_in_place_support(values, input, mean=0.0, std=1.0):
    _normal(values[0], mean, std)


def bernoulli_support(values, p, *args, **kwargs):
    out = values[0]
    assert np.isin(out, (0, 1)).all(), f"non-0/1 values {out[~np.isin(out, (0, 1))][:5]}"
    np.testing.assert_array_equal(out[p == 0], 0)
    np.testing.assert_array_equal(out[p == 1], 1)


def multinomial_support(values, weights, num_samples, replacement=False):
    out = values[0].reshape(-1, num_samples)
    weights = weights.reshape(-1, weights.shape[-1])
    _within(out, 0, weights.shape[1])
    for row, w in zip(out, weights):
        positive = int((w > 0).sum())
        drawn_weights = w[row]
        if replacement:
            assert (drawn_weights > 0).all(), f"drew a zero-weight category in {row}"
        else:
            assert len(set(row.tolist())) == len(row), f"repeated categories {row}"
            # zero-weight categories only once every positive one is drawn
            assert (drawn_weights[:positive] > 0).all(), f"zero weight drawn early in {row}"


def uniform_support(values, input, low=0.0, high=1.0):
    # low + (high - low) * u rounds up to high now and then in float32
    _within(values[0], low, high, closed_high=True)


def cauchy_support(values, input, median=0.0, sigma=1.0):
    assert not np.isnan(values[0]).any(), "NaN Cauchy samples"


def exponential_support(values, input, lambd=1.0):
    _within(values[0], 0, np.inf, closed_high=True)


def geometric_support(values, input, p):
    _integral(values[0])
    _within(values[0], 1, np.inf, closed_high=True)


def log_normal_support(values, input, mean=1.0, std=2.0):
    out = values[0].astype(np.float64)
    _within(out, 0, np.inf)
    positive = out > 0  # float32 can underflow to 0
    _standard_normal((np.log(out[positive]) - mean) / std)


def _uninitialized(values, *args, **kwargs):
    """Any value."""


_DRAWN = "values drawn from fastdl's generator, not torch's"
_EMPTY = ValueCheck(_uninitialized, "uninitialized memory: whatever the allocator returns",
                    uninitialized=True)
# OpInfo "name.variant" -> how its values are checked
RANDOM_VALUE_OPS = {
    **dict.fromkeys(("empty.", "empty_like.", "empty_permuted.", "empty_strided.", "new_empty.",
                     "new_empty_strided."), _EMPTY),
    # torch's rand_like OpInfo calls torch.randn_like (a slip there): its output's structure is
    # compared, fastdl.rand_like's values are checked against rand_like's own support
    "rand_like.": ValueCheck(rand_support, _DRAWN),
    "randn.": ValueCheck(randn_support, _DRAWN),
    "randn_like.": ValueCheck(randn_support, _DRAWN),
    "randint.": ValueCheck(randint_support, _DRAWN),
    "randint_like.": ValueCheck(randint_like_support, _DRAWN),
    "normal.": ValueCheck(normal_support, _DRAWN),
    "normal.in_place": ValueCheck(normal_in_place_support, _DRAWN),
    "normal.number_mean": ValueCheck(normal_number_mean_support, _DRAWN),
    "bernoulli.": ValueCheck(bernoulli_support, _DRAWN),
    "multinomial.": ValueCheck(multinomial_support, _DRAWN),
    "uniform.": ValueCheck(uniform_support, _DRAWN),
    "cauchy.": ValueCheck(cauchy_support, _DRAWN),
    "exponential.": ValueCheck(exponential_support, _DRAWN),
    "geometric.": ValueCheck(geometric_support, _DRAWN),
    "log_normal.": ValueCheck(log_normal_support, _DRAWN),
}
