"""Products and functions of matrices built on matmul: inner, mv, addmv, addr, addbmm, vdot,
tensordot, multi_dot/chain_matmul, cross, vecdot, vander, matrix_power, matrix_exp, tensorinv,
tensorsolve. All compose registered ops (their gradients follow), except matrix_exp, one op
whose backward is the block-matrix exponential (torch's linalg_matrix_exp_differential)."""
from __future__ import annotations

import math

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl.autograd.op import defop
from fastdl.functional import arithmetic as ar
from fastdl.functional._core import Tensor, _wrap, expand, xp_of
from fastdl.functional.everyday import cumprod
from fastdl.functional.linalg import bmm, dot, matmul, outer
from fastdl.functional.matmul_dtypes import check_dot, check_tensordot, cpp_name
from fastdl.functional.reductions import sum as reduce_sum
from fastdl.functional.shape import (broadcast_to, cat, narrow, permute, reshape, squeeze,
                                     unsqueeze)
from fastdl.linalg._common import check_matrix, eye_like, mT
from fastdl.functional.out_arg import supports_out


def _scaled_sum(input, product, beta, alpha):
    """beta * input + alpha * product; beta == 0 ignores input (NaN/inf in it included). As in
    torch, an integral result takes alpha and beta cast to its dtype (0.6 -> 0) and a bool one
    takes them as truth values (the sum is then (beta and input) or (alpha and product))."""
    kind = product._data.dtype.kind
    if kind in "iu":
        alpha, beta = int(alpha), int(beta)
    elif kind == "b":
        alpha, beta = bool(alpha), bool(beta)
    if alpha != 1:
        product = product * alpha
    if beta == 0:  # torch reads only input's shape then
        return expand(product, _bshape(input, product))
    return (input if beta == 1 else input * beta) + product


def _bshape(a, b):
    return np.broadcast_shapes(a._data.shape, b._data.shape)


def _sum_keeping_dtype(x, dim):
    total = reduce_sum(x, dim, keepdim=True)
    return total if total._data.dtype == x._data.dtype else total.to(x._data.dtype)


@supports_out("tensordot")
@autocast_op("tensordot")
def tensordot(a, b, dims=2, out=None):
    """Sum of products over ``dims``: an int n contracts a's last n dims with b's first n; a
    pair of lists names the dims of each.

    >>> fastdl.tensordot(fastdl.ones(2, 3, 4), fastdl.ones(3, 4, 5)).shape
    (2, 5)
    """
    na, nb = a._data.ndim, b._data.ndim
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(na, nb):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        dims_a, dims_b = list(range(na - dims, na)), list(range(dims))
    else:
        dims_a, dims_b = ([dims[0]] if isinstance(dims[0], int) else list(dims[0]),
                          [dims[1]] if isinstance(dims[1], int) else list(dims[1]))
        if len(dims_a) != len(dims_b):
            raise RuntimeError("both dimension lists should have same length")
        dims_a, dims_b = [d % na for d in dims_a], [d % nb for d in dims_b]
    check_tensordot(a, b)
    for da, db in zip(dims_a, dims_b):
        sa, sb = a._data.shape[da], b._data.shape[db]
        if sa != sb and 1 in (sa, sb):  # as torch: a size-1 dim broadcasts, the other is summed
            if sa == 1:
                b = _sum_keeping_dtype(b, db)
            else:
                a = _sum_keeping_dtype(a, da)
        elif sa != sb:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {sa} "
                               f"in dim {da} and second has size {sb} in dim {db}")
    free_a = [d for d in range(na) if d not in dims_a]
    free_b = [d for d in range(nb) if d not in dims_b]
    k = math.prod(a._data.shape[d] for d in dims_a)
    a2 = reshape(permute(a, free_a + dims_a), (-1, k) if free_a else (1, k))
    b2 = reshape(permute(b, dims_b + free_b), (k, -1) if free_b else (k, 1))
    shape = tuple(a._data.shape[d] for d in free_a) + tuple(b._data.shape[d] for d in free_b)
    return reshape(matmul(a2, b2), shape)


@supports_out("inner")
def inner(input, other, *, out=None):
    """Sum of products over the last dims (a scalar operand multiplies instead).

    >>> fastdl.inner(fastdl.tensor([1.0, 2.0]), fastdl.tensor([3.0, 4.0])).item()
    11.0
    """
    if input._data.ndim == 0 or other._data.ndim == 0:
        return input * other
    if input._data.shape[-1] != other._data.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(input._data.shape)} and "
                           f"{list(other._data.shape)}")
    return tensordot(input, other, ([-1], [-1]))


