"""ctc_loss / CTCLoss against torch: padded and concatenated targets, lengths as tensors or
tuples, blank, reductions, zero_infinity, unbatched input, float32 and float64; gradcheck of
the logits' gradient (through log_softmax) in float64; bad input."""
import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.nn import functional as F
from fastdl.testing import gradcheck
from helpers import check_op

torch = pytest.importorskip("torch")
TF = torch.nn.functional
REDUCTIONS = ["none", "mean", "sum"]
DTYPES = [np.float32, np.float64]
RNG = np.random.default_rng(20261130)

STEPS, BATCH, CLASSES = 13, 5, 6
INPUT_LENGTHS = np.array([13, 9, 12, 4, 13])
# an empty target, repeated labels (they need a blank between them), and a target too long
# for its 4 input steps (infinite loss: what zero_infinity is for)
TARGET_LENGTHS = np.array([3, 0, 5, 4, 2])


def _targets(blank):
    labels = [c for c in range(CLASSES) if c != blank]
    padded = RNG.choice(labels, (BATCH, 6))
    padded[2, :3] = labels[1]  # a run of one label
    padded[3, :4] = [labels[0], labels[0], labels[2], labels[2]]  # needs 6 > 4 steps
    concatenated = np.concatenate([row[:n] for row, n in zip(padded, TARGET_LENGTHS)])
    return padded, concatenated


