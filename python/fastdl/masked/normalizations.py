"""torch.masked's normalizations, scans and logaddexp: results of the input's shape, with the
masked-out elements replaced by an identity first (softmax: -inf, so they get probability 0
and a fully masked slice NaN, as torch's; cumsum: 0; cumprod: 1)."""
from __future__ import annotations

from fastdl.functional.activations import log_softmax as _log_softmax
from fastdl.functional.activations import softmax as _softmax
from fastdl.functional.arithmetic import div, maximum, neg
from fastdl.functional.pointwise_edges import logaddexp as _logaddexp
from fastdl.functional.everyday import cumprod as _cumprod
from fastdl.functional.reductions import cumsum as _cumsum
from fastdl.masked._mask import canonical_dim, combine, quiet
from fastdl.masked.reductions import norm
from fastdl.tensor import Tensor


def _dim(dim, input):
    return canonical_dim(dim, input.ndim)[0]


def _floating(name, input, dtype=None):
    """torch's softmax and logaddexp kernels refuse integer and bool inputs (softmax takes one
    with a ``dtype``): an integer input here would carry its dtype's min as the identity
    (log_softmax -9.2e18 instead of -inf, logaddexp cast back to the integers)."""
    if dtype is None and isinstance(input, Tensor) and input.dtype.kind != "f":
        raise TypeError(f"masked.{name}(): expected a floating point input, got {input.dtype}"
                        + (" (or pass dtype=)" if name != "logaddexp" else ""))


@quiet
def cumsum(input, dim, *, dtype=None, mask=None):
    """Cumulative sum along ``dim`` counting only the kept elements (a masked-out one repeats
    the sum so far). The result has the input's dtype unless ``dtype`` says otherwise.

    >>> x = fastdl.tensor([1.0, 2.0, 3.0, 4.0])
    >>> fastdl.masked.cumsum(x, 0, mask=fastdl.tensor([True, False, True, True])).tolist()
    [1.0, 1.0, 4.0, 8.0]
    """
    return _cumsum(combine("sum", input, mask), _dim(dim, input),
                   dtype=input.dtype if dtype is None else dtype)


@quiet
def cumprod(input, dim, *, dtype=None, mask=None):
    """Cumulative product along ``dim`` of the kept elements (masked-out ones count as 1).

    >>> x = fastdl.tensor([2.0, 3.0, 4.0])
    >>> fastdl.masked.cumprod(x, 0, mask=fastdl.tensor([True, False, True])).tolist()
    [2.0, 2.0, 8.0]
    """
    return _cumprod(combine("prod", input, mask), _dim(dim, input),
                    dtype=input.dtype if dtype is None else dtype)


@quiet
def softmax(input, dim, *, dtype=None, mask=None):
    """softmax along ``dim`` over the kept elements: masked-out ones get 0, a fully masked
    slice NaN (as torch's).

    >>> x = fastdl.tensor([[1.0, 1.0, 5.0], [1.0, 2.0, 3.0]])
    >>> m = fastdl.tensor([[True, True, False], [False, False, False]])
    >>> fastdl.masked.softmax(x, 1, mask=m).tolist()
    [[0.5, 0.5, 0.0], [nan, nan, nan]]
    """
    _floating("softmax", input, dtype)
    return _softmax(combine("amax", input, mask), _dim(dim, input), dtype=dtype)


@quiet
def log_softmax(input, dim, *, dtype=None, mask=None):
    """log_softmax along ``dim`` over the kept elements: -inf for masked-out ones, NaN for a
    fully masked slice.

    >>> x = fastdl.tensor([2.0, 2.0, 7.0])
    >>> out = fastdl.masked.log_softmax(x, 0, mask=fastdl.tensor([True, True, False]))
    >>> [round(v, 4) for v in out.tolist()]
    [-0.6931, -0.6931, -inf]
    """
    _floating("log_softmax", input, dtype)
    return _log_softmax(combine("amax", input, mask), _dim(dim, input), dtype=dtype)


@quiet
def softmin(input, dim, *, dtype=None, mask=None):
    """softmax of ``-input`` along ``dim`` over the kept elements (0 for masked-out ones).

    >>> x = fastdl.tensor([3.0, 3.0, -5.0])
    >>> fastdl.masked.softmin(x, 0, mask=fastdl.tensor([True, True, False])).tolist()
    [0.5, 0.5, 0.0]
    """
    _floating("softmin", input, dtype)
    return _softmax(neg(combine("amin", input, mask)), _dim(dim, input), dtype=dtype)


@quiet
def normalize(input, ord, dim, *, eps=1e-12, dtype=None, mask=None):
    """The kept elements divided by their ``ord``-norm along ``dim`` (at least ``eps``);
    masked-out elements become 0.

    >>> x = fastdl.tensor([1.0, 3.0, 100.0])
    >>> fastdl.masked.normalize(x, 1.0, 0, mask=fastdl.tensor([True, True, False])).tolist()
    [0.25, 0.75, 0.0]
    """
    nrm = norm(input, ord, dim, keepdim=True, dtype=dtype, mask=mask)
    return div(combine("sum", input, mask), maximum(nrm, eps))


@quiet
def logaddexp(input, other, *, dtype=None, input_mask=None, other_mask=None):
    """``log(exp(input) + exp(other))`` with the masked-out elements of each taken as -inf
    (-inf where both are masked out).

    >>> a, b = fastdl.tensor([-100.0, -200.0, -300.0]), fastdl.tensor([-1.0, -2.0, -3.0])
    >>> m = fastdl.tensor([True, False, True])
    >>> fastdl.masked.logaddexp(a, b, input_mask=m, other_mask=m).tolist()
    [-1.0, -inf, -3.0]
    """
    _floating("logaddexp", input)
    _floating("logaddexp", other)
    out = _logaddexp(combine("logaddexp", input, input_mask),
                     combine("logaddexp", other, other_mask))
    return out.to(input.dtype if dtype is None else dtype)