@supports_out("mv")
@autocast_op("mv")
def mv(input, vec, *, out=None):
    """Matrix-vector product (torch.mv): input (n, m) @ vec (m,) -> (n,).

    >>> fastdl.mv(fastdl.tensor([[1.0, 2.0], [3.0, 4.0]]), fastdl.tensor([1.0, 1.0])).tolist()
    [3.0, 7.0]
    """
    if input._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input._data.ndim}, "
                           f"{vec._data.ndim}")
    return matmul(input, vec)


@supports_out("addmv")
@autocast_op("addmv")
def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (mat @ vec)`` (torch.addmv): mat (n, m), vec (m,), input
    broadcastable to (n,); beta=0 ignores input (NaN in it included).

    >>> fastdl.addmv(fastdl.tensor([1.0, 1.0]), fastdl.tensor([[1.0, 2.0], [3.0, 4.0]]),
    ...              fastdl.tensor([1.0, 1.0]), alpha=2).tolist()
    [7.0, 15.0]
    """
    from fastdl.functional._core import torch_dtype_name
    dtypes = [t._data.dtype for t in (input, mat, vec)]
    if len(set(dtypes)) > 1:  # torch does not promote here
        names = [torch_dtype_name(d) for d in dtypes]
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got "
                           f"{names[0]}, {names[1]}, and {names[2]}")
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


@supports_out("addr")
@autocast_op("addr")
def addr(input, vec1, vec2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * outer(vec1, vec2)`` (torch.addr): vec1 (n,), vec2 (m,), input
    broadcastable to (n, m); beta=0 ignores input.

    >>> fastdl.addr(fastdl.zeros(2, 3), fastdl.tensor([1.0, 2.0]),
    ...             fastdl.tensor([1.0, 0.0, -1.0])).tolist()
    [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0]]
    """
    if vec1._data.ndim != 1 or vec2._data.ndim != 1:
        raise RuntimeError(f"addr: Expected 1-D argument vec1, but got "
                           f"{vec1._data.ndim}-D" if vec1._data.ndim != 1 else
                           f"addr: Expected 1-D argument vec2, but got {vec2._data.ndim}-D")
    return _scaled_sum(input, outer(vec1, vec2), beta, alpha)


@supports_out("addbmm")
@autocast_op("addbmm")
def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * sum_b batch1[b] @ batch2[b]`` (torch.addbmm): batch1
    (b, n, m), batch2 (b, m, p), input broadcastable to (n, p); the batch is summed away.

    >>> out = fastdl.addbmm(fastdl.zeros(3, 5), fastdl.ones(2, 3, 4), fastdl.ones(2, 4, 5))
    >>> out.shape, out[0, 0].item()
    ((3, 5), 8.0)
    """
    from fastdl.functional._core import check_addmm_dtypes
    check_addmm_dtypes(input, batch1, batch2)
    products = bmm(batch1, batch2)
    return _scaled_sum(input, squeeze(_sum_keeping_dtype(products, 0), 0), beta, alpha)


@supports_out("vdot")
def vdot(input, other, *, out=None):
    """Dot product of two 1-D tensors of the same length and dtype (torch.vdot; fastdl's
    dtypes are real, so no conjugation: torch.dot); a 0-d result.

    >>> fastdl.vdot(fastdl.tensor([1.0, 2.0]), fastdl.tensor([3.0, 4.0])).item()
    11.0
    """
    check_dot(input, other)
    if input._data.ndim != 1 or other._data.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input._data.ndim}D and "
                           f"{other._data.ndim}D tensors")
    return dot(input, other)


def _chain_order(shapes):
    """The cheapest parenthesization of a matrix chain (the textbook dynamic program, as
    torch's multi_dot uses): split[i][j] is where chain i..j splits."""
    n = len(shapes)
    p = [shapes[0][0]] + [s[1] for s in shapes]
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + p[i] * p[k + 1] * p[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


@supports_out("linalg_multi_dot")
@autocast_op("multi_dot")
def multi_dot(tensors, *, out=None):
    """The product of a chain of matrices in the cheapest order; the first may be a row and
    the last a column vector (1-D).

    >>> fastdl.linalg.multi_dot([fastdl.ones(3), fastdl.ones(3, 4), fastdl.ones(4)]).item()
    12.0
    """
    n = len(tensors)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    first_vector, last_vector = tensors[0]._data.ndim == 1, tensors[-1]._data.ndim == 1
    mats = list(tensors)
    if first_vector:
        mats[0] = unsqueeze(mats[0], 0)
    if last_vector:
        mats[-1] = unsqueeze(mats[-1], -1)
    for i, m in enumerate(mats):
        if m._data.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got "
                               f"{tensors[i]._data.ndim}D")
        if m._data.dtype != mats[0]._data.dtype:
            raise RuntimeError("multi_dot(): all tensors must have be the same dtype but "
                               f"tensor 0 is {cpp_name(mats[0]._data.dtype)} and tensor {i} "
                               f"{cpp_name(m._data.dtype)}")
        if i and mats[i - 1]._data.shape[1] != m._data.shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i - 1} and {i} with shapes "
                               f"{tuple(tensors[i - 1]._data.shape)} and "
                               f"{tuple(tensors[i]._data.shape)} cannot be multiplied")
    split = _chain_order([m._data.shape for m in mats])

    def product(i, j):
        if i == j:
            return mats[i]
        k = split[i][j]
        return matmul(product(i, k), product(k + 1, j))

    result = product(0, n - 1)
    if first_vector:
        result = squeeze(result, 0)
    if last_vector:
        result = squeeze(result, -1)
    return result


