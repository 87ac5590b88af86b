"""fastdl.utils.image: grids laid out like torchvision's make_grid, and a PNG that reads back."""
import numpy as np
import pytest

from fastdl.utils.image import make_grid, save_image


def test_make_grid_places_each_image_in_row_major_order():
    images = np.arange(5 * 1 * 3 * 2, dtype=np.float32).reshape(5, 1, 3, 2)
    grid = make_grid(images, nrow=2, padding=1, pad_value=-1.0)
    assert grid.shape == (1, 3 * 4 + 1, 2 * 3 + 1)
    for index in range(5):
        top, left = 1 + (index // 2) * 4, 1 + (index % 2) * 3
        np.testing.assert_array_equal(grid[0, top:top + 3, left:left + 2], images[index, 0])
    assert grid[0, 0, 0] == -1.0 and grid[0, -1, -1] == -1.0  # the missing sixth cell is padding


def test_make_grid_normalize_maps_range_to_unit_interval():
    grid = make_grid(np.array([[[[-2.0, 2.0]]]]), padding=0, normalize=True)
    np.testing.assert_allclose(grid, [[[0.0, 1.0]]])


@pytest.mark.parametrize("shape", [(0, 1, 4, 4), (2, 2, 4, 4), (4, 4)])
def test_make_grid_rejects_bad_shapes(shape):
    with pytest.raises(ValueError):
        make_grid(np.zeros(shape))


def test_save_image_writes_png_that_reads_back(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    images = rng.random((3, 3, 4, 5))
    path = tmp_path / "grid.png"
    save_image(images, path, nrow=3, padding=0, scale=2)
    pixels = np.asarray(Image.open(path))
    assert pixels.shape == (8, 30, 3)
    expected = np.clip(images[1].transpose(1, 2, 0) * 255 + 0.5, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(pixels[::2, 10:20:2], expected)
