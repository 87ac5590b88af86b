"""``Unfold`` (im2col) and ``Fold`` (col2im) modules: the options, then the functional op."""
from __future__ import annotations

from fastdl.nn import functional as F
from fastdl.nn.modules.module import Module


class Unfold(Module):
    """Extract sliding local blocks (im2col): each kernel_size window of every channel
    becomes one column.

    ``Unfold(kernel_size, dilation=1, padding=0, stride=1)``, as in torch (each an int or a
    pair).

    Shape: input (N, C, H, W) or (C, H, W); output (N, C * prod(kernel_size), L), L the
    number of windows, prod over spatial dims of floor((size + 2*padding - dilation*(k-1) -
    1)/stride + 1).

    >>> x = fastdl.arange(16.0).reshape(1, 1, 4, 4)
    >>> cols = fastdl.nn.Unfold(kernel_size=2)(x)
    >>> cols.shape, cols[0, :, 0].tolist()
    ((1, 4, 9), [0.0, 1.0, 4.0, 5.0])
    """
    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input):
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """Combine sliding local blocks into a tensor (col2im, the adjoint of Unfold):
    overlapping values are summed.

    ``Fold(output_size, kernel_size, dilation=1, padding=0, stride=1)``, as in torch (each an
    int or a pair).

    Shape: input (N, C * prod(kernel_size), L) or unbatched (C * prod(kernel_size), L);
    output (N, C, *output_size) or (C, *output_size).

    >>> fold = fastdl.nn.Fold(output_size=(3, 3), kernel_size=2)
    >>> fold(fastdl.ones(1, 4, 4))[0, 0].tolist()  # how many windows cover each pixel
    [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size, self.dilation = output_size, kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input):
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")
