"""FractionalMaxPool2d / FractionalMaxPool3d (torch's modules over F.fractional_max_pool*)."""
from __future__ import annotations

from fastdl.nn.functional import fractional_pool as FP
from fastdl.nn.modules.module import Module


def _ntuple(v, d):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * d


class _FractionalMaxPoolNd(Module):
    _d = 2
    _fn = None

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        d, name = self._d, type(self).__name__
        self.kernel_size = _ntuple(kernel_size, d)
        self.return_indices = return_indices
        # a buffer (None unless given), so fixed samples follow .to() and the state_dict
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = _ntuple(output_size, d) if output_size is not None else None
        self.output_ratio = _ntuple(output_ratio, d) if output_ratio is not None else None
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a pooling "
                             "ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input):
        return type(self)._fn(input, self.kernel_size, self.output_size, self.output_ratio,
                              self.return_indices, _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """2D fractional max pooling (torch.nn.FractionalMaxPool2d): windows of ``kernel_size`` at
    pseudo-random starts, producing ``output_size`` or ``output_ratio`` (in (0, 1)) of the input.

    Args: kernel_size, output_size, output_ratio (exactly one of the two), return_indices,
    _random_samples ((N, C, 2), a buffer fixing the starts; drawn per call when None).

    >>> import fastdl
    >>> pool = fastdl.nn.FractionalMaxPool2d(3, output_ratio=0.5)
    >>> pool(fastdl.randn(2, 4, 10, 12)).shape
    (2, 4, 5, 6)
    """
    _d = 2
    _fn = staticmethod(FP.fractional_max_pool2d)


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """3D fractional max pooling (torch.nn.FractionalMaxPool3d); ``_random_samples`` is
    (N, C, 3). See :class:`FractionalMaxPool2d`.

    >>> import fastdl
    >>> pool = fastdl.nn.FractionalMaxPool3d(2, output_size=(3, 2, 2), return_indices=True)
    >>> out, idx = pool(fastdl.randn(1, 2, 6, 5, 5))
    >>> out.shape, idx.shape
    ((1, 2, 3, 2, 2), (1, 2, 3, 2, 2))
    """
    _d = 3
    _fn = staticmethod(FP.fractional_max_pool3d)


__all__ = ["FractionalMaxPool2d", "FractionalMaxPool3d"]
