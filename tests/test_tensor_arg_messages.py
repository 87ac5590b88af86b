"""A non-Tensor where torch's parser wants a Tensor raises torch's own TypeError text: the
argument's name and position (none for a keyword-only argument), or the element index of a
sequence of tensors. All of these go through fastdl._argcheck."""
import pytest

import fastdl

torch = pytest.importorskip("torch")

# name -> call(lib, t, m, i, bad): t a 1-d float tensor, m a 3x3 one, i an index tensor
CASES = {
    "sort": lambda lib, t, m, i, bad: lib.sort(bad),
    "bincount_weights": lambda lib, t, m, i, bad: lib.bincount(i, bad),
    "baddbmm_batch2": lambda lib, t, m, i, bad: lib.baddbmm(m, m, bad),
    "heaviside_values": lambda lib, t, m, i, bad: lib.heaviside(t, bad),
    "addcmul_tensor1": lambda lib, t, m, i, bad: lib.addcmul(t, bad, t),
    "addcdiv_tensor2": lambda lib, t, m, i, bad: lib.addcdiv(t, t, bad),
    "diff_prepend": lambda lib, t, m, i, bad: lib.diff(t, prepend=bad),
    "cov_fweights": lambda lib, t, m, i, bad: lib.cov(m, fweights=bad),
    "einsum_operand": lambda lib, t, m, i, bad: lib.einsum("i,i->", t, bad),
    "block_diag": lambda lib, t, m, i, bad: lib.block_diag(t, bad),
    "cartesian_prod": lambda lib, t, m, i, bad: lib.cartesian_prod(t, bad),
    "kron_other": lambda lib, t, m, i, bad: lib.kron(t, bad),
    "cdist_x2": lambda lib, t, m, i, bad: lib.cdist(m, bad),
    "masked_scatter_source": lambda lib, t, m, i, bad: lib.masked_scatter(t, t > 0, bad),
    "index_add_source": lambda lib, t, m, i, bad: lib.index_add(t, 0, i, bad),
    "index_copy_index": lambda lib, t, m, i, bad: lib.index_copy(t, 0, bad, t),
    "put_source": lambda lib, t, m, i, bad: lib.put(t, i, bad),
    "logaddexp_other": lambda lib, t, m, i, bad: lib.logaddexp(t, bad),
    "diagonal_scatter_src": lambda lib, t, m, i, bad: lib.diagonal_scatter(m, bad),
    "trapezoid_y": lambda lib, t, m, i, bad: lib.trapezoid(bad),
    "binomial_prob": lambda lib, t, m, i, bad: lib.binomial(t, bad),
    "ormqr_tau": lambda lib, t, m, i, bad: lib.ormqr(m, bad, m),
    "geqrf": lambda lib, t, m, i, bad: lib.geqrf(bad),
    "rnn_tanh_cell_hx": lambda lib, t, m, i, bad: lib.rnn_tanh_cell(m, bad, m, m),
    "numel": lambda lib, t, m, i, bad: lib.numel(bad),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_non_tensor_argument_message_like_torch(name):
    def run(lib):
        with pytest.raises(TypeError) as info:
            CASES[name](lib, lib.ones(3), lib.ones(3, 3), lib.tensor([0]), [1.0])
        return str(info.value)
    assert run(fastdl) == run(torch)
