"""torch.geqrf: the QR decomposition in LAPACK's compact form (R on and above the diagonal, the
Householder reflectors below it, their scalars in tau), what ``linalg.householder_product``
turns back into Q. Computed by the same LAPACK routine numpy's ``qr(mode="raw")`` calls.
It has no derivative (torch's backward through it raises): its results carry no gradient
history, like ``heaviside``'s."""
from __future__ import annotations

from collections import namedtuple

from fastdl._argcheck import check_tensor_arg
from fastdl.functional._core import _wrap, torch_dtype_name, xp_of
from fastdl.functional.out_arg import supports_out

geqrf_result = namedtuple("geqrf", ["a", "tau"])


def _geqrf_arrays(a):
    xp = xp_of(a)
    h, tau = xp.linalg.qr(a, mode="raw")  # h is the transposed (Fortran-ordered) result
    return xp.ascontiguousarray(xp.swapaxes(h, -1, -2)), tau


@supports_out("geqrf")
def geqrf(input, *, out=None):
    """The QR decomposition of a matrix or a batch of them (..., m, n) in LAPACK's form:
    ``a`` holds R on and above the diagonal and the Householder vectors below it, ``tau``
    (..., min(m, n)) their scalars; ``linalg.householder_product(a, tau)`` is Q. Not
    differentiable: the results carry no gradient history (torch's backward raises).

    >>> a, tau = fastdl.geqrf(fastdl.tensor([[3.0, 1.0], [4.0, 2.0]]))
    >>> round(abs(a[0, 0].item()), 6), tuple(tau.shape)
    (5.0, (2,))
    """
    check_tensor_arg(input, "geqrf")
    a = input._data
    if a.ndim < 2:
        raise RuntimeError("torch.geqrf: input must have at least 2 dimensions.")
    if a.dtype.kind != "f":
        raise NotImplementedError(
            f"\"geqrf_cpu\" not implemented for '{torch_dtype_name(a.dtype)}'")
    return geqrf_result(*(_wrap(x) for x in _geqrf_arrays(a)))
