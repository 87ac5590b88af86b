"""Differentiable tensor ops (``fastdl.sum``, ``fastdl.cat`` ... are these functions)."""
import fastdl.tensor  # noqa: F401  (Tensor must exist before the op modules import it)
from fastdl.functional.activations import log_softmax, softmax
from fastdl.functional.arithmetic import (abs, add, allclose, bitwise_and, bitwise_not,
                                          bitwise_or, bitwise_xor, ceil, clamp, clip, cos, div, eq,
                                          equal, exp, expm1, floor, floor_divide, fmod, ge, gt,
                                          isfinite, isinf, isnan, le, log, log1p, log2, log10,
                                          logical_and, logical_not, logical_or, logical_xor, lt,
                                          maximum, minimum, mul, ne, neg, pow, reciprocal, relu,
                                          remainder, round, rsqrt, rsub, sigmoid, sign, sin, sqrt,
                                          square, sub, tan, tanh, trunc, where)
from fastdl.functional.composites import (addcdiv, addcmul, addmm, aminmax, cummax, cummin,
                                          deg2rad, diff, float_power, heaviside, kthvalue, median,
                                          mode, nan_to_num, nanmean, nanmedian, nansum, rad2deg,
                                          signbit, std_mean, take, trace, var_mean)
from fastdl.functional.composites_shapes import (block_diag, bucketize, cartesian_prod, cdist,
                                                 combinations, dsplit, histc, hsplit, is_nonzero,
                                                 kron, masked_scatter, renorm, rot90,
                                                 tensor_split, tile, vsplit)
from fastdl.functional.conversion import to
from fastdl.functional.elementwise_math import (absolute, acos, acosh, arccos, arccosh, arcsin,
                                                arcsinh, arctan, arctanh, asin, asinh, atan,
                                                atanh, cosh, digamma, erf, erfc, erfinv, exp2,
                                                fix, frac, i0, lgamma, mvlgamma, polygamma, sinh)
from fastdl.functional.elementwise_more import (atan2, bitwise_left_shift, bitwise_right_shift,
                                                fmax, fmin, frexp, gcd, greater, greater_equal,
                                                isclose, isneginf, isposinf, isreal, lcm, ldexp,
                                                less, less_equal, nextafter, not_equal, positive,
                                                sgn)
from fastdl.functional.elementwise_special import igamma, igammac
from fastdl.functional.everyday import (argsort, baddbmm, bincount, clamp_max, clamp_min,
                                        cumprod, diag, diag_embed, diagonal, einsum, lerp, prod,
                                        repeat_interleave, roll, searchsorted, sort, topk, tril,
                                        triu, unique)
from fastdl.functional.index_slices import index_add, index_copy, index_fill
from fastdl.functional.indexing import (gather, index_select, masked_fill, masked_select,
                                        nonzero, one_hot, scatter_add, take_along_dim)
from fastdl.functional.pointwise_edges import (copysign, hypot, logaddexp, logaddexp2, logit,
                                              sinc, xlogy)
from fastdl.functional.scattering import scatter, scatter_reduce
from fastdl.functional.linalg import bmm, dot, linear, matmul, mm, outer
from fastdl.functional.reductions import (all, amax, amin, any, argmax, argmin, count_nonzero,
                                          cumsum, logcumsumexp, logsumexp, max, mean, min, norm,
                                          std, sum, var)
from fastdl.functional.shape import (broadcast_to, cat, chunk, clone, concat, concatenate,
                                     contiguous, expand, flatten, flip, movedim, narrow, permute,
                                     repeat, reshape, split, squeeze, stack, swapaxes, t,
                                     transpose, unbind, unflatten, unsqueeze, view)
from fastdl.functional.shape_more import (argwhere, atleast_1d, atleast_2d, atleast_3d,
                                         broadcast_shapes, broadcast_tensors, column_stack,
                                         diagflat, diagonal_scatter, dstack, fliplr, flipud,
                                         hstack, is_same_size, meshgrid, msort, narrow_copy,
                                         numel, ravel, row_stack, select, select_scatter,
                                         slice_scatter, split_with_sizes, tril_indices,
                                         triu_indices, unravel_index, vstack)
from fastdl.functional.statistics import corrcoef, cov, isin, nanquantile, quantile
from fastdl.functional.sampling import bernoulli, multinomial, normal, poisson, randint_like
from fastdl.functional.index_more import index_put, index_put_, index_reduce, put
from fastdl.functional.numerics import (cumulative_trapezoid, gradient, histogram, trapezoid,
                                      trapz, unique_consecutive, vander)
from fastdl.functional.strided import as_strided
from fastdl.creation_ranges import logspace, range  # creation functions, torch's names

# torch's top-level linear algebra (fastdl.det, inverse, svd ...) and its Tensor methods
from fastdl.functional._core import Tensor as _Tensor
from fastdl.linalg.torch_names import TENSOR_METHODS as _LINALG_METHODS, TOP_LEVEL as _LINALG
globals().update(_LINALG)
for _name, _fn in _LINALG_METHODS.items():
    setattr(_Tensor, _name, _fn)

multiply, divide, subtract, negative, true_divide = mul, div, sub, neg, div
moveaxis, swapdims = movedim, transpose
ger = outer
arctan2 = atan2

# "linalg" is the submodule functional.linalg (matmul's); fastdl.linalg is the torch.linalg
# namespace, which a star import of this package must not overwrite
__all__ = [n for n in dir() if not n.startswith("_") and n not in ("fastdl", "linalg")]
