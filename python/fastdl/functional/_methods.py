"""Attach the functional ops to ``Tensor`` as methods and operators (torch's names)."""
from __future__ import annotations

from fastdl.functional import (activations, arithmetic as A, conversion, everyday as E,
                               composites as C, composites_shapes as CS, indexing, linalg,
                               pointwise_edges as PE, reductions as R, scattering, shape as S)
from fastdl.functional import index_more as IM, index_slices as IS, numerics as NU, sampling as RS, strided as SD, shape_more as SM, statistics as ST


def _swap(fn):
    def reflected(self, other):
        return fn(other, self)

    reflected.__name__ = f"r{fn.__name__}"
    return reflected


def _matmul_reflected(self, other):
    from fastdl.functional._core import as_tensor_arg
    return linalg.matmul(as_tensor_arg(other), self)


def _reshape_method(self, *shape):
    return S.reshape(self, *shape)


def _view_method(self, *shape):
    return S.view(self, *shape)


def _sum_method(self, dim=None, keepdim=False, *, dtype=None):
    return R.sum(self, dim, keepdim, dtype=dtype)


METHODS = {
    # operators
    "__add__": A.add, "__radd__": A.add, "__sub__": A.sub, "__rsub__": _swap(A.sub),
    "__mul__": A.mul, "__rmul__": A.mul, "__truediv__": A.div, "__rtruediv__": A.rdiv,
    "__floordiv__": A.floor_divide, "__rfloordiv__": _swap(A.floor_divide),
    "__mod__": A.remainder, "__rmod__": _swap(A.remainder),
    "__pow__": A.pow, "__rpow__": _swap(A.pow), "__neg__": A.neg, "__pos__": lambda self: self,
    "__abs__": A.abs, "__matmul__": linalg.matmul, "__rmatmul__": _matmul_reflected,
    "__eq__": A.eq, "__ne__": A.ne, "__lt__": A.lt, "__le__": A.le, "__gt__": A.gt,
    "__ge__": A.ge, "__and__": A.bitwise_and, "__or__": A.bitwise_or, "__xor__": A.bitwise_xor,
    "__rand__": A.bitwise_and, "__ror__": A.bitwise_or, "__rxor__": A.bitwise_xor,
    "__invert__": A.bitwise_not, "__getitem__": indexing.getitem,
    # arithmetic and math
    "add": A.add, "sub": A.sub, "subtract": A.sub, "mul": A.mul, "multiply": A.mul, "div": A.div,
    "divide": A.div, "true_divide": A.div, "floor_divide": A.floor_divide,
    "remainder": A.remainder, "fmod": A.fmod, "pow": A.pow, "neg": A.neg, "negative": A.neg,
    "reciprocal": A.reciprocal, "exp": A.exp, "expm1": A.expm1, "log": A.log, "log2": A.log2,
    "log10": A.log10, "log1p": A.log1p, "sqrt": A.sqrt, "rsqrt": A.rsqrt, "square": A.square,
    "sin": A.sin, "cos": A.cos, "tan": A.tan, "tanh": A.tanh, "sigmoid": A.sigmoid,
    "relu": A.relu, "abs": A.abs, "sign": A.sign, "floor": A.floor, "ceil": A.ceil,
    "round": A.round, "trunc": A.trunc, "clamp": A.clamp, "clip": A.clamp,
    "maximum": A.maximum, "minimum": A.minimum,
    "eq": A.eq, "ne": A.ne, "lt": A.lt, "le": A.le, "gt": A.gt, "ge": A.ge,
    "logical_not": A.logical_not, "logical_and": A.logical_and, "logical_or": A.logical_or,
    "isnan": A.isnan, "isinf": A.isinf, "isfinite": A.isfinite, "allclose": A.allclose,
    "equal": A.equal,
    "softmax": activations.softmax, "log_softmax": activations.log_softmax,
    # reductions
    "sum": _sum_method, "mean": R.mean, "max": R.max, "min": R.min, "amax": R.amax,
    "amin": R.amin, "argmax": R.argmax, "argmin": R.argmin, "var": R.var, "std": R.std,
    "logsumexp": R.logsumexp, "norm": R.norm, "all": R.all, "any": R.any, "cumsum": R.cumsum,
    "count_nonzero": R.count_nonzero,
    # shapes
    "reshape": _reshape_method, "view": _view_method, "view_as": S.view_as,
    "reshape_as": S.reshape_as, "flatten": S.flatten, "unflatten": S.unflatten,
    "permute": S.permute, "transpose": S.transpose, "swapaxes": S.transpose, "t": S.t,
    "squeeze": S.squeeze, "unsqueeze": S.unsqueeze, "expand": S.expand,
    "expand_as": S.expand_as, "broadcast_to": S.broadcast_to, "split": S.split,
    "chunk": S.chunk, "unbind": S.unbind, "narrow": S.narrow, "flip": S.flip,
    "repeat": S.repeat, "contiguous": S.contiguous, "clone": S.clone, "movedim": S.movedim,
    # indexing
    "gather": indexing.gather, "scatter_add": indexing.scatter_add,
    "index_select": indexing.index_select, "masked_fill": indexing.masked_fill,
    "masked_select": indexing.masked_select, "nonzero": indexing.nonzero,
    "take_along_dim": indexing.take_along_dim, "scatter": scattering.scatter,
    "scatter_reduce": scattering.scatter_reduce,
    # linear algebra, conversion
    "matmul": linalg.matmul, "mm": linalg.mm, "bmm": linalg.bmm, "dot": linalg.dot,
    "outer": linalg.outer, "to": conversion.to, "bfloat16": conversion.bfloat16,
    # everyday ops
    "sort": E.sort, "argsort": E.argsort, "topk": E.topk, "tril": E.tril, "triu": E.triu,
    "unique": E.unique, "bincount": E.bincount, "baddbmm": E.baddbmm, "cumprod": E.cumprod,
    "prod": E.prod,
    "roll": E.roll, "repeat_interleave": E.repeat_interleave, "clamp_min": E.clamp_min,
    "clamp_max": E.clamp_max, "lerp": E.lerp, "diag": E.diag, "diagonal": E.diagonal,
    "diag_embed": E.diag_embed,
    # composed from the ops above
    "addcmul": C.addcmul, "addcdiv": C.addcdiv, "addmm": C.addmm, "aminmax": C.aminmax,
    "cummax": C.cummax, "cummin": C.cummin, "diff": C.diff, "hypot": PE.hypot,
    "index_add": IS.index_add, "index_copy": IS.index_copy, "index_fill": IS.index_fill,
    "kthvalue": C.kthvalue, "logaddexp": PE.logaddexp, "median": C.median, "mode": C.mode,
    "nanmean": C.nanmean, "nanmedian": C.nanmedian, "nansum": C.nansum, "take": C.take,
    "trace": C.trace, "moveaxis": S.movedim, "swapdims": S.transpose,
    "nan_to_num": C.nan_to_num, "logaddexp2": PE.logaddexp2, "xlogy": PE.xlogy, "logit": PE.logit,
    "sinc": PE.sinc, "deg2rad": C.deg2rad, "rad2deg": C.rad2deg, "copysign": PE.copysign,
    "signbit": C.signbit, "heaviside": C.heaviside, "float_power": C.float_power, "tile":
    CS.tile, "tensor_split": CS.tensor_split, "hsplit": CS.hsplit, "vsplit": CS.vsplit, "dsplit":
    CS.dsplit, "kron": CS.kron, "rot90": CS.rot90, "renorm": CS.renorm, "histc": CS.histc,
    "logcumsumexp": R.logcumsumexp, "unfold": CS.unfold, "is_nonzero": CS.is_nonzero,
    "masked_scatter": CS.masked_scatter, "ger": linalg.outer,
}

