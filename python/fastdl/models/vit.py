"""Vision Transformer (Dosovitskiy et al.) with torchvision's module and parameter names, so a
state dict of torchvision's ``VisionTransformer`` (``vit_b_16`` ...) loads into ``ViT``:
``conv_proj`` (the patch embedding, a strided convolution), ``class_token``,
``encoder.pos_embedding``, ``encoder.layers.encoder_layer_N.{ln_1, self_attention, ln_2, mlp}``,
``encoder.ln`` and ``heads.head``.

Each encoder block is pre-norm: x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x)) with an
erf GELU; the attention is ``nn.MultiheadAttention`` (the flash kernels, no weights formed).
"""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from fastdl import nn
from fastdl.functional import shape as S
from fastdl.nn.parameter import Parameter
from fastdl.tensor import as_dtype, get_default_dtype


def _zeros(shape):
    return Parameter(np.zeros(shape, as_dtype(get_default_dtype())))


class _MLPBlock(nn.Sequential):
    """Linear, GELU, Dropout, Linear, Dropout: parameters ``0.*`` and ``3.*`` (torchvision)."""

    def __init__(self, in_dim, mlp_dim, dropout):
        super().__init__(nn.Linear(in_dim, mlp_dim), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(mlp_dim, in_dim), nn.Dropout(dropout))
        for m in (self[0], self[3]):
            nn.init.xavier_uniform_(m.weight)
            nn.init.normal_(m.bias, std=1e-6)


class _EncoderBlock(nn.Module):
    """Pre-norm Transformer encoder block (torchvision's ``EncoderBlock``)."""

    def __init__(self, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout, eps=1e-6):
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden_dim, eps=eps)
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads,
                                                    dropout=attention_dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = nn.LayerNorm(hidden_dim, eps=eps)
        self.mlp = _MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, x):
        h = self.ln_1(x)
        h = self.self_attention(h, h, h, need_weights=False)[0]
        x = x + self.dropout(h)
        return x + self.mlp(self.ln_2(x))


class _Encoder(nn.Module):
    """Learned position embedding (1, seq_length, hidden_dim), dropout, blocks, LayerNorm."""

    def __init__(self, seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout,
                 attention_dropout):
        super().__init__()
        self.pos_embedding = _zeros((1, seq_length, hidden_dim))
        nn.init.normal_(self.pos_embedding, std=0.02)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{i}", _EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout,
                                                 attention_dropout))
            for i in range(num_layers)))
        self.ln = nn.LayerNorm(hidden_dim, eps=1e-6)

    def forward(self, x):
        if x.shape[1:] != self.pos_embedding.shape[1:]:
            raise ValueError(f"ViT encoder: expected (N, {self.pos_embedding.shape[1]}, "
                             f"{self.pos_embedding.shape[2]}) tokens, got {tuple(x.shape)}")
        return self.ln(self.layers(self.dropout(x + self.pos_embedding)))


class ViT(nn.Module):
    """Vision Transformer: images (N, C, H, W) -> class logits (N, num_classes).

    The image is cut into (image_size / patch_size)^2 patches by a convolution with kernel and
    stride ``patch_size`` (``conv_proj``); a learned class token is prepended, learned position
    embeddings added, ``num_layers`` pre-norm encoder blocks run, and the class token's final
    state goes through ``heads.head``. Names and initialization follow torchvision's
    ``VisionTransformer`` (``vit_b_16`` is image_size=224, patch_size=16, 12 layers, 12 heads,
    hidden_dim=768, mlp_dim=3072).

    Shape: input (N, in_channels, image_size, image_size); output (N, num_classes).

    >>> import fastdl
    >>> model = fastdl.models.ViT(image_size=8, patch_size=4, num_layers=2, num_heads=2,
    ...                           hidden_dim=16, mlp_dim=32, num_classes=10, in_channels=1)
    >>> model(fastdl.randn(3, 1, 8, 8)).shape
    (3, 10)
    >>> model.encoder.pos_embedding.shape  # 4 patches + the class token
    (1, 5, 16)
    """

    def __init__(self, image_size=224, patch_size=16, num_layers=12, num_heads=12,
                 hidden_dim=768, mlp_dim=3072, dropout=0.0, attention_dropout=0.0,
                 num_classes=1000, in_channels=3):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"ViT: image_size {image_size} is not a multiple of patch_size "
                             f"{patch_size}")
        if hidden_dim % num_heads:
            raise ValueError(f"ViT: hidden_dim {hidden_dim} is not a multiple of num_heads "
                             f"{num_heads}")
        self.image_size, self.patch_size, self.hidden_dim = image_size, patch_size, hidden_dim
        self.num_classes = num_classes
        self.conv_proj = nn.Conv2d(in_channels, hidden_dim, patch_size, stride=patch_size)
        fan_in = in_channels * patch_size * patch_size
        # torchvision: trunc_normal_ with bounds +-2 (absolute), i.e. a normal at this std
        nn.init.normal_(self.conv_proj.weight, std=math.sqrt(1.0 / fan_in))
        nn.init.zeros_(self.conv_proj.bias)
        self.class_token = _zeros((1, 1, hidden_dim))
        seq_length = (image_size // patch_size) ** 2 + 1
        self.encoder = _Encoder(seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout,
                                attention_dropout)
        self.heads = nn.Sequential(OrderedDict(head=nn.Linear(hidden_dim, num_classes)))
        nn.init.zeros_(self.heads.head.weight)
        nn.init.zeros_(self.heads.head.bias)

    def _process_input(self, x):
        n, _, h, w = x.shape
        if h != self.image_size or w != self.image_size:
            raise ValueError(f"ViT: expected {self.image_size}x{self.image_size} images, got "
                             f"input of shape {tuple(x.shape)}")
        x = self.conv_proj(x)  # (n, hidden, h / p, w / p)
        return x.reshape(n, self.hidden_dim, -1).transpose(1, 2)  # (n, patches, hidden)

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"ViT: expected (N, C, H, W) images, got shape {tuple(x.shape)}")
        x = self._process_input(x)
        cls = self.class_token.expand(x.shape[0], 1, self.hidden_dim)
        x = self.encoder(S.cat([cls, x], 1))
        return self.heads(x[:, 0])


def vit_b_16(num_classes=1000, **kwargs) -> ViT:
    """torchvision's ViT-B/16 architecture (224x224 images, 16x16 patches, 12 layers of width
    768, 12 heads, MLP 3072), randomly initialized.

    >>> import fastdl
    >>> m = fastdl.models.vit_b_16(num_layers=1)  # one of the 12 layers, to keep this quick
    >>> block = sum(p.numel() for p in m.encoder.layers.parameters())
    >>> sum(p.numel() for p in m.parameters()) + 11 * block  # torchvision's vit_b_16: 86,567,656
    86567656
    """
    cfg = dict(image_size=224, patch_size=16, num_layers=12, num_heads=12, hidden_dim=768,
               mlp_dim=3072)
    cfg.update(kwargs)
    return ViT(num_classes=num_classes, **cfg)
