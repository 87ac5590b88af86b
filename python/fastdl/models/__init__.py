"""Model zoo built from ``fastdl.nn``."""
from fastdl.models.mlp import MLP

__all__ = ["MLP"]
