"""Model zoo built from ``fastdl.nn``."""
from fastdl.models.bert import BERT, BERTConfig, bert_from_pretrained
from fastdl.models.gpt import GPT, GPTConfig
from fastdl.models.mlp import MLP
from fastdl.models.pretrained import gpt2_from_pretrained
from fastdl.models.sequence import CharLM, Forecaster, Seq2Seq, SequenceClassifier

__all__ = ["BERT", "BERTConfig", "CharLM", "Forecaster", "GPT", "GPTConfig", "MLP", "Seq2Seq",
           "SequenceClassifier", "bert_from_pretrained", "gpt2_from_pretrained"]
