"""``fastdl.utils.data``: PyTorch's import path for datasets and loaders (``fastdl.data``)."""
from fastdl.data import *  # noqa: F401,F403
from fastdl.data import __all__  # noqa: F401