# shape_more.py: selections, scatters and in-place shape changes
METHODS.update({
    "ravel": SM.ravel, "select": SM.select, "select_scatter": SM.select_scatter,
    "slice_scatter": SM.slice_scatter, "diagonal_scatter": SM.diagonal_scatter,
    "diagflat": SM.diagflat, "fliplr": SM.fliplr, "flipud": SM.flipud, "msort": SM.msort,
    "argwhere": SM.argwhere, "narrow_copy": SM.narrow_copy,
    "split_with_sizes": SM.split_with_sizes, "sum_to_size": SM.sum_to_size,
    "is_same_size": SM.is_same_size, "t_": SM.t_, "transpose_": SM.transpose_,
    "swapaxes_": SM.transpose_, "swapdims_": SM.transpose_, "squeeze_": SM.squeeze_,
    "unsqueeze_": SM.unsqueeze_,
})
METHODS.update({"quantile": ST.quantile, "nanquantile": ST.nanquantile, "cov": ST.cov,
                "corrcoef": ST.corrcoef})
# numerics.py and strided.py
METHODS.update({
    "histogram": NU.histogram, "unique_consecutive": NU.unique_consecutive,
    "as_strided": SD.as_strided, "new_empty_strided": SD.new_empty_strided,
})
# index_more.py: indexed writes
METHODS.update({
    "index_put": IM.index_put, "index_put_": IM.index_put_, "put": IM.put, "put_": IM.put_,
    "index_reduce": IM.index_reduce, "index_reduce_": IM.index_reduce_,
    "fill_diagonal_": IM.fill_diagonal_,
})
# sampling.py: random draws and in-place random fills
METHODS.update({
    "bernoulli": RS.bernoulli, "bernoulli_": RS.bernoulli_, "multinomial": RS.multinomial,
    "random_": RS.random_, "exponential_": RS.exponential_, "geometric_": RS.geometric_,
    "log_normal_": RS.log_normal_, "cauchy_": RS.cauchy_,
})