@supports_out("chain_matmul")
@autocast_op("chain_matmul")
def chain_matmul(*matrices, out=None):
    """The product of 2-D matrices (n, a) @ (a, b) @ ... @ (c, p) -> (n, p), multiplied in
    the cheapest order (torch.chain_matmul; linalg.multi_dot for a list).

    >>> fastdl.chain_matmul(fastdl.ones(2, 3), fastdl.ones(3, 4), fastdl.ones(4, 5)).shape
    (2, 5)
    """
    if len(matrices) == 1:
        return matrices[0]
    return multi_dot(list(matrices))


def _cross(input, other, dim, name):
    shape = _bshape(input, other)
    if input._data.ndim != other._data.ndim:
        raise RuntimeError(f"{name}: inputs must have the same number of dimensions.")
    a, b = broadcast_to(input, shape), broadcast_to(other, shape)
    if input._data.shape[dim] != 3 or other._data.shape[dim] != 3:  # never broadcast along dim
        raise RuntimeError(f"{name}: inputs dimension {dim} must have length 3. Got "
                           f"{input._data.shape[dim]} and {other._data.shape[dim]}")
    a0, a1, a2 = (narrow(a, dim, i, 1) for i in range(3))
    b0, b1, b2 = (narrow(b, dim, i, 1) for i in range(3))
    return cat([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim)


@supports_out("linalg_cross")
def linalg_cross(input, other, *, dim=-1, out=None):
    """The 3-vector cross product along ``dim`` (inputs broadcast)."""
    return _cross(input, other, dim, "linalg.cross")


@supports_out("cross")
@autocast_op("cross")
def cross(input, other, dim=None, *, out=None):
    """The 3-vector cross product along ``dim`` (torch.cross: linalg.cross, but dim defaults
    to the first dim of size 3); shapes broadcast, the result has the broadcast shape.

    >>> fastdl.cross(fastdl.tensor([1.0, 0.0, 0.0]), fastdl.tensor([0.0, 1.0, 0.0])).tolist()
    [0.0, 0.0, 1.0]
    """
    if dim is None:
        shape = _bshape(input, other)
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError(f"no dimension of size 3 in input: {tuple(shape)}")
    return _cross(input, other, dim, "linalg.cross")


@supports_out("linalg_vecdot")
@autocast_op("vecdot")
def vecdot(x, y, *, dim=-1, out=None):
    """Sum of x * y over ``dim`` (broadcast); floating x and y of one dtype, as in torch."""
    from fastdl.functional._core import torch_dtype_name
    dx, dy = x._data.dtype, y._data.dtype
    if dx.kind != "f":
        raise RuntimeError(f"linalg.vecdot: Expected a floating point or complex tensor as "
                           f"input. Got {torch_dtype_name(dx)}")
    if dx != dy:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found "
                           f"x of type {torch_dtype_name(dx)} and y of type "
                           f"{torch_dtype_name(dy)} instead")
    return reduce_sum(x * y, dim)


def vander(x, *, N=None):
    """Columns x^0, x^1, ..., x^(N-1) (N defaults to x's last dim): (*, n) -> (*, n, N)."""
    if x._data.ndim == 0:  # torch reads a scalar as one point: (1, N)
        x = reshape(x, (1,))
    n = x._data.shape[-1] if N is None else N
    if n <= 1:
        if n < 0:
            raise RuntimeError(f"N must be non-negative. Got {n}.")
        return _wrap(xp_of(x._data).ones(x._data.shape + (n,), dtype=x._data.dtype))
    ones = _wrap(xp_of(x._data).ones(x._data.shape + (1,), dtype=x._data.dtype))
    powers = cumprod(expand(unsqueeze(x, -1), x._data.shape + (n - 1,)), -1)
    return cat([ones, powers], -1)


