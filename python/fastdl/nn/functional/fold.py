"""``unfold`` (im2col) and ``fold`` (col2im) over two spatial dims.

unfold copies every kernel_size block of the (zero-padded) input into a column: (N, C, H, W)
-> (N, C * kh * kw, L), the column's rows ordered (channel, kernel row, kernel column) and the
L blocks row-major, as torch's. fold adds such columns back into an (N, C, H, W) output. They
are linear and each other's adjoint, so each op's backward is the other op (higher
derivatives follow). The loops run over the kh * kw kernel offsets only, each moving a strided
slice of the whole batch at once.
"""
from __future__ import annotations

import numpy as np

from fastdl.autograd.op import defop
from fastdl.nn.functional._checks import check_tensor
from fastdl.nn.functional.pooling import _ntuple


class _BlockGrid:
    """The geometry of one unfold/fold: image size, kernel, dilation, padding, stride and the
    number of blocks along each spatial dim."""

    __slots__ = ("image", "kernel", "dilation", "padding", "stride", "blocks")

    def __init__(self, image, kernel, dilation, padding, stride, blocks):
        self.image, self.kernel, self.dilation = image, kernel, dilation
        self.padding, self.stride, self.blocks = padding, stride, blocks

    def __repr__(self):
        return f"<blocks {self.blocks} of {self.kernel} over {self.image}>"

    def offsets(self):
        """(ki, kj, rows slice, columns slice) into the padded image, per kernel offset."""
        (kh, kw), (dh, dw), (sh, sw), (bh, bw) = (self.kernel, self.dilation, self.stride,
                                                  self.blocks)
        for ki in range(kh):
            for kj in range(kw):
                yield (ki, kj, slice(ki * dh, ki * dh + (bh - 1) * sh + 1, sh),
                       slice(kj * dw, kj * dw + (bw - 1) * sw + 1, sw))


def _unfold_forward(x, grid):
    n, c = x.shape[:2]
    (ph, pw), (kh, kw) = grid.padding, grid.kernel
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    columns = np.empty((n, c, kh, kw) + tuple(grid.blocks), dtype=x.dtype)
    for ki, kj, rows, cols in grid.offsets():
        columns[:, :, ki, kj] = padded[:, :, rows, cols]
    return columns.reshape(n, c * kh * kw, grid.blocks[0] * grid.blocks[1])


def _fold_forward(columns, grid):
    n = columns.shape[0]
    (ph, pw), (kh, kw), (h, w) = grid.padding, grid.kernel, grid.image
    blocks = columns.reshape((n, columns.shape[1] // (kh * kw), kh, kw) + tuple(grid.blocks))
    padded = np.zeros((n, blocks.shape[1], h + 2 * ph, w + 2 * pw), dtype=columns.dtype)
    for ki, kj, rows, cols in grid.offsets():
        padded[:, :, rows, cols] += blocks[:, :, ki, kj]
    return np.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w])


unfold_op = defop("im2col", forward=_unfold_forward,
                  backward=lambda ctx, g: (fold_op.apply((g,), *ctx.args),))
fold_op = defop("col2im", forward=_fold_forward,
                backward=lambda ctx, g: (unfold_op.apply((g,), *ctx.args),))


def _grid(fn, image, kernel_size, dilation, padding, stride):
    kernel = _ntuple(kernel_size, 2, fn, "kernel_size")
    dilation = _ntuple(dilation, 2, fn, "dilation")
    padding = _ntuple(padding, 2, fn, "padding")
    stride = _ntuple(stride, 2, fn, "stride")
    for name, values, low in (("kernel_size", kernel, 1), ("dilation", dilation, 1),
                              ("padding", padding, 0), ("stride", stride, 1)):
        if any(v < low for v in values):
            raise RuntimeError(f"{fn}(): {name} should be {'greater than zero' if low else 'non-negative'}, "
                               f"but got {name}: {values}")
    blocks = tuple((i + 2 * p - d * (k - 1) - 1) // s + 1
                   for i, k, d, p, s in zip(image, kernel, dilation, padding, stride))
    if any(b < 1 for b in blocks):
        raise RuntimeError(f"{fn}(): given input with spatial size {tuple(image)}, "
                           f"kernel_size={kernel}, dilation={dilation}, padding={padding}, "
                           f"stride={stride}, calculated shape of the array of sliding blocks "
                           f"as {blocks}, but its components must be at least one.")
    return _BlockGrid(tuple(image), kernel, dilation, padding, stride, blocks)


def _float_input(fn, input, ranks):
    check_tensor(input, fn)
    x = input._data
    if x.ndim not in ranks:
        raise RuntimeError(f"{fn}(): expected a {ranks[0]}-D (unbatched) or {ranks[1]}-D "
                           f"(batched) input, got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}(): input must be a floating point tensor, got {x.dtype}")
    if any(s == 0 for s in x.shape[x.ndim - ranks[0]:]):
        raise RuntimeError(f"{fn}(): expected non-empty dims besides the batch, got input of "
                           f"shape {tuple(x.shape)}")
    unbatched = x.ndim == ranks[0]
    return (input.unsqueeze(0) if unbatched else input), unbatched


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of an (N, C, H, W) or (C, H, W) input as columns: (N, C * kh * kw, L)
    (im2col); L = the number of block positions."""
    fn = "unfold"
    batched, unbatched = _float_input(fn, input, (3, 4))
    grid = _grid(fn, batched.shape[2:], kernel_size, dilation, padding, stride)
    out = unfold_op.apply((batched,), grid)
    return out.squeeze(0) if unbatched else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Columns of blocks (N, C * kh * kw, L) or (C * kh * kw, L) added back into an image of
    ``output_size`` (col2im); overlapping blocks add up. unfold's adjoint."""
    fn = "fold"
    batched, unbatched = _float_input(fn, input, (2, 3))
    size = _ntuple(output_size, 2, fn, "output_size")
    grid = _grid(fn, size, kernel_size, dilation, padding, stride)
    rows, count = batched.shape[1:]
    kernel_area = grid.kernel[0] * grid.kernel[1]
    if rows % kernel_area:
        raise RuntimeError(f"{fn}(): expected size of input's dimension 1 to be divisible by "
                           f"the product of kernel_size, but got input.size(1)={rows} and "
                           f"kernel_size={grid.kernel}")
    if count != grid.blocks[0] * grid.blocks[1]:
        raise RuntimeError(f"{fn}(): given output_size={size}, kernel_size={grid.kernel}, "
                           f"dilation={grid.dilation}, padding={grid.padding}, "
                           f"stride={grid.stride}, expected size of input's dimension 2 to "
                           f"match the calculated number of sliding blocks "
                           f"{grid.blocks[0]} * {grid.blocks[1]} = "
                           f"{grid.blocks[0] * grid.blocks[1]}, but got input.size(2)={count}.")
    out = fold_op.apply((batched,), grid)
    return out.squeeze(0) if unbatched else out