# the elementwise math of elementwise_math / elementwise_more, and in-place variants
from fastdl.functional.math_methods import METHODS as _MATH_METHODS  # noqa: E402
METHODS.update(_MATH_METHODS)



def _orgqr_method(self, input2):
    """``Tensor.orgqr(tau)``: :func:`fastdl.linalg.householder_product` of this tensor and tau.

    >>> import fastdl
    >>> tuple(fastdl.tensor([[1.0], [0.5]]).orgqr(fastdl.tensor([0.8])).shape)
    (2, 1)
    """
    from fastdl.linalg.householder import orgqr
    return orgqr(self, input2)


METHODS["orgqr"] = _orgqr_method

PROPERTIES = {"T": S._T, "mT": S._mT, "mH": S._mT}  # real dtypes only: mH is mT

# complex_parts.py (conj, real, angle, H ... on real dtypes) and aten_misc.py
from fastdl.functional import aten_misc as _aten, complex_parts as _complex  # noqa: E402
METHODS.update(_complex.METHODS)
METHODS.update(_aten.METHODS)
PROPERTIES.update(_complex.PROPERTIES)

# Tensor.get_device() and Tensor.is_inference() (process_state.py)
from fastdl import process_state as _process  # noqa: E402
METHODS.update(get_device=_process.get_device, is_inference=_process.is_inference)

# tensor_methods_more.py: in-place composites, metadata queries, legacy constructors, callbacks
from fastdl.functional import tensor_methods_more as _more  # noqa: E402
METHODS.update(_more.METHODS)
PROPERTIES.update(_more.PROPERTIES)

# tensor_storage.py: set_ (re-pointing a tensor at another's memory) and as_subclass
from fastdl.functional import tensor_storage as _storage  # noqa: E402
METHODS.update(_storage.METHODS)


def install(cls):
    for name, fn in METHODS.items():
        setattr(cls, name, fn)
    for name, fn in PROPERTIES.items():
        setattr(cls, name, property(fn))
