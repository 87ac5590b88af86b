"""torch's dtype rules for the matrix products: no type promotion. Each product refuses
operands of different dtypes with the message of the ATen kernel it ends in (mm, bmm, dot,
addmv), so the message depends on the operands' ranks, as in torch. einsum is the exception:
a pair of operands with no shared summed dimension is multiplied elementwise, which promotes;
``einsum_result_dtype`` replays torch's contraction order to tell the two apart."""
from __future__ import annotations

import numpy as np

from fastdl.functional._core import cpp_dtype_name as cpp_name
from fastdl.functional._core import promote, torch_dtype_name

def _same_dtype_check(message):
    """A check that two operands share a dtype, raising ``message(dtype_a, dtype_b)``."""
    def check(a, b):
        da, db = a._data.dtype, b._data.dtype
        if da != db:
            raise RuntimeError(message(da, db))
    return check


T = torch_dtype_name
check_mm = _same_dtype_check(lambda a, b: f"expected m1 and m2 to have the same dtype, but got: "
                                          f"{cpp_name(a)} != {cpp_name(b)}")
check_bmm = _same_dtype_check(lambda a, b: f"expected scalar type {T(a)} but found {T(b)}")
check_dot = _same_dtype_check(lambda a, b: f"dot : expected both vectors to have same dtype, "
                                           f"but found {T(a)} and {T(b)}")
# torch's mv is addmv into a result of vec's dtype, which its message names first
check_mv = _same_dtype_check(lambda m, v: f"addmv input tensors must have the same dtype, but "
                                          f"got {T(v)}, {T(m)}, and {T(v)}")


def _folds(big, small, big_transposed=False):
    """Whether torch's matmul folds the batched operand ``big`` into one matrix (then it runs
    mm or mv, else bmm): when the small operand requires grad, or when the batch dims of
    ``big`` (transposed: the larger operand is the right one) flatten without a copy."""
    if small.requires_grad:  # folding then keeps the small operand's gradient small
        return True
    d = big._data
    if d.size == 0:
        return True
    shape, strides = list(d.shape), list(d.strides)
    if big_transposed:
        shape[-2:], strides[-2:] = shape[:-3:-1], strides[:-3:-1]
    return all(strides[i] == strides[i + 1] * shape[i + 1] for i in range(len(shape) - 2))


def _matmul_kernel(a, b):
    """The ATen kernel torch's matmul runs for these operands (both >= 1-D), with its
    operands: ("dot" | "mv" | "mm" | "bmm", x, y)."""
    da, db = a._data, b._data
    na, nb = da.ndim, db.ndim
    if na == 1 and nb == 1:
        return "dot", a, b
    if na <= 2 and nb <= 2:
        return ("mv" if nb == 1 else "mm"), a, b
    if nb <= 2 and _folds(a, b):
        return ("mv" if nb == 1 else "mm"), a, b
    if na <= 2 and (a.requires_grad or na == 1 and _folds(b, a, big_transposed=True)):
        # torch computes (b^T folded) @ a^T: an mv for a vector a, else an mm of b with a
        return ("mv" if na == 1 else "mm"), b, a
    if na == 3 and nb == 3 and da.shape[0] != db.shape[0] and (
            da.shape[0] == 1 and a.requires_grad or db.shape[0] == 1 and b.requires_grad):
        # torch drops a batch of one that requires grad (a smaller gradient) and retries
        squeeze_a = da.shape[0] == 1 and a.requires_grad
        return _matmul_kernel(a[0] if squeeze_a else a, b if squeeze_a else b[0])
    return "bmm", a, b


_CHECKS = {"dot": check_dot, "mv": check_mv, "mm": check_mm, "bmm": check_bmm}
_BOOL_KERNELS = {"dot": "dot", "mv": "addmv_impl_cpu", "mm": "addmm_impl_cpu_", "bmm": "bmm"}


def check_matmul(a, b):
    """torch's checks for matmul(a, b): the dtypes, with the words of the kernel it runs for
    these operands, then bool, which no product kernel implements."""
    dtype = a._data.dtype
    if dtype == b._data.dtype and dtype != np.bool_:
        return
    kind, x, y = _matmul_kernel(a, b)
    _CHECKS[kind](x, y)
    raise NotImplementedError(f"\"{_BOOL_KERNELS[kind]}\" not implemented for 'Bool'")


def check_tensordot(a, b):
    if a._data.dtype != b._data.dtype:
        raise RuntimeError("both inputs should have same dtype")


def _sum_dtype(dtype):
    """The dtype torch's sum gives: integers and bool widen to int64."""
    return np.dtype(np.int64) if dtype.kind in "biu" else dtype


def _bmm_pair_error(a, b, sum_dims):  # a, b: (dtype, sizes)
    """torch's sumproduct_pair runs bmm(a, b), or bmm(b, a) when the last kept dimension that
    is not in both belongs to a alone (a dimension of size 1 in a counts as b's)."""
    kept = [d for d in range(len(a[1])) if d not in sum_dims]
    only_a = [d for d in kept if a[1][d] != 1 and b[1][d] == 1]
    not_a = [d for d in kept if a[1][d] == 1]
    first, second = (b, a) if only_a and not_a and only_a[-1] > not_a[-1] else (a, b)
    if first[0] == np.bool_:
        return NotImplementedError("\"bmm\" not implemented for 'Bool'")
    return RuntimeError(f"expected scalar type {torch_dtype_name(first[0])} but found "
                        f"{torch_dtype_name(second[0])}")


def einsum_result_dtype(subs, out, operands):
    """The dtype of torch's einsum over ``operands`` (subscripts ``subs`` -> ``out``), or
    torch's RuntimeError where a contraction would run bmm on two dtypes. torch (without
    opt_einsum) contracts the first two operands and puts the result first, until one is
    left. A summed letter that only one of the pair still has at a size other than 1, and no
    later operand has, is summed out of it first (a sum widens integers to int64); a pair
    that then shares a summed letter goes through bmm (no promotion), any other pair is
    multiplied elementwise (promotion). A single operand is summed over its summed letters."""
    summed = sorted({c for s in subs for c in s} - set(out))
    letters = list(out) + summed
    ops = []
    for s, t in zip(subs, operands):
        size = dict(zip(s, t._data.shape))
        ops.append((t._data.dtype, [size.get(c, 1) for c in letters]))
    if len(ops) == 1:
        return _sum_dtype(ops[0][0]) if summed else ops[0][0]
    first = len(out)
    counts = {d: sum(op[1][d] != 1 for op in ops) for d in range(first, len(letters))}
    while len(ops) > 1:
        (da, sa), (db, sb) = ops.pop(0), ops.pop(0)
        sa, sb, sum_dims = list(sa), list(sb), []
        for d in counts:
            if sa[d] != 1 and sb[d] != 1:
                counts[d] -= 1
                if counts[d] == 1:
                    sum_dims.append(d)
                    counts[d] = 0
            elif counts[d] == 1:
                side = sa if sa[d] != 1 else sb if sb[d] != 1 else None
                if side is not None:
                    side[d] = 1
                    counts[d] = 0
                    if side is sa:
                        da = _sum_dtype(da)
                    else:
                        db = _sum_dtype(db)
        sizes = [1 if d in sum_dims else max(x, y) for d, (x, y) in enumerate(zip(sa, sb))]
        if sum_dims:
            if da != db or da == np.bool_:
                raise _bmm_pair_error((da, sa), (db, sb), sum_dims)
            dtype = da
        else:
            dtype = da if da == db else promote(np.empty((1,), da), np.empty((1,), db))
        ops.insert(0, (dtype, sizes))
    return ops[0][0]
