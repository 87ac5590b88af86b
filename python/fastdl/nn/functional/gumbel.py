"""Gumbel-softmax (torch.nn.functional.gumbel_softmax): soft samples from the Concrete
distribution, or one-hot samples with the straight-through gradient of the soft ones."""
from __future__ import annotations

import warnings

from fastdl.creation import empty_like, zeros_like
from fastdl.functional import arithmetic as ar
from fastdl.functional.activations import softmax
from fastdl.functional.reductions import argmax
from fastdl.functional.scattering import scatter
from fastdl.nn.functional._checks import check_tensor


def _exponential_like(logits):
    """Exponential(1) noise of logits' shape and dtype (tests replace it to share torch's draw;
    torch draws ``empty_like(logits).exponential_()`` in the same place)."""
    return empty_like(logits).exponential_()


def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """softmax((logits + g) / tau) along ``dim`` with g ~ Gumbel(0, 1) drawn from fastdl's
    generator; with ``hard`` the one-hot of its argmax in the forward and the soft sample's
    gradient in the backward (``y_hard - y_soft.detach() + y_soft``). ``eps`` is deprecated and
    unused, as in torch (a UserWarning when it is given).

    >>> import fastdl
    >>> import fastdl.nn.functional as F
    >>> y = F.gumbel_softmax(fastdl.randn(4, 5), tau=0.5, hard=True)
    >>> y.sum(-1).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    check_tensor(logits, "gumbel_softmax", "logits")
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    gumbels = ar.neg(_exponential_like(logits).log())
    y_soft = softmax(ar.div(ar.add(logits, gumbels), tau), dim)
    if not hard:
        return y_soft
    index = argmax(y_soft, dim, keepdim=True)
    y_hard = scatter(zeros_like(logits), dim, index, value=1.0)
    return ar.add(ar.sub(y_hard, y_soft.detach()), y_soft)


__all__ = ["gumbel_softmax"]
