"""The nn ops PyTorch also exposes at the top level (``torch.selu``, ``torch.pdist``, ...) and
as Tensor methods (``Tensor.prelu``, ``Tensor.hardshrink``, ``Tensor.relu_``), with torch's
top-level signatures (the dropouts take ``train``, not ``training``). ``fastdl/__init__.py``
re-exports ``__all__``; ``install`` adds the methods to Tensor."""
from __future__ import annotations

from fastdl.nn.functional.activation import relu
from fastdl.nn.functional.activation_more import (celu, celu_, hardshrink, prelu, selu, selu_,
                                                  threshold, threshold_)
from fastdl.nn.functional.distance import cosine_similarity, pairwise_distance, pdist
from fastdl.nn.functional.dropout_alpha import (alpha_dropout as _alpha_dropout,
                                                feature_alpha_dropout as _feature_alpha_dropout,
                                                rrelu, rrelu_)
from fastdl.nn.functional.normalization_more import rms_norm
from fastdl.nn.functional.shuffle import (channel_shuffle, native_channel_shuffle, pixel_shuffle,
                                          pixel_unshuffle)


def relu_(input):
    """max(x, 0) written into ``input``.

    >>> x = fastdl.tensor([-1.0, 2.0]); x.relu_() is x, x.tolist()
    (True, [0.0, 2.0])
    """
    return relu(input, inplace=True)


def alpha_dropout(input, p: float, train: bool):
    """nn.functional.alpha_dropout with torch's top-level signature.

    >>> fastdl.alpha_dropout(fastdl.ones(3), 0.5, False).tolist()
    [1.0, 1.0, 1.0]
    """
    return _alpha_dropout(input, p, train)


def alpha_dropout_(input, p: float, train: bool):
    """alpha_dropout written into ``input``.

    >>> x = fastdl.ones(3); fastdl.alpha_dropout_(x, 1.0, True) is x, x.tolist()
    (True, [0.0, 0.0, 0.0])
    """
    return _alpha_dropout(input, p, train, inplace=True)


def feature_alpha_dropout(input, p: float, train: bool):
    """nn.functional.feature_alpha_dropout with torch's top-level signature.

    >>> fastdl.feature_alpha_dropout(fastdl.ones(2, 2), 0.5, False).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    return _feature_alpha_dropout(input, p, train)


def feature_alpha_dropout_(input, p: float, train: bool):
    """feature_alpha_dropout written into ``input``.

    >>> x = fastdl.ones(2, 2); fastdl.feature_alpha_dropout_(x, 0.0, True) is x
    True
    """
    return _feature_alpha_dropout(input, p, train, inplace=True)


__all__ = ["alpha_dropout", "alpha_dropout_", "celu", "celu_", "channel_shuffle",
           "cosine_similarity", "feature_alpha_dropout", "feature_alpha_dropout_", "hardshrink",
           "native_channel_shuffle", "pairwise_distance", "pdist", "pixel_shuffle",
           "pixel_unshuffle", "prelu", "relu_", "rms_norm", "rrelu", "rrelu_", "selu", "selu_",
           "threshold", "threshold_"]

TENSOR_METHODS = {"prelu": prelu, "hardshrink": hardshrink, "relu_": relu_}


def install(cls):
    for name, fn in TENSOR_METHODS.items():
        setattr(cls, name, fn)
