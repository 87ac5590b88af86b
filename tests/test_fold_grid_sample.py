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


# ---- affine_grid / grid_sample ----

MODES_2D = ["bilinear", "nearest", "bicubic"]
PADDINGS = ["zeros", "border", "reflection"]


def _theta(batch, d):
    """Affine maps near a rotation-and-scale, with a shift, so grids leave [-1, 1] too."""
    eye = np.eye(d, d + 1)
    return eye + RNG.uniform(-0.6, 0.6, (batch, d, d + 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(2, 3, 5, 7), (1, 2, 1, 4), (2, 1, 3, 4, 5)])
@pytest.mark.filterwarnings("ignore:Since version 1.3.0")  # a unit-size grid, on purpose
def test_affine_grid_matches_torch(dtype, align_corners, size):
    d = len(size) - 2
    check_op([(size[0], d, d + 1)],
             lambda t: TF.affine_grid(t, size, align_corners=align_corners),
             lambda t: F.affine_grid(t, size, align_corners=align_corners), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES_2D)
def test_grid_sample_2d_matches_torch(dtype, align_corners, padding_mode, mode):
    kwargs = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    grid = RNG.uniform(-1.4, 1.4, (2, 4, 6, 2))  # points outside the input too
    grid[0, 0, :3] = [[-1.0, 1.0], [1.0, -1.0], [0.0, 0.0]]  # the corners exactly
    # nearest: the grid gets a zero gradient in torch, no gradient at all here
    check_op([(2, 3, 5, 7), grid.shape],
             lambda x, g: TF.grid_sample(x, g if mode != "nearest" else g.detach(), **kwargs),
             lambda x, g: F.grid_sample(x, g if mode != "nearest" else g.detach(), **kwargs),
             dtype=dtype, vals=[RNG.uniform(-2, 2, (2, 3, 5, 7)), grid])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_3d_matches_torch(dtype, align_corners, padding_mode, mode):
    kwargs = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    grid = RNG.uniform(-1.3, 1.3, (2, 3, 2, 4, 3))
    check_op([(2, 2, 3, 4, 5), grid.shape],
             lambda x, g: TF.grid_sample(x, g if mode != "nearest" else g.detach(), **kwargs),
             lambda x, g: F.grid_sample(x, g if mode != "nearest" else g.detach(), **kwargs),
             dtype=dtype, vals=[RNG.uniform(-2, 2, (2, 2, 3, 4, 5)), grid])


@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_then_grid_sample_matches_torch(align_corners):
    def run(lib, theta, x):
        grid = lib.affine_grid(theta, (2, 3, 6, 5), align_corners=align_corners)
        return lib.grid_sample(x, grid, padding_mode="reflection", align_corners=align_corners)

    check_op([(2, 2, 3), (2, 3, 4, 4)], lambda t, x: run(TF, t, x), lambda t, x: run(F, t, x),
             dtype=np.float64, vals=[_theta(2, 2), RNG.uniform(-2, 2, (2, 3, 4, 4))])


@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode,d", [("bilinear", 2), ("bicubic", 2), ("bilinear", 3)])
def test_grid_sample_second_derivatives_match_torch(padding_mode, mode, d):
    """Hessian-vector products through the grid (torch has double backward too)."""
    shape = (1, 2, 4, 5) if d == 2 else (1, 2, 3, 4, 3)
    grid_shape = (1, 3, 2, d) if d == 2 else (1, 2, 2, 2, d)
    x, grid = RNG.uniform(-2, 2, shape), RNG.uniform(-1.2, 1.2, grid_shape)
    w, v = RNG.standard_normal((1, 2) + grid_shape[1:-1]), RNG.standard_normal(grid_shape)
    kwargs = dict(mode=mode, padding_mode=padding_mode, align_corners=False)
    results = []
    for lib, tensor, grad in ((TF, torch.tensor, torch.autograd.grad),
                              (F, fastdl.tensor, fastdl.autograd.grad)):
        xt, gt = (tensor(a, requires_grad=True) for a in (x, grid))
        out = lib.grid_sample(xt, gt, **kwargs)
        (first,) = grad((out * tensor(w)).sum(), [gt], create_graph=True)
        second = grad((first * tensor(v)).sum(), [xt, gt], allow_unused=True)
        results.append([np.zeros(s) if g is None else np.asarray(g.detach().numpy()
                                                                 if lib is TF else g.data)
                        for g, s in zip(second, (shape, grid_shape))])
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-10)


def test_grid_sample_affine_grid_gradcheck():
    x = fastdl.tensor(RNG.standard_normal((1, 2, 4, 5)), requires_grad=True)
    grid = fastdl.tensor(RNG.uniform(-1.1, 1.1, (1, 3, 2, 2)), requires_grad=True)
    for mode in ("bilinear", "bicubic"):
        for padding_mode in PADDINGS:
            fn = lambda a, g: F.grid_sample(a, g, mode=mode,  # noqa: E731
                                            padding_mode=padding_mode, align_corners=True)
            assert gradcheck(fn, (x, grid))
            assert gradgradcheck(fn, (x, grid))
    assert gradcheck(lambda a: F.grid_sample(a, grid.detach(), mode="nearest",
                                             align_corners=False), (x,))
    x3 = fastdl.tensor(RNG.standard_normal((1, 1, 3, 3, 4)), requires_grad=True)
    grid3 = fastdl.tensor(RNG.uniform(-1.1, 1.1, (1, 2, 2, 1, 3)), requires_grad=True)
    assert gradcheck(lambda a, g: F.grid_sample(a, g, padding_mode="reflection",
                                                align_corners=False), (x3, grid3))
    theta = fastdl.tensor(_theta(2, 3), requires_grad=True)
    assert gradcheck(lambda t: F.affine_grid(t, (2, 1, 2, 3, 2), align_corners=False), (theta,))


def test_grid_sample_affine_grid_bad_input_raises_like_torch():
    x, grid = fastdl.randn(1, 2, 4, 4), fastdl.randn(1, 3, 3, 2)
    with pytest.raises(ValueError, match="mode"):
        F.grid_sample(x, grid, mode="area", align_corners=False)
    with pytest.raises(ValueError, match="padding_mode"):
        F.grid_sample(x, grid, padding_mode="circular", align_corners=False)
    for bad_grid in (fastdl.randn(2, 3, 3, 2), fastdl.randn(1, 3, 3, 3), fastdl.randn(1, 3, 2)):
        with pytest.raises(RuntimeError):
            F.grid_sample(x, bad_grid, align_corners=False)
    with pytest.raises(RuntimeError, match="bicubic"):
        F.grid_sample(fastdl.randn(1, 1, 2, 2, 2), fastdl.randn(1, 1, 1, 1, 3), mode="bicubic",
                      align_corners=False)
    with pytest.warns(UserWarning, match="align_corners"):
        F.grid_sample(x, grid)
    with pytest.raises(ValueError, match="floating point"):
        F.affine_grid(fastdl.tensor(np.zeros((1, 2, 3), dtype=np.int64)), (1, 1, 2, 2), False)
    with pytest.raises(ValueError, match="Nx2x3"):
        F.affine_grid(fastdl.randn(1, 3, 4), (1, 1, 2, 2), align_corners=False)
    with pytest.raises(NotImplementedError):
        F.affine_grid(fastdl.randn(1, 2, 3), (1, 1, 2), align_corners=False)
    with pytest.raises(ValueError, match="positive"):
        F.affine_grid(fastdl.randn(1, 2, 3), (1, 1, 0, 2), align_corners=False)
