"""``Dropout``: active in training mode only."""
from __future__ import annotations

from fastdl.nn import functional as F
from fastdl.nn.modules.module import Module


class Dropout(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(Dropout):
    """Zeroes whole channels of (N, C, L) or (C, L) inputs in training mode.

    Shape: output the same shape as input; identity in eval().

    >>> m = fastdl.nn.Dropout1d(0.5)
    >>> m(fastdl.ones(2, 4, 3)).shape
    (2, 4, 3)
    >>> m.eval()(fastdl.ones(2, 4, 3)).sum().item()
    24.0
    """

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(Dropout):
    """Zeroes whole channels of (N, C, H, W) inputs in training mode.

    Shape: output the same shape as input; identity in eval().

    >>> m = fastdl.nn.Dropout2d(0.5)
    >>> m(fastdl.ones(2, 4, 3, 3)).shape
    (2, 4, 3, 3)
    >>> m.eval()(fastdl.ones(2, 4, 3, 3)).sum().item()
    72.0
    """

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(Dropout):
    """Zeroes whole channels of (N, C, D, H, W) or (C, D, H, W) inputs in training mode.

    Shape: output the same shape as input; identity in eval().

    >>> m = fastdl.nn.Dropout3d(0.5)
    >>> m(fastdl.ones(2, 4, 2, 3, 3)).shape
    (2, 4, 2, 3, 3)
    """

    def forward(self, input):
        return F.dropout3d(input, self.p, self.training, self.inplace)
