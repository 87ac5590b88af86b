"""fastdl.linalg: torch.linalg's functions (differentiable, batched, float32/float64).

``LinAlgError`` (a RuntimeError, as torch.linalg.LinAlgError) is raised for singular and not
positive-definite inputs. eig/eigvals raise: their results are complex, which fastdl tensors
cannot be."""
from fastdl.functional.everyday import diagonal as _diagonal
from fastdl.functional.linalg import matmul
from fastdl.linalg._common import LinAlgError
from fastdl.linalg.decompositions import (cond, eig, eigh, eigvals, eigvalsh, lstsq,
                                          matrix_rank, pinv, qr, svd, svdvals)
from fastdl.linalg.lu import lu, lu_factor, lu_factor_ex, lu_solve
from fastdl.linalg.norms import matrix_norm, norm, vector_norm
from fastdl.linalg.products import linalg_cross as cross
from fastdl.linalg.products import (matrix_exp, matrix_power, multi_dot, tensorinv,
                                    tensorsolve, vander, vecdot)
from fastdl.linalg.solvers import (cholesky, cholesky_ex, det, inv, inv_ex, slogdet, solve,
                                   solve_ex, solve_triangular)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonals of the matrices in the last two dims (torch.linalg.diagonal)."""
    return _diagonal(A, offset, dim1, dim2)


__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eig",
           "eigh", "eigvals", "eigvalsh", "inv", "inv_ex", "lstsq", "lu", "lu_factor",
           "lu_factor_ex", "lu_solve", "matmul", "matrix_exp", "matrix_norm", "matrix_power",
           "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet", "solve", "solve_ex",
           "solve_triangular", "svd", "svdvals", "tensorinv", "tensorsolve", "vander", "vecdot",
           "vector_norm"]

# Householder products (torch.linalg.householder_product)
from fastdl.linalg.householder import householder_product  # noqa: E402
__all__ += ["householder_product"]

# LDL^T of symmetric indefinite matrices (linalg/ldl.py; LAPACK sytrf's form)
from fastdl.linalg.ldl import ldl_factor, ldl_factor_ex, ldl_solve  # noqa: E402
__all__ += ["ldl_factor", "ldl_factor_ex", "ldl_solve"]
