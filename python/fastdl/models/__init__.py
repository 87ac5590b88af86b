"""Model zoo built from ``fastdl.nn``."""
from fastdl.models.mlp import MLP
from fastdl.models.sequence import CharLM, Forecaster, Seq2Seq, SequenceClassifier

__all__ = ["CharLM", "Forecaster", "MLP", "Seq2Seq", "SequenceClassifier"]
