"""``fastdl.masked``: torch.masked's reductions and normalizations of plain tensors with a bool
``mask`` (True keeps an element). The mask broadcasts to the input (it may have fewer dims,
never more); a mask of another dtype counts its non-zero elements as kept, as torch's. Each
function is the plain operation on the input with the masked-out elements replaced by its
identity, so a fully masked slice gives torch's result (sum 0, amax -inf, mean and softmax
NaN ...) and gradients reach only the kept elements. There is no MaskedTensor and no sparse
layout.
"""
from fastdl.masked.normalizations import (cumprod, cumsum, log_softmax, logaddexp, normalize,
                                          softmax, softmin)
from fastdl.masked.reductions import (amax, amin, argmax, argmin, logsumexp, mean, median, norm,
                                      prod, std, sum, var)

__all__ = ["amax", "amin", "argmax", "argmin", "cumprod", "cumsum", "log_softmax", "logaddexp",
           "logsumexp", "mean", "median", "norm", "normalize", "prod", "softmax", "softmin",
           "std", "sum", "var"]
