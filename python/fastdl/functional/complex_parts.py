"""torch's complex-number API on fastdl's real dtypes: ``conj``, ``conj_physical``,
``resolve_conj``, ``resolve_neg``, ``real`` return the tensor itself (as torch does for a real
tensor), ``imag`` raises as torch does, ``angle`` is 0 or pi (NaN stays NaN) and ``Tensor.H``
is the transpose of a matrix.
"""
from __future__ import annotations

import math
import warnings

from fastdl.creation import zeros_like
from fastdl.functional.arithmetic import where
from fastdl._argcheck import check_tensor_arg
from fastdl.tensor import get_default_dtype


def conj(input):
    """The complex conjugate; a real tensor is its own conjugate (returned as it is).

    >>> x = fastdl.tensor([1.0, -2.0])
    >>> fastdl.conj(x) is x
    True
    """
    return check_tensor_arg(input, "conj")


def conj_physical(input):
    """The conjugate, materialized; for a real tensor the tensor itself (as in torch).

    >>> fastdl.conj_physical(fastdl.tensor([3.0])).tolist()
    [3.0]
    """
    return check_tensor_arg(input, "conj_physical")


def resolve_conj(input):
    """input with a lazy conjugation applied; fastdl has none, so input itself.

    >>> x = fastdl.ones(2)
    >>> x.resolve_conj() is x
    True
    """
    return check_tensor_arg(input, "resolve_conj")


def resolve_neg(input):
    """input with a lazy negation applied; fastdl has none, so input itself.

    >>> x = fastdl.ones(2)
    >>> x.resolve_neg() is x
    True
    """
    return check_tensor_arg(input, "resolve_neg")


def is_conj(input):
    """Whether input is a lazily conjugated view: never in fastdl.

    >>> fastdl.ones(2).is_conj()
    False
    """
    return False


def is_neg(input):
    """Whether input is a lazily negated view: never in fastdl.

    >>> fastdl.ones(2).is_neg()
    False
    """
    return False


def real(input):
    """The real part; a real tensor is returned as it is (torch does the same).

    >>> x = fastdl.tensor([1.5, -2.0])
    >>> fastdl.real(x) is x, x.real is x
    (True, True)
    """
    return check_tensor_arg(input, "real")


def imag(input):
    """The imaginary part, which only complex tensors have: raises for fastdl's real dtypes,
    with torch's message.

    >>> fastdl.ones(2).imag
    Traceback (most recent call last):
    RuntimeError: imag is not implemented for tensors with non-complex dtypes.
    """
    check_tensor_arg(input, "imag")
    raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")


def angle(input):
    """The argument of each element: pi for negative numbers, 0 otherwise (NaN stays NaN), in
    the default float dtype for integer and bool input. Its gradient is zero, as torch's.

    Shape: input's.

    >>> fastdl.angle(fastdl.tensor([-2.0, 0.0, 3.0, float("nan")])).tolist()
    [3.141592..., 0.0, 0.0, nan]
    """
    x = check_tensor_arg(input, "angle")
    if x.dtype.kind != "f":
        x = x.to(get_default_dtype())
    # composed through sign so that the graph exists (torch's angle requires grad with its
    # input) while the gradient is zero; fastdl's sign(NaN) is 0, so NaN comes in as a
    # constant from the detached input
    s = x.sign()
    d = x.detach()
    nan = where(d.isnan(), d, zeros_like(d))
    return (s < 0).to(x.dtype) * math.pi + s * 0.0 + nan


def H(input):
    """The conjugate transpose of a matrix (the transpose: fastdl's dtypes are real); other
    ranks raise as in torch, except 0-d, returned with torch's deprecation warning.

    >>> fastdl.tensor([[1.0, 2.0]]).H.tolist()
    [[1.0], [2.0]]
    """
    ndim = input.ndim
    if ndim == 0:
        warnings.warn("Tensor.H is deprecated on 0-D tensors. Consider using x.conj().",
                      UserWarning, stacklevel=2)
        return input
    if ndim != 2:
        hint = " For batches of matrices, consider using tensor.mH" if ndim > 2 else ""
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got "
                           f"{ndim}-D tensor.{hint}")
    return input.transpose(0, 1)


__all__ = ["angle", "conj", "conj_physical", "imag", "is_conj", "is_neg", "real",
           "resolve_conj", "resolve_neg"]
METHODS = {name: globals()[name] for name in __all__ if name not in ("imag", "real")}
PROPERTIES = {"H": H, "real": real, "imag": imag}
