"""``torch.nn.utils.parametrizations.orthogonal``: a matrix (or a batch of them) kept orthogonal
by a map from unconstrained parameters, with torch's maps, state dict layout and initialization.

The maps (on the tall orientation; a wide matrix is handled transposed):
- ``matrix_exp`` / ``cayley``: the lower triangle of the original X gives the skew-symmetric
  A = X - X^T (embedded in n x n when X is n x k), Q = exp(A) or (I - A/2)^-1 (I + A/2), its
  first k columns;
- ``householder``: the reflectors below X's diagonal, tau = 2 / (1 + |v|^2) (so each reflector is
  exactly orthogonal), Q = householder_product times the signs on X's diagonal (±1, no
  gradient: torch casts them to int).
With ``use_trivialization`` (the default) Q is ``base @ Q(X)``; assigning a weight stores it, made
orthogonal, in ``base`` and resets X to -I (Q(-I) = I for every map), torch's "dynamic
trivialization"."""
from __future__ import annotations

import numpy as np

import fastdl
from fastdl.autograd import no_grad
from fastdl.functional.everyday import tril
from fastdl.linalg import householder_product, matrix_exp, solve
from fastdl.nn.modules.module import Module
from fastdl.nn.utils import parametrize
from fastdl.tensor import Tensor, _wrap

_MAPS = ("matrix_exp", "cayley", "householder")


def _is_orthogonal(q: np.ndarray) -> bool:
    n, k = q.shape[-2:]
    eps = 10.0 * n * np.finfo(q.dtype).eps
    gram = np.swapaxes(q, -1, -2) @ q
    return bool(np.allclose(gram, np.eye(k, dtype=q.dtype), rtol=1e-5, atol=eps))


def _make_orthogonal(a: np.ndarray) -> np.ndarray:
    """The Q of a = QR (a tall) with R's diagonal made non-negative: Q's columns times the
    signs of R's diagonal, as torch computes it (geqrf, then householder_product)."""
    x, tau = fastdl.geqrf(_wrap(a))
    q = householder_product(x, tau)._data
    return q * np.sign(np.diagonal(x._data, axis1=-2, axis2=-1))[..., None, :]


class _Orthogonal(Module):
    def __init__(self, weight: Tensor, orthogonal_map: str, *, use_trivialization=True):
        super().__init__()
        self.shape = tuple(weight.shape)
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X: Tensor) -> Tensor:
        n, k = X.shape[-2:]
        transposed = n < k
        if transposed:
            X = X.mT
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            X = tril(X)
            if n != k:  # embedded in an n x n matrix
                X = fastdl.cat([X, fastdl.zeros(*X.shape[:-1], n - k, dtype=X.dtype)], dim=-1)
            A = X - X.mT
            if self.orthogonal_map == "matrix_exp":
                Q = matrix_exp(A)
            else:  # the Cayley retraction (I + A/2)(I - A/2)^-1, as torch solves it
                eye = fastdl.eye(n, dtype=A.dtype)
                Q = solve(eye - 0.5 * A, eye + 0.5 * A)
            if n != k:
                Q = Q[..., :k]
        else:
            A = tril(X, -1)
            tau = 2.0 / (1.0 + (A * A).sum(dim=-2))
            Q = householder_product(A, tau)
            # the diagonal's signs carry no gradient (torch casts them to int: truncation)
            signs = X.diagonal(dim1=-2, dim2=-1).detach().trunc()
            Q = Q * signs.unsqueeze(-2)
        if hasattr(self, "base"):
            Q = self.base @ Q
        if transposed:
            Q = Q.mT
        return Q

    def right_inverse(self, Q: Tensor) -> Tensor:
        with no_grad():
            return self._right_inverse(Q)

    def _right_inverse(self, Q: Tensor) -> Tensor:
        if tuple(Q.shape) != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                             f"Got a tensor of shape {tuple(Q.shape)}.")
        q = Q._data
        n, k = q.shape[-2:]
        transpose = n < k
        if transpose:
            q = np.swapaxes(q, -1, -2)
            n, k = k, n
        if not hasattr(self, "base"):
            if self.orthogonal_map in ("matrix_exp", "cayley"):
                raise NotImplementedError("It is not possible to assign to the matrix "
                                          "exponential or the Cayley parametrizations when "
                                          "use_trivialization=False.")
            # the reflectors of q's QR, with the diagonal holding the signs that make R's
            # diagonal positive (a reflector LAPACK skipped, tau = 0, flips its sign)
            x, tau = fastdl.geqrf(_wrap(q))
            a, t = x._data.copy(), tau._data
            diag = np.sign(np.diagonal(a, axis1=-2, axis2=-1))
            diag = np.where(t == 0.0, -diag, diag)
            idx = np.arange(k)
            a[..., idx, idx] = diag
            return _wrap(np.ascontiguousarray(np.swapaxes(a, -1, -2)) if transpose else a)
        if n == k:
            q = q.copy() if _is_orthogonal(q) else _make_orthogonal(q)
        else:  # completed into a full n x n orthogonal matrix by random columns
            extra = fastdl.randn(*q.shape[:-2], n, n - k, dtype=Q.dtype)._data
            q = _make_orthogonal(np.concatenate([q, extra], axis=-1))
        self.base = _wrap(q)
        neg_identity = np.zeros(self.shape, dtype=Q._data.dtype)
        m = min(self.shape[-2:])
        neg_identity[..., np.arange(m), np.arange(m)] = -1.0
        return _wrap(neg_identity)


def orthogonal(module: Module, name: str = "weight", orthogonal_map: str | None = None, *,
               use_trivialization: bool = True) -> Module:
    """Keep ``module.<name>`` (a matrix or a batch of them) orthogonal: orthonormal columns when
    it is tall or square, rows when it is wide, through ``orthogonal_map`` ("matrix_exp",
    "cayley" or "householder"; default "matrix_exp" for square matrices, else "householder").
    The weight keeps its value when it is already orthogonal and is orthogonalized by QR
    otherwise. State dict: ``parametrizations.<name>.original`` and, with
    ``use_trivialization``, ``parametrizations.<name>.0.base``. Returns the module.

    >>> from fastdl import nn
    >>> layer = nn.utils.parametrizations.orthogonal(nn.Linear(3, 5))
    >>> w = layer.weight.detach().numpy()
    >>> bool(abs(w.T @ w - np.eye(3)).max() < 1e-5)
    True
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError("Expected a matrix or batch of matrices. "
                         f"Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        square = weight.shape[-2] == weight.shape[-1]
        orthogonal_map = "matrix_exp" if square else "householder"
    if orthogonal_map not in _MAPS:
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
                         f"Got: {orthogonal_map}")
    parametrize.register_parametrization(
        module, name, _Orthogonal(weight, orthogonal_map, use_trivialization=use_trivialization),
        unsafe=True)
    return module
