"""PyTorch's ``torch.utils`` import paths: ``fastdl.utils.data`` is ``fastdl.data``."""
from fastdl.utils import data

__all__ = ["data"]
