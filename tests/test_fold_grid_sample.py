"""unfold/fold (im2col/col2im) against torch: outputs and gradients for every argument, float32
and float64, the adjoint identity, gradcheck in float64, modules and bad input."""
import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.nn import functional as F
from fastdl.testing import gradcheck, gradgradcheck
from helpers import check_op

torch = pytest.importorskip("torch")
TF = torch.nn.functional
DTYPES = [np.float32, np.float64]
RNG = np.random.default_rng(20261130)

# (kernel_size, dilation, padding, stride)
BLOCK_ARGS = [(2, 1, 0, 1), ((3, 2), 1, 0, 1), (3, (2, 1), 1, 2), ((2, 3), 2, (1, 2), (2, 3)),
              (1, 1, 0, 1), (3, 1, 1, 1)]


def _blocks(size, kernel_size, dilation, padding, stride):
    k, d, p, s = (np.broadcast_to(v, 2) for v in (kernel_size, dilation, padding, stride))
    return [(n + 2 * pp - dd * (kk - 1) - 1) // ss + 1 for n, kk, dd, pp, ss in
            zip(size, k, d, p, s)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("args", BLOCK_ARGS)
@pytest.mark.parametrize("shape", [(2, 3, 7, 6), (3, 5, 8)])
def test_unfold_matches_torch(dtype, args, shape):
    check_op([shape], lambda x: TF.unfold(x, *args), lambda x: F.unfold(x, *args), dtype=dtype)
    check_op([shape], torch.nn.Unfold(*args), nn.Unfold(*args), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("args", BLOCK_ARGS)
@pytest.mark.parametrize("batched", [True, False])
def test_fold_matches_torch(dtype, args, batched):
    output_size = (7, 6)
    kernel = np.broadcast_to(args[0], 2)
    count = int(np.prod(_blocks(output_size, *args)))
    shape = (2, 3 * int(np.prod(kernel)), count) if batched else (3 * int(np.prod(kernel)), count)
    check_op([shape], lambda x: TF.fold(x, output_size, *args),
             lambda x: F.fold(x, output_size, *args), dtype=dtype)
    check_op([shape], torch.nn.Fold(output_size, *args), nn.Fold(output_size, *args), dtype=dtype)


def test_fold_is_unfolds_adjoint():
    args = ((3, 2), (1, 2), 1, (2, 1))
    x = RNG.standard_normal((2, 3, 9, 8))
    cols = F.unfold(fastdl.tensor(x), *args).data
    y = RNG.standard_normal(cols.shape)
    back = F.fold(fastdl.tensor(y), (9, 8), *args).data
    np.testing.assert_allclose((cols * y).sum(), (x * back).sum(), rtol=1e-12)


def test_unfold_fold_gradcheck():
    args = ((2, 3), (2, 1), (1, 0), (1, 2))
    x = fastdl.tensor(RNG.standard_normal((2, 2, 5, 6)), requires_grad=True)
    assert gradcheck(lambda t: F.unfold(t, *args), (x,))
    assert gradgradcheck(lambda t: F.unfold(t, *args) ** 2, (x,))
    cols = F.unfold(x, *args)
    y = fastdl.tensor(RNG.standard_normal(cols.shape), requires_grad=True)
    assert gradcheck(lambda t: F.fold(t, (5, 6), *args), (y,))
    assert gradgradcheck(lambda t: F.fold(t, (5, 6), *args) ** 2, (y,))


def test_unfold_fold_bad_input_raises():
    x = fastdl.randn(1, 2, 4, 4)
    for call in (lambda: F.unfold(fastdl.randn(4, 4), 2),  # a 2-D input
                 lambda: F.unfold(x, 5),  # a kernel larger than the image
                 lambda: F.unfold(x, 0),
                 lambda: F.unfold(x, 2, padding=-1),
                 lambda: F.unfold(x, 2, stride=0),
                 lambda: F.fold(fastdl.randn(1, 5, 9), (4, 4), 2),  # 5 rows: not C * 4
                 lambda: F.fold(fastdl.randn(1, 8, 8), (4, 4), 2),  # 9 blocks, not 8
                 lambda: F.fold(fastdl.randn(8), (4, 4), 2)):
        with pytest.raises(RuntimeError):
            call()
    with pytest.raises(TypeError):
        F.unfold(fastdl.tensor(np.ones((1, 1, 3, 3), dtype=np.int64)), 2)
    with pytest.raises(TypeError):
        F.unfold(x, 2.5)
