"""``LinearCrossEntropyLoss``: a ``Linear`` head and cross entropy in one module (torch 2.13's),
calling ``F.linear_cross_entropy`` so chunking ``options`` apply."""
from __future__ import annotations

import math

from fastdl.nn import functional as F
from fastdl.nn.modules.linear import Linear
from fastdl.nn.modules.loss import _WeightedLoss


class LinearCrossEntropyLoss(_WeightedLoss):
    """Cross entropy of ``Linear(in_features, C * prod(out_features))`` logits, viewed as
    ``(N, C, *out_features)`` (a K-dimensional loss when ``out_features`` is not empty).

    ``LinearCrossEntropyLoss(in_features, num_classes, *, out_features=(), bias=False,
    device=None, dtype=None, reduction='mean', weight=None, ignore_index=None,
    label_smoothing=0.0, options=None)``, as in torch: the head is stored flat in
    ``self.linear`` (so state_dicts interchange with torch's) and reshaped in forward.

    >>> _ = fastdl.manual_seed(0)
    >>> loss = fastdl.nn.LinearCrossEntropyLoss(5, 10, out_features=(4, 3))
    >>> loss(fastdl.randn(2, 5), fastdl.randint(0, 10, (2, 4, 3))).shape
    ()
    """

    def __init__(self, in_features: int, num_classes: int, *, out_features=(), bias=False,
                 device=None, dtype=None, reduction: str = "mean", weight=None,
                 ignore_index=None, label_smoothing: float = 0.0, options=None):
        if weight is not None and tuple(weight.shape) != (num_classes,):
            raise RuntimeError(f"expected weight shape to be {(num_classes,)}, got "
                               f"{tuple(weight.shape)}")
        if not 0.0 <= label_smoothing <= 1.0:
            raise RuntimeError(f"expected label_smoothing to be in range [0, 1], got "
                               f"{label_smoothing}")
        super().__init__(weight, reduction=reduction)
        self.num_classes = num_classes
        self.out_features = tuple(out_features)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.linear = Linear(in_features, math.prod(self.out_features, start=num_classes),
                             bias=bias, device=device, dtype=dtype)
        self.options = options

    def forward(self, input, target):
        head = (self.num_classes, *self.out_features)
        bias = self.linear.bias
        return F.linear_cross_entropy(
            input, self.linear.weight.reshape(*head, self.linear.in_features), target,
            linear_bias=None if bias is None else bias.reshape(head), weight=self.weight,
            reduction=self.reduction, ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing, options=self.options)

    def extra_repr(self) -> str:
        return (f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
                f"out_features={self.out_features}, bias={self.linear.bias is not None}, "
                f"reduction={self.reduction}, ignore_index={self.ignore_index}, "
                f"label_smoothing={self.label_smoothing}, options={self.options}")