def _log_probs_from_logits(lib, logits):
    return lib.log_softmax(logits, 2) if lib is TF else F.log_softmax(logits, 2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
@pytest.mark.parametrize("blank", [0, 3])
def test_ctc_loss_matches_torch(dtype, reduction, zero_infinity, layout, blank):
    padded, concatenated = _targets(blank)
    targets = padded if layout == "padded" else concatenated
    kwargs = dict(blank=blank, reduction=reduction, zero_infinity=zero_infinity)
    lengths = (tuple(INPUT_LENGTHS.tolist()), tuple(TARGET_LENGTHS.tolist()))
    # log-probabilities as the differentiated input (torch's gradient formula for them), and
    # the gradient of the logits through log_softmax
    for through_softmax in (False, True):
        def ref(x):
            lp = TF.log_softmax(x, 2) if through_softmax else x
            return TF.ctc_loss(lp, torch.tensor(targets), torch.tensor(INPUT_LENGTHS),
                               torch.tensor(TARGET_LENGTHS), **kwargs)

        def fast(x):
            lp = F.log_softmax(x, 2) if through_softmax else x
            return F.ctc_loss(lp, fastdl.tensor(targets), *lengths, **kwargs)

        logits = RNG.standard_normal((STEPS, BATCH, CLASSES))
        start = logits if through_softmax else torch.log_softmax(torch.tensor(logits), 2).numpy()
        if zero_infinity or reduction == "none" or through_softmax:
            check_op([start.shape], ref, fast, dtype=dtype, vals=[start])
        else:  # the infinite loss: inf forward, NaN gradients in both; compare the forward
            check_op([start.shape], ref, fast, dtype=dtype, vals=[start], grad=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ctc_loss_unbatched_and_module_match_torch(dtype, reduction):
    logits = RNG.standard_normal((9, CLASSES))
    target = np.array([1, 2, 2, 5])
    check_op([logits.shape],
             lambda x: TF.ctc_loss(TF.log_softmax(x, 1), torch.tensor(target),
                                   torch.tensor(8), torch.tensor(4), reduction=reduction),
             lambda x: F.ctc_loss(F.log_softmax(x, 1), fastdl.tensor(target),
                                  fastdl.tensor(8), fastdl.tensor(4), reduction=reduction),
             dtype=dtype, vals=[logits])
    padded, _ = _targets(0)
    kwargs = dict(blank=0, reduction=reduction, zero_infinity=True)
    logits = RNG.standard_normal((STEPS, BATCH, CLASSES))
    check_op([logits.shape],
             lambda x: torch.nn.CTCLoss(**kwargs)(TF.log_softmax(x, 2), torch.tensor(padded),
                                                  torch.tensor(INPUT_LENGTHS),
                                                  torch.tensor(TARGET_LENGTHS)),
             lambda x: nn.CTCLoss(**kwargs)(F.log_softmax(x, 2), fastdl.tensor(padded),
                                            fastdl.tensor(INPUT_LENGTHS),
                                            fastdl.tensor(TARGET_LENGTHS)),
             dtype=dtype, vals=[logits])


def test_ctc_loss_mean_divides_by_target_lengths():
    """'mean' is the batch mean of loss / max(target length, 1), not the plain mean."""
    padded, _ = _targets(0)
    lp = F.log_softmax(fastdl.tensor(RNG.standard_normal((STEPS, BATCH, CLASSES))), 2)
    args = (fastdl.tensor(padded), tuple(INPUT_LENGTHS), tuple(TARGET_LENGTHS))
    per_sample = F.ctc_loss(lp, *args, reduction="none", zero_infinity=True).data
    mean = F.ctc_loss(lp, *args, reduction="mean", zero_infinity=True).item()
    assert mean == pytest.approx((per_sample / np.maximum(TARGET_LENGTHS, 1)).mean(), rel=1e-12)
    assert mean != pytest.approx(per_sample.mean(), rel=1e-3)
    assert per_sample[3] == 0.0  # the impossible alignment, zeroed


def test_ctc_loss_gradcheck_through_log_softmax():
    """torch's gradient formula is exact for the logits (log_softmax's backward removes the
    exp(log_probs) term it adds), so the logits' gradient is checked numerically."""
    padded, concatenated = _targets(2)
    logits = fastdl.tensor(RNG.standard_normal((7, 3, 4)), requires_grad=True)
    for targets, lengths in ((padded[:3, :3], (3, 0, 2)), (np.array([1, 1, 3, 0]), (2, 0, 2))):
        for reduction in REDUCTIONS:
            def fn(x):
                return F.ctc_loss(F.log_softmax(x, 2), fastdl.tensor(targets), (7, 5, 6),
                                  lengths, blank=2 if targets.ndim == 2 else 0,
                                  reduction=reduction)
            assert gradcheck(fn, (logits,))


def test_ctc_loss_bad_input_raises():
    lp = F.log_softmax(fastdl.randn(6, 2, 4), 2)
    targets = fastdl.tensor(np.array([[1, 2], [3, 1]]))
    for call in (lambda: F.ctc_loss(lp, targets, (6, 6), (2, 2), blank=4),  # blank >= C
                 lambda: F.ctc_loss(lp, targets, (6,), (2, 2)),  # lengths of one sample
                 lambda: F.ctc_loss(lp, targets, (7, 6), (2, 2)),  # longer than the input
                 lambda: F.ctc_loss(lp, targets, (6, 6), (3, 2)),  # longer than the padding
                 lambda: F.ctc_loss(lp, fastdl.tensor(np.array([[1, 4], [3, 1]])), (6, 6),
                                    (2, 2)),  # label 4 of 4 classes
                 lambda: F.ctc_loss(lp, fastdl.tensor(np.array([1, 2])), (6, 6), (2, 2)),
                 lambda: F.ctc_loss(fastdl.randn(6), targets, (6,), (2,))):
        with pytest.raises(RuntimeError):
            call()
    with pytest.raises(ValueError, match="reduction"):
        F.ctc_loss(lp, targets, (6, 6), (2, 2), reduction="batchmean")


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.bool_, np.int32])
def test_ctc_loss_casts_targets_as_torch(dtype):
    """torch casts float and bool targets to int64, truncating (1.7 is class 1)."""
    torch = pytest.importorskip("torch")
    logits = np.random.default_rng(4).standard_normal((6, 2, 4))
    raw = np.array([[1.7, 2.2], [3.0, 1.9]])
    targets = raw.astype(dtype) if dtype is not np.int32 else raw.astype(np.int64).astype(dtype)
    for reduction in ("none", "mean", "sum"):
        ours = F.ctc_loss(F.log_softmax(fastdl.tensor(logits), 2), fastdl.tensor(targets),
                          (6, 5), (2, 2), reduction=reduction)
        theirs = torch.nn.functional.ctc_loss(torch.tensor(logits).log_softmax(2),
                                              torch.tensor(targets), (6, 5), (2, 2),
                                              reduction=reduction)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
