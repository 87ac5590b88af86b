"""Model zoo built from ``fastdl.nn``."""
from fastdl.models.bert import BERT, BERTConfig, bert_from_pretrained
from fastdl.models.gpt import GPT, GPTConfig
from fastdl.models.mlp import MLP
from fastdl.models.pretrained import gpt2_from_pretrained

__all__ = ["BERT", "BERTConfig", "GPT", "GPTConfig", "MLP", "bert_from_pretrained",
           "gpt2_from_pretrained"]
