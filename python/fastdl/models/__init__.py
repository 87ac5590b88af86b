"""Model zoo built from ``fastdl.nn``."""
from fastdl.models.gpt import GPT, GPTConfig
from fastdl.models.mlp import MLP

__all__ = ["GPT", "GPTConfig", "MLP"]
