"""Layer classes (torch.nn's names)."""
from fastdl.nn.modules.activation import (ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU,
                                          Softmax, Softplus, Tanh)
from fastdl.nn.modules.container import ModuleDict, ModuleList, Sequential
from fastdl.nn.modules.dropout import Dropout
from fastdl.nn.modules.linear import Bilinear, Flatten, Identity, Linear, Unflatten
from fastdl.nn.modules.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss,
                                    KLDivLoss, L1Loss, MSELoss, MultiMarginLoss, NLLLoss,
                                    SmoothL1Loss)
from fastdl.nn.modules.module import Module
from fastdl.nn.modules.normalization import BatchNorm1d, LayerNorm
from fastdl.nn.modules.positional import (KVCache, LearnedPositionalEmbedding, RotaryEmbedding,
                                          SinusoidalPositionalEncoding)
from fastdl.nn.modules.sparse import Embedding
from fastdl.nn.modules.transformer import (MultiheadAttention, Transformer, TransformerDecoder,
                                           TransformerDecoderLayer, TransformerEncoder,
                                           TransformerEncoderLayer)

__all__ = ["BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "Bilinear", "CrossEntropyLoss",
           "Dropout", "ELU", "Embedding", "Flatten", "GELU", "HuberLoss", "Identity",
           "KLDivLoss", "KVCache", "LearnedPositionalEmbedding", "RotaryEmbedding",
           "SinusoidalPositionalEncoding", "L1Loss", "LayerNorm", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss",
           "Module", "ModuleDict", "ModuleList", "MultiMarginLoss", "MultiheadAttention",
           "NLLLoss", "ReLU", "Sequential", "SiLU", "Sigmoid", "SmoothL1Loss", "Softmax", "Softplus", "Tanh",
           "Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerEncoderLayer", "Unflatten"]
