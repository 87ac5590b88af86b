"""Image grids for generative models' samples (torchvision.utils' ``make_grid``/``save_image``).

Pillow writes the PNG; it is an optional extra (``pip install "fastdl[examples]"``), imported only
when a file is saved.
"""
import numpy as np

__all__ = ["make_grid", "save_image"]


def _as_array(images):
    data = getattr(images, "data", images)
    if hasattr(data, "get"):  # cupy -> numpy
        data = data.get()
    return np.asarray(data)


def make_grid(images, nrow=8, padding=2, normalize=False, value_range=None, pad_value=0.0):
    """Tile a batch of images into one image, like ``torchvision.utils.make_grid``.

    ``images`` is (N, C, H, W) or (N, H, W) (a Tensor or array, C in {1, 3}); the result is a
    float32 numpy array (C, rows * (H + padding) + padding, cols * (W + padding) + padding) with
    ``nrow`` images per row. ``normalize=True`` maps ``value_range`` (default: the batch's min and
    max) to [0, 1].

    Example:
        >>> import numpy as np
        >>> from fastdl.utils.image import make_grid
        >>> make_grid(np.zeros((5, 1, 8, 8)), nrow=3, padding=2).shape
        (1, 22, 32)
    """
    array = _as_array(images).astype(np.float32)
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4 or array.shape[1] not in (1, 3):
        raise ValueError(f"make_grid: expected (N, C, H, W) with C in {{1, 3}} or (N, H, W), "
                         f"got shape {tuple(array.shape)}")
    if array.shape[0] == 0:
        raise ValueError("make_grid: got an empty batch")
    if nrow < 1 or padding < 0:
        raise ValueError(f"make_grid: nrow must be >= 1 and padding >= 0, got {nrow}, {padding}")
    if normalize:
        low, high = value_range if value_range is not None else (array.min(), array.max())
        array = np.clip((array - low) / max(float(high - low), 1e-12), 0.0, 1.0)
    count, channels, height, width = array.shape
    cols = min(nrow, count)
    rows = -(-count // cols)
    grid = np.full((channels, rows * (height + padding) + padding,
                    cols * (width + padding) + padding), pad_value, dtype=np.float32)
    for index in range(count):
        top = (index // cols) * (height + padding) + padding
        left = (index % cols) * (width + padding) + padding
        grid[:, top:top + height, left:left + width] = array[index]
    return grid


def save_image(images, path, nrow=8, padding=2, normalize=False, value_range=None,
               pad_value=0.0, scale=1):
    """Save a batch of images as one PNG grid (values in [0, 1] unless ``normalize``).

    ``scale`` enlarges each pixel (nearest neighbour), so 8x8 digits stay visible. Needs Pillow.

    Example:
        >>> import numpy as np, os, tempfile
        >>> from fastdl.utils.image import save_image
        >>> path = os.path.join(tempfile.mkdtemp(), "grid.png")
        >>> save_image(np.random.rand(6, 1, 8, 8), path, nrow=3, scale=4)  # doctest: +SKIP
    """
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError('save_image needs Pillow: pip install "fastdl[examples]"') from error
    grid = make_grid(images, nrow=nrow, padding=padding, normalize=normalize,
                     value_range=value_range, pad_value=pad_value)
    if scale != int(scale) or scale < 1:
        raise ValueError(f"save_image: scale must be a positive integer, got {scale}")
    pixels = np.clip(grid * 255.0 + 0.5, 0, 255).astype(np.uint8)
    pixels = pixels.repeat(int(scale), axis=1).repeat(int(scale), axis=2)
    mode = "L" if pixels.shape[0] == 1 else "RGB"
    image = pixels[0] if mode == "L" else pixels.transpose(1, 2, 0)
    Image.fromarray(image, mode=mode).save(path)
