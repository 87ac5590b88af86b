"""The conformance harness's own rules (tests/opinfo_harness.py and the helpers of
test_nn_conformance.py): what counts as compared, what a gap drops, what makes an allow-list
entry or tolerance override stale."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")

from torch.testing._internal.opinfo.core import SampleInput  # noqa: E402

import fastdl  # noqa: E402
import fastdl.functional as F  # noqa: E402
import opinfo_harness as h  # noqa: E402
import test_nn_conformance as nn_conf  # noqa: E402  (a module object: pytest collects nothing)


def _partly_differentiable(a, b):
    """a * 3 + remainder(2, b): torch has a derivative for a, none for b."""
    return a * 3 + (2.0 % b)


def test_torch_gradients_skips_only_the_input_without_a_derivative():
    a = torch.randn(4, dtype=torch.float64, requires_grad=True)
    b = (torch.rand(4, dtype=torch.float64) + 1).requires_grad_()
    skipped = []
    ga, gb = h.torch_gradients(_partly_differentiable(a, b).sum(), [a, b], skipped)
    assert gb is NotImplemented and len(skipped) == 1 and "leaf 1" in skipped[0]
    torch.testing.assert_close(ga, torch.full_like(a, 3.0))


def _compare(fastdl_fn, tally):
    torch.manual_seed(0)
    sample = SampleInput(torch.randn(4, dtype=torch.float64, requires_grad=True),
                         args=((torch.rand(4, dtype=torch.float64) + 1).requires_grad_(),))
    conv = h.Converted(sample)
    t_out = _partly_differentiable(conv.torch_args[0], *conv.torch_args[1])
    f_out = fastdl_fn(conv.fastdl_args[0], *conv.fastdl_args[1])
    h.compare_outputs(t_out, f_out, h.TOLERANCES, "sample", tally)
    h.compare_gradients(conv, t_out, f_out, h.TOLERANCES, np.random.default_rng(0), "sample",
                        tally)


def test_compare_gradients_still_checks_the_other_inputs():
    tally = h.Tally()
    _compare(_partly_differentiable, tally)
    assert (tally.forward, tally.gradients, len(tally.no_torch_derivative)) == (1, 1, 1)
    with pytest.raises(AssertionError, match="leaf 0 gradient"):  # a's gradient is compared
        _compare(lambda a, b: a * 3 + (2.0 % b) + (a - a.detach()), h.Tally())  # 4, not 3


def test_override_is_needed_only_beyond_the_default_with_headroom():
    fwd_default = h.TOLERANCES[torch.float32][0]
    tolerances = {torch.float32: ((1e-3, 1e-3), h.TOLERANCES[torch.float32][1])}
    desired = np.ones(3, dtype=np.float32)
    small = desired + np.float32(fwd_default[1] / (4 * h.OVERRIDE_HEADROOM))
    large = desired + np.float32(fwd_default[1] * 1.5)
    for actual, needed in ((desired, False), (small, False), (large, True)):
        tally = h.Tally()
        h._assert_close(actual, desired, tolerances, torch.float32, 0, "x", tally)
        assert ((torch.float32, "forward") in tally.overrides_needed) is needed
    with pytest.raises(AssertionError):  # beyond the override itself: still a failure
        h._assert_close(desired + 1, desired, tolerances, torch.float32, 0, "x", h.Tally())


def test_ledger_judges_only_entries_whose_cases_all_ran():
    ledger = h.Ledger()
    used, unneeded = h.Ledger.Record(), h.Ledger.Record()
    used.hit("needed", True)
    used.hit("needed", False)
    unneeded.hit("unneeded", False)
    ledger.commit("case 1", used)
    ledger.commit("case 2", unneeded)
    stale, unchecked = ledger.stale({"needed": {"case 1"}, "unneeded": {"case 2"},
                                     "unused": {"case 1", "case 2"}, "no case": set(),
                                     "not run": {"case 1", "case 3"}})
    assert unchecked == ["not run"]
    assert len(stale) == 3
    assert [s.split(":")[0] for s in stale] == ["unneeded", "unused", "no case"]


def _sin_op():
    return SimpleNamespace(name="sin", variant_test_name="", op=torch.sin)


def _sin_sample():
    return SimpleNamespace(input=torch.tensor([0.5, 1.0], dtype=torch.float64,
                                              requires_grad=True), args=(), kwargs={})


def test_gradient_gap_still_compares_the_forward():
    def wrong_gradient(x):  # right values, gradient 1 instead of cos(x)
        return F.sin(x.detach()) + (x - x.detach())

    gap = nn_conf.Gap(lambda s: True, "test", scope="gradients")
    with pytest.raises(AssertionError, match="gradient of argument 0"):
        nn_conf.run_functional_sample(_sin_op(), wrong_gradient, _sin_sample(), torch.float64,
                                      "sin", h.Ledger.Record())
    record = h.Ledger.Record()
    assert nn_conf.run_functional_sample(_sin_op(), wrong_gradient, _sin_sample(), torch.float64,
                                         "sin", record, gap) == 0
    assert record.entries == {("SAMPLE_GAPS", "sin"): [1, 1]}  # the gap was needed
    record = h.Ledger.Record()
    nn_conf.run_functional_sample(_sin_op(), F.sin, _sin_sample(), torch.float64, "sin",
                                  record, gap)
    assert record.entries == {}  # the dropped comparison would pass: not needed
    with pytest.raises(AssertionError, match="output"):  # the forward is still compared
        nn_conf.run_functional_sample(_sin_op(), F.cos, _sin_sample(), torch.float64, "sin",
                                      h.Ledger.Record(), gap)


def test_wrong_gradient_ops_are_not_in_the_second_derivative_test():
    keys = {nn_conf._op_key(op) for op in nn_conf.GRADGRAD_OPINFOS}
    assert "nn.functional.one_hot" not in keys
    assert not set(nn_conf.NO_GRADIENT) & keys
