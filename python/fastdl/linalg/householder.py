"""The product of Householder reflectors (torch.linalg.householder_product, torch.orgqr).

Q = H_1 H_2 ... H_k, first n columns, with H_i = I - tau_i v_i v_i^T and v_i the i-th column of A
below the diagonal with a 1 on it (LAPACK's orgqr layout, what geqrf returns). It is composed of
registered ops, one rank-1 update of the m x n result per reflector applied from the right
(Q <- Q - tau_i v_i (v_i^T Q), starting from the identity), so its gradient is the exact
derivative of the same product torch's householder_product_backward computes in closed form,
and second derivatives need nothing more. Only the strictly lower part of A is read, so the rest
of A's gradient is zero, as in torch."""
from __future__ import annotations

from fastdl.functional import arithmetic as ar
from fastdl.functional._core import Tensor, _wrap, torch_dtype_name, xp_of
from fastdl.functional.everyday import tril
from fastdl.functional.linalg import matmul
from fastdl.functional.shape import narrow, unsqueeze
from fastdl.linalg._common import mT
from fastdl.functional.out_arg import supports_out

_NAME = "torch.linalg.householder_product"


def _check(A, tau):
    for t in (A, tau):
        if not isinstance(t, Tensor):
            raise TypeError(f"{_NAME}: expected Tensors, got {type(t).__name__}")
    a, t = A._data, tau._data
    if a.ndim < 2:
        raise RuntimeError(f"{_NAME}: input must have at least 2 dimensions.")
    if a.shape[-2] < a.shape[-1]:
        raise RuntimeError(f"{_NAME}: input.shape[-2] must be greater than or equal to "
                           "input.shape[-1]")
    if t.ndim < 1 or a.shape[-1] < t.shape[-1]:
        raise RuntimeError(f"{_NAME}: input.shape[-1] must be greater than or equal to "
                           "tau.shape[-1]")
    if a.ndim - t.ndim != 1:
        raise RuntimeError(f"{_NAME}: Expected tau to have one dimension less than input, but "
                           f"got tau.ndim equal to {t.ndim} and input.ndim is equal to {a.ndim}")
    if a.shape[:-2] != t.shape[:-1]:
        raise RuntimeError(f"{_NAME}: Expected batch dimensions of tau to be equal to "
                           f"input.shape[:-2], but got {list(t.shape[:-1])}")
    if a.dtype.kind == "c" or t.dtype.kind == "c":
        raise TypeError(f"{_NAME}: complex tensors are not supported by fastdl (its tensors "
                        "are real)")
    if a.dtype.kind != "f":
        raise NotImplementedError(
            f'"orgqr_cpu" not implemented for \'{torch_dtype_name(a.dtype)}\'')
    if t.dtype != a.dtype:
        raise RuntimeError(f"{_NAME}: tau dtype {torch_dtype_name(t.dtype)} does not match "
                           f"input dtype {torch_dtype_name(a.dtype)}")


@supports_out("linalg_householder_product")
def householder_product(A, tau, *, out=None):
    """The first n columns of the product of the k Householder reflectors stored in ``A`` (m x n,
    m >= n >= k) and ``tau`` (k), batched over leading dims (torch.linalg.householder_product).

    Differentiable w.r.t. both inputs; float32/float64 (complex inputs raise a TypeError).

    >>> import fastdl
    >>> A = fastdl.tensor([[1.0, 0.0], [0.5, 1.0], [0.25, 0.5]])
    >>> Q = fastdl.linalg.householder_product(A, fastdl.tensor([1.2, 1.6]))
    >>> tuple(Q.shape)
    (3, 2)
    """
    _check(A, tau)
    a = A._data
    xp = xp_of(a)
    m, n = a.shape[-2], a.shape[-1]
    k = tau._data.shape[-1]
    eye = xp.broadcast_to(xp.eye(m, n, dtype=a.dtype), a.shape[:-2] + (m, n))
    Q = _wrap(xp.ascontiguousarray(eye))
    if k == 0 or m == 0:
        if not (A.requires_grad or tau.requires_grad):
            return Q
        # nothing is read, but the result still belongs to the graph (zero gradients, as torch)
        from fastdl.functional.reductions import sum as _sum
        return ar.add(ar.add(Q, ar.mul(A, 0.0)), _sum(ar.mul(tau, 0.0)))
    return apply_reflectors(A, tau, Q, left=True, transpose=False)


def apply_reflectors(A, tau, other, left=True, transpose=False):
    """``op(Q) @ other`` (``left``) or ``other @ op(Q)``, op the transpose when ``transpose``, for
    Q = H_1 ... H_k given in geqrf's layout by A (mn x >= k) and tau (k): each reflector
    H_i = I - tau_i v_i v_i^T applied as a rank-1 update of registered ops, Q never formed
    (householder_product applies them to the identity, ormqr to its operand)."""
    k = tau.shape[-1]
    mn = A.shape[-2]
    # the reflector vectors: strictly lower part of A's first k columns, ones on the diagonal
    V = ar.add(tril(narrow(A, -1, 0, k), -1), _wrap(xp_of(A._data).eye(mn, k, dtype=A.dtype)))
    out = other
    for i in (range(k - 1, -1, -1) if left != transpose else range(k)):
        v = narrow(V, -1, i, 1)                               # (..., mn, 1)
        vt = ar.mul(v, unsqueeze(narrow(tau, -1, i, 1), -1))  # tau_i v_i
        if left:  # H C = C - tau v (v^T C)
            out = ar.sub(out, matmul(vt, matmul(mT(v), out)))
        else:  # C H = C - (C v)(tau v)^T
            out = ar.sub(out, matmul(matmul(out, v), mT(vt)))
    return out


def orgqr(input, tau):
    """``torch.orgqr``: an alias of :func:`householder_product`.

    >>> import fastdl
    >>> A = fastdl.tensor([[1.0], [0.5]])
    >>> tuple(fastdl.orgqr(A, fastdl.tensor([0.8])).shape)
    (2, 1)
    """
    return householder_product(input, tau)


__all__ = ["householder_product", "orgqr"]
