"""Simple layers torch.nn has: alpha dropouts, pixel/channel shuffles, RMSNorm, local
response normalization and the distance modules (thin wrappers over fastdl.nn.functional)."""
from __future__ import annotations

from fastdl.nn import functional as F
from fastdl.nn import init
from fastdl.nn.modules.dropout import Dropout
from fastdl.nn.modules.linear import _empty
from fastdl.nn.modules.module import Module


class AlphaDropout(Dropout):
    """Dropout for SELU nets: keeps a zero-mean unit-variance input so in training; the
    identity in eval.

    >>> m = fastdl.nn.AlphaDropout(0.2)
    >>> m(fastdl.randn(4, 5)).shape
    (4, 5)
    """

    def forward(self, input):
        return F.alpha_dropout(input, self.p, self.training, self.inplace)


class FeatureAlphaDropout(Dropout):
    """AlphaDropout of whole channels of an (N, C, *) input; the identity in eval.

    >>> fastdl.nn.FeatureAlphaDropout(0.3).eval()(fastdl.ones(2, 3, 4)).sum().item()
    24.0
    """

    def forward(self, input):
        return F.feature_alpha_dropout(input, self.p, self.training, self.inplace)


class PixelShuffle(Module):
    """(*, C r^2, H, W) -> (*, C, H r, W r).

    >>> fastdl.nn.PixelShuffle(2)(fastdl.ones(1, 8, 3, 5)).shape
    (1, 2, 6, 10)
    """

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H r, W r) -> (*, C r^2, H, W).

    >>> fastdl.nn.PixelUnshuffle(2)(fastdl.ones(1, 2, 6, 10)).shape
    (1, 8, 3, 5)
    """

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """Interleave the ``groups`` channel groups of an (N, C, *) input (ShuffleNet).

    >>> fastdl.nn.ChannelShuffle(2)(fastdl.arange(4.0).reshape(1, 4, 1)).flatten().tolist()
    [0.0, 2.0, 1.0, 3.0]
    """

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, input):
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class RMSNorm(Module):
    """x / sqrt(mean(x^2) + eps) over the trailing ``normalized_shape`` dims, times a learned
    ``weight`` (ones at first) when ``elementwise_affine``.

    >>> m = fastdl.nn.RMSNorm([3, 4])
    >>> m(fastdl.randn(2, 3, 4)).shape, m.weight.shape
    ((2, 3, 4), (3, 4))
    """

    def __init__(self, normalized_shape, eps=None, elementwise_affine: bool = True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = _empty(self.normalized_shape, dtype, device)
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input):
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class LocalResponseNorm(Module):
    """x / (k + alpha * mean of x^2 over ``size`` neighbouring channels)^beta (AlexNet).

    >>> fastdl.nn.LocalResponseNorm(2)(fastdl.ones(1, 4, 3, 3)).shape
    (1, 4, 3, 3)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class CosineSimilarity(Module):
    """Cosine of the angle between x1 and x2 along ``dim``.

    >>> fastdl.nn.CosineSimilarity(dim=0)(fastdl.tensor([1.0, 0.0]), fastdl.tensor([1.0, 1.0])).item()
    0.7071067...
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p over the last dim (the norm's order is the attribute ``norm``).

    >>> fastdl.nn.PairwiseDistance()(fastdl.zeros(2, 2), fastdl.tensor([[3.0, 4.0]] * 2)).shape
    (2,)
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
