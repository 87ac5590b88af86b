"""PyTorch's ``torch.utils`` import paths: ``fastdl.utils.data`` is ``fastdl.data``."""
from fastdl.utils import data, image

__all__ = ["data", "image"]
