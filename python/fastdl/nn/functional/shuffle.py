"""Channel rearrangements: pixel (un)shuffle (sub-pixel convolution) and channel shuffle
(ShuffleNet); reshapes and one permute each, so the gradient is the inverse rearrangement."""
from __future__ import annotations

from fastdl.nn.functional._checks import check_tensor


def _check_rank3(input, fn):
    check_tensor(input, fn)
    if input.ndim < 3:
        raise RuntimeError(f"{fn} expects input to have at least 3 dimensions, but got input "
                           f"with {input.ndim} dimension(s)")


def pixel_shuffle(input, upscale_factor: int):
    """(*, C r^2, H, W) -> (*, C, H r, W r): each group of r^2 channels fills an r x r block.

    >>> fastdl.pixel_shuffle(fastdl.arange(4.0).reshape(1, 4, 1, 1), 2).reshape(2, 2).tolist()
    [[0.0, 1.0], [2.0, 3.0]]
    """
    _check_rank3(input, "pixel_shuffle")
    r = int(upscale_factor)
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *batch, channels, height, width = input.shape
    if channels % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)="
                           f"{channels} is not divisible by {r * r}")
    k = len(batch)
    blocks = input.reshape(*batch, channels // (r * r), r, r, height, width)
    # (c, i, j, h, w) -> (c, h, i, w, j)
    blocks = blocks.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return blocks.reshape(*batch, channels // (r * r), height * r, width * r)


def pixel_unshuffle(input, downscale_factor: int):
    """(*, C, H r, W r) -> (*, C r^2, H, W): the inverse of pixel_shuffle.

    >>> fastdl.pixel_unshuffle(fastdl.arange(4.0).reshape(1, 1, 2, 2), 2).flatten().tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    _check_rank3(input, "pixel_unshuffle")
    r = int(downscale_factor)
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *batch, channels, height, width = input.shape
    for name, size, dim in (("height", height, -2), ("width", width, -1)):
        if size % r:
            raise RuntimeError(f"pixel_unshuffle expects {name} to be divisible by "
                               f"downscale_factor, but input.size({dim})={size} is not "
                               f"divisible by {r}")
    k = len(batch)
    blocks = input.reshape(*batch, channels, height // r, r, width // r, r)
    # (c, h, i, w, j) -> (c, i, j, h, w)
    blocks = blocks.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return blocks.reshape(*batch, channels * r * r, height // r, width // r)


def channel_shuffle(input, groups: int):
    """(N, C, *) with C = g k: channel g_i k + k_i moves to k_i g + g_i (interleaves groups).

    Shape: output the same shape as input.

    >>> fastdl.channel_shuffle(fastdl.arange(6.0).reshape(1, 6, 1), 2).flatten().tolist()
    [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    """
    _check_rank3(input, "channel_shuffle")
    groups = int(groups)
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    n, channels, *spatial = input.shape
    if channels % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {channels} "
                           f"channels and {groups} groups.")
    grouped = input.reshape(n, groups, channels // groups, *spatial)
    return grouped.transpose(1, 2).reshape(n, channels, *spatial)


def native_channel_shuffle(input, groups: int):
    """channel_shuffle under torch's other name for it.

    >>> fastdl.native_channel_shuffle(fastdl.arange(4.0).reshape(1, 4, 1), 2).flatten().tolist()
    [0.0, 2.0, 1.0, 3.0]
    """
    return channel_shuffle(input, groups)
