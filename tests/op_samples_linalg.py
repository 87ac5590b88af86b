"""Samples for the torch.linalg ops (fastdl/linalg/): well-conditioned inputs (a diagonal
shift keeps matrices invertible, A A^T + n I positive-definite), gauge-invariant functions of
the factorizations whose vectors are unique only up to sign."""
import numpy as np

from op_samples import U, sample


def _well_conditioned(r, shape):
    n = shape[-1]
    return U(r, shape) + 2.0 * np.eye(n)


def _spd(r, shape):
    a = U(r, shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def _sym(x):
    return (x + x.mT) * 0.5


sample("linalg_solve", "batched_matrix_rhs", lambda L, a, b: L.T.linalg.solve(a, b),
       lambda r: [_well_conditioned(r, (2, 3, 3)), U(r, (2, 3, 2))])
sample("linalg_solve", "inverse", lambda L, a: L.T.linalg.inv(a),
       lambda r: [_well_conditioned(r, (3, 3))])
sample("linalg_solve_triangular", "upper_left", lambda L, a, b: L.T.linalg.solve_triangular(
    a, b, upper=True), lambda r: [_well_conditioned(r, (3, 3)), U(r, (3, 2))])
sample("linalg_solve_triangular", "lower_unit_right", lambda L, a, b: L.T.linalg.solve_triangular(
    a, b, upper=False, left=False, unitriangular=True),
    lambda r: [_well_conditioned(r, (2, 3, 3)), U(r, (2, 2, 3))])
sample("linalg_cholesky", "symmetrized", lambda L, a: L.T.linalg.cholesky(_sym(a)),
       lambda r: [_spd(r, (2, 3, 3))])
sample("linalg_det", "batched", lambda L, a: L.T.linalg.det(a),
       lambda r: [_well_conditioned(r, (2, 3, 3))])
sample("linalg_slogdet", "logabsdet", lambda L, a: L.T.linalg.slogdet(a)[1],
       lambda r: [_well_conditioned(r, (3, 3))])
sample("linalg_slogdet.select", "both_outputs", lambda L, a: L.T.linalg.slogdet(a)[1] * 2.0,
       lambda r: [_well_conditioned(r, (2, 3, 3))])
sample("linalg_qr", "reduced_tall", lambda L, a: L.T.linalg.qr(a)[1],
       lambda r: [U(r, (4, 3))])
sample("linalg_qr.select", "q_and_r_wide", lambda L, a: tuple(L.T.linalg.qr(a)),
       lambda r: [U(r, (2, 3))])
sample("linalg_svd", "reconstruction", lambda L, a: _rebuild_svd(L, a),
       lambda r: [U(r, (4, 3))])
sample("linalg_svd.select", "singular_values", lambda L, a: L.T.linalg.svdvals(a),
       lambda r: [U(r, (2, 3, 4))])
sample("linalg_eigh", "eigenvalues", lambda L, a: L.T.linalg.eigvalsh(_sym(a)),
       lambda r: [_spd(r, (3, 3))])
sample("linalg_eigh.select", "vectors_up_to_sign", lambda L, a: L.T.linalg.eigh(_sym(a))[1].abs(),
       lambda r: [_spd(r, (2, 3, 3))])
sample("linalg_pinv", "tall", lambda L, a: L.T.linalg.pinv(a), lambda r: [U(r, (4, 3))])
sample("linalg_pinv", "wide", lambda L, a: L.T.linalg.pinv(a), lambda r: [U(r, (2, 3, 5))])
sample("linalg_vector_norm", "two_norm_dim", lambda L, x: L.T.linalg.vector_norm(x, 2, 1),
       lambda r: [U(r, (3, 4))])
sample("linalg_vector_norm", "three_norm", lambda L, x: L.T.linalg.vector_norm(x, 3),
       lambda r: [U(r, (5,))])
sample("linalg_matrix_exp", "batched", lambda L, a: L.T.linalg.matrix_exp(a),
       lambda r: [U(r, (2, 3, 3))])
sample("linalg_lu_factor", "packed", lambda L, a: L.T.linalg.lu_factor(a)[0],
       lambda r: [_well_conditioned(r, (3, 3))])
sample("linalg_lu_factor.select", "packed_batched", lambda L, a: L.T.linalg.lu_factor(a)[0],
       lambda r: [_well_conditioned(r, (2, 3, 3))])
# through tril: torch's gradient treats the factor as a full matrix, the forward reads its triangle
sample("cholesky_solve", "lower", lambda L, b, f: L.T.cholesky_solve(b, f.tril()),
       lambda r: [U(r, (3, 2)), np.linalg.cholesky(_spd(r, (3, 3)))])


def _rebuild_svd(L, a):
    u, s, vh = L.T.linalg.svd(a, full_matrices=False)
    return (u * s.unsqueeze(-2)) @ vh
