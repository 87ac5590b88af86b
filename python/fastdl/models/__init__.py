"""Model zoo built from ``fastdl.nn``."""
from fastdl.models.gpt import GPT, GPTConfig
from fastdl.models.mlp import MLP
from fastdl.models.pretrained import gpt2_from_pretrained

__all__ = ["GPT", "GPTConfig", "MLP", "gpt2_from_pretrained"]