@supports_out("linalg_matrix_power")
def matrix_power(A, n, *, out=None):
    """A multiplied by itself n times by repeated squaring (n < 0: of inv(A); n = 0: I).

    >>> fastdl.linalg.matrix_power(fastdl.tensor([[1.0, 1.0], [0.0, 1.0]]), 3).tolist()
    [[1.0, 3.0], [0.0, 1.0]]
    """
    if not isinstance(A, Tensor) or A._data.ndim < 2 or A._data.shape[-1] != A._data.shape[-2]:
        shape = tuple(A._data.shape) if isinstance(A, Tensor) else ()
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but "
                           f"they are {shape[-2:] if len(shape) >= 2 else shape} matrices")
    if n == 0:  # I, as an output of A's graph (zero gradient) as torch's is
        identity = xp_of(A._data).broadcast_to(eye_like(A)._data, A._data.shape)
        return ar.where(_wrap(identity == identity), _wrap(identity.copy()), A)
    if n < 0:
        from fastdl.linalg.solvers import inv
        A, n = inv(A), -n
    result, square = None, A
    while n:
        if n & 1:
            result = square if result is None else matmul(result, square)
        n >>= 1
        if n:
            square = matmul(square, square)
    return result


# Pade(13) coefficients and the 1-norm up to which it is accurate without scaling (Higham 2005)
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
           40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def _matrix_exp_forward(a):
    """Scaling and squaring with the degree-13 Pade approximant, per matrix, in float64 (a
    float32 input is rounded once at the end)."""
    xp = xp_of(a)
    x = a.astype(np.float64)
    if x.size == 0:
        return a.copy()
    norm1 = xp.abs(x).sum(-2).max(-1)
    s = xp.maximum(0, xp.ceil(xp.log2(xp.maximum(norm1, 1e-300) / _THETA13))).astype(np.int64)
    x = x / (2.0 ** s)[..., None, None]
    b = _PADE13
    eye = xp.eye(x.shape[-1])
    x2 = x @ x
    x4 = x2 @ x2
    x6 = x4 @ x2
    u = x @ (x6 @ (b[13] * x6 + b[11] * x4 + b[9] * x2) + b[7] * x6 + b[5] * x4 + b[3] * x2
             + b[1] * eye)
    v = x6 @ (b[12] * x6 + b[10] * x4 + b[8] * x2) + b[6] * x6 + b[4] * x4 + b[2] * x2 \
        + b[0] * eye
    r = xp.linalg.solve(v - u, v + u)
    for k in range(int(s.max()) if s.size else 0):
        r = xp.where((s > k)[..., None, None], r @ r, r)
    return r.astype(a.dtype)


def _matrix_exp_backward(ctx, g):
    # d exp(A)^T g is the top-right block of exp([[A^T, g], [0, A^T]])
    a, = ctx.inputs
    n = a._data.shape[-1]
    at = mT(a)
    zero = ar.mul(at, 0.0)
    block = cat([cat([at, g], -1), cat([zero, at], -1)], -2)
    return (narrow(narrow(matrix_exp_op.apply((block,)), -2, 0, n), -1, n, n),)


matrix_exp_op = defop("linalg_matrix_exp", forward=_matrix_exp_forward,
                      backward=_matrix_exp_backward, saves=(0,), float_only=True)


def matrix_exp(A):
    """The matrix exponential sum_k A^k / k! of square matrices.

    >>> fastdl.linalg.matrix_exp(fastdl.zeros(2, 2)).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    check_matrix("linalg.matrix_exp", A)
    return matrix_exp_op.apply((A,))


@supports_out("linalg_tensorinv")
def tensorinv(A, ind=2, *, out=None):
    """The inverse of A read as a matrix of shape (prod(A.shape[:ind]), prod(A.shape[ind:]))."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    shape = A._data.shape
    rows, cols = math.prod(shape[:ind]), math.prod(shape[ind:])
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) "
                           f"== prod(self.shape[:ind]), but got {cols} != {rows}")
    from fastdl.linalg.solvers import inv
    return reshape(inv(reshape(A, (rows, cols))), shape[ind:] + shape[:ind])


@supports_out("linalg_tensorsolve")
def tensorsolve(A, B, dims=None, *, out=None):
    """X with tensordot(A, X, X.ndim) = B; ``dims`` moves those dims of A to the end first."""
    from fastdl.functional.shape import movedim
    from fastdl.linalg.solvers import solve
    if dims is not None:
        dims = [d % A._data.ndim for d in dims]
        A = movedim(A, dims, list(range(A._data.ndim - len(dims), A._data.ndim)))
    result_shape = A._data.shape[B._data.ndim:]
    rows = math.prod(B._data.shape)
    cols = math.prod(result_shape)
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim"
                           f":]) == prod(self.shape[:other.ndim]), but got {cols} != {rows}")
    return reshape(solve(reshape(A, (rows, cols)), reshape(B, (rows,))), result_shape)
