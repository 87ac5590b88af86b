"""``Saved``: intermediates a forward leaves for its backward op.

An op's forward returns only its output, but some backward formulas need values computed on the
way (gelu's Phi(x), silu's sigmoid(x), the normalizations' mean and 1/std). Recomputing them
would cost as much as the forward (our erf is slow in numpy), so the public function passes a
fresh ``Saved`` as the op's last argument, the forward fills it, and the backward op (whose
args include the same ``Saved``) reads it. The values are derived from inputs the ops declare in
``saves``, so the version checks on those inputs also guard them.
"""
from __future__ import annotations


class Saved:
    __slots__ = ("values",)

    def __init__(self):
        self.values = None

    def __repr__(self):
        return "<saved>"
