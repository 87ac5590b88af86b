"""Samples for the everyday ops of fastdl/functional/everyday.py (issue #9): einsum, tril/triu,
diag (diag_extract, diag_embed2), cumprod (with and without zeros), roll."""
from op_samples import G, S, U, sample

# ---- einsum: contractions, a trace (repeated subscript), a summed-out subscript, ellipsis ---
sample("einsum", "matmul", lambda L, a, b: L.T.einsum("ij,jk->ik", a, b),
       lambda r: [U(r, (3, 4)), U(r, (4, 2))])
sample("einsum", "batched_three_operands", lambda L, a, b, c: L.T.einsum("bij,bjk,k->bi", a, b, c),
       lambda r: [U(r, (2, 3, 4)), U(r, (2, 4, 5)), U(r, (5,))])
sample("einsum", "trace_and_diagonal", lambda L, a, b: L.T.einsum("ii,jj->ij", a, b),
       lambda r: [U(r, (3, 3)), U(r, (2, 2))])
sample("einsum", "diagonal_3d", lambda L, a: L.T.einsum("iji->ij", a), lambda r: [U(r, (3, 2, 3))])
sample("einsum", "summed_alone_and_outer", lambda L, a, b: L.T.einsum("ij,k->ik", a, b),
       lambda r: [U(r, (3, 4)), U(r, (2,))])
sample("einsum", "ellipsis_broadcast", lambda L, a, b: L.T.einsum("...ij,...jk->...ik", a, b),
       lambda r: [U(r, (2, 1, 3, 4)), U(r, (3, 4, 2))])
sample("einsum", "implicit_output", lambda L, a, b: L.T.einsum("ij,jk", a, b),
       lambda r: [U(r, (2, 3)), U(r, (3, 4))])

# ---- triangles and diagonals ------------------------------------------------------------
sample("tril", "square", lambda L, x: L.T.tril(x), lambda r: [U(r, (4, 4))])
sample("tril", "batched_offset", lambda L, x: x.tril(-1), lambda r: [U(r, (2, 3, 5))])
sample("triu", "wide_offset", lambda L, x: L.T.triu(x, 2), lambda r: [U(r, (3, 6))])
sample("triu", "batched", lambda L, x: x.triu(), lambda r: [U(r, (2, 4, 3))])
sample("diag_embed2", "vector", lambda L, v: L.T.diag(v), lambda r: [U(r, (4,))])
sample("diag_embed2", "vector_offset", lambda L, v: L.T.diag(v, -2), lambda r: [U(r, (3,))])
sample("diag_extract", "square", lambda L, m: L.T.diag(m), lambda r: [U(r, (4, 4))])
sample("diag_extract", "wide_offset", lambda L, m: L.T.diag(m, 1), lambda r: [U(r, (3, 5))])
sample("diag_extract", "tall_negative", lambda L, m: m.diag(-2), lambda r: [U(r, (5, 3))])
sample("diagonal", "matrix", lambda L, m: L.T.diagonal(m), lambda r: [U(r, (4, 4))])
sample("diagonal", "batched_negative_dims_offset", lambda L, m: m.diagonal(-1, -1, 0),
       lambda r: [U(r, (4, 2, 3))])
sample("diagonal", "offset_past_the_edge", lambda L, m: m.diagonal(3) * 2.0,
       lambda r: [U(r, (2, 3))], check="grad")  # an empty result: no second derivative to take


def _write_through_diagonal(L, x):
    """In place on the diagonal view of a non-leaf: the write reaches the matrix."""
    y = x * 1.0
    y.diagonal(1).mul_(3.0)
    return y


sample("diagonal", "inplace_through_view", _write_through_diagonal, lambda r: [U(r, (3, 4))])
sample("diag_embed", "batched", lambda L, v: L.T.diag_embed(v), lambda r: [U(r, (2, 3))])
sample("diag_embed", "offset_dims", lambda L, v: L.T.diag_embed(v, 1, 0, 2),
       lambda r: [U(r, (2, 3))])
sample("diag_embed", "negative_offset_method", lambda L, v: v.diag_embed(-2, -1, -2),
       lambda r: [U(r, (3,))])

# ---- cumprod ------------------------------------------------------------------------------
sample("cumprod", "dim1", lambda L, x: L.T.cumprod(x, 1), lambda r: [S(r, (3, 5), 0.5, 1.5)])
sample("cumprod", "negative_dim_3d", lambda L, x: x.cumprod(-2), lambda r: [S(r, (2, 4, 2), 0.5, 1.5)])


def _with_zeros(r):
    x = S(r, (3, 5), 0.5, 1.5)
    x[0, 1] = 0.0
    x[1, 0] = x[1, 3] = 0.0  # two zeros in one row: some gradients are exactly 0
    return [x]


sample("cumprod", "zeros", lambda L, x: L.T.cumprod(x, 1), _with_zeros, check="grad")

# ---- roll ---------------------------------------------------------------------------------
sample("roll", "one_dim", lambda L, x: L.T.roll(x, 2, 1), lambda r: [U(r, (3, 5))])
sample("roll", "two_dims_negative", lambda L, x: x.roll((-1, 3), (0, -1)), lambda r: [U(r, (3, 4))])
sample("roll", "flattened", lambda L, x: L.T.roll(x, 5), lambda r: [U(r, (2, 3))])

# ---- sqrt with a zero gradient at 0: the 2-norm and std built on it ---------------------------
sample("sqrt_flat_at_zero", "norm_rows", lambda L, x: x.norm(dim=1), lambda r: [S(r, (3, 4))])
sample("sqrt_flat_at_zero", "std_columns", lambda L, x: x.std(0), lambda r: [U(r, (5, 3))])
