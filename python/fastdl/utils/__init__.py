"""PyTorch's ``torch.utils`` import paths: ``fastdl.utils.data`` is ``fastdl.data``."""
from fastdl.utils import checkpoint, data, hooks, image

__all__ = ["checkpoint", "data", "hooks", "image"]
