"""A small U-Net for diffusion models (Ho et al. 2020's layout, scaled down): residual blocks
with GroupNorm, SiLU and a sinusoidal time embedding, self-attention at the coarsest level and in
the middle, stride-2 convolutions down, nearest upsampling + 3x3 convolution up (to the skip's
exact size, so odd image sizes work).
"""
from __future__ import annotations

import math

import numpy as np

import fastdl
from fastdl import nn
from fastdl.nn import functional as F

__all__ = ["sinusoidal_embedding", "UNet"]


def sinusoidal_embedding(t, dim, max_period=10000.0):
    """Transformer-style embedding of (N,) timesteps as (N, dim) features:
    ``[cos(t * f_0), ..., cos(t * f_{h-1}), sin(t * f_0), ..., sin(t * f_{h-1})]`` with
    h = dim // 2 and f_i = max_period ** (-i / h) (a zero column is appended for odd ``dim``).

    Example:
        >>> e = fastdl.models.sinusoidal_embedding(fastdl.tensor([0, 5, 99]), 6)
        >>> e.shape, e[0].tolist()
        ((3, 6), [1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    """
    t = t if isinstance(t, fastdl.Tensor) else fastdl.tensor(np.asarray(t))
    if t.ndim != 1:
        raise ValueError(f"sinusoidal_embedding: expected timesteps of shape (N,), got "
                         f"{tuple(t.shape)}")
    if dim < 2:
        raise ValueError(f"sinusoidal_embedding: dim must be >= 2, got {dim}")
    half = dim // 2
    freqs = np.exp(-math.log(max_period) * np.arange(half, dtype=np.float64) / half)
    dtype = t.dtype if t.is_floating_point() else fastdl.float32
    args = t.to(dtype).reshape(-1, 1) * fastdl.tensor(freqs, device=t.device).to(dtype)
    emb = fastdl.cat([args.cos(), args.sin()], dim=1)
    if dim % 2:
        emb = fastdl.cat([emb, fastdl.zeros(t.shape[0], 1, dtype=dtype, device=t.device)], dim=1)
    return emb


def _groups(channels, groups):
    g = min(groups, channels)
    while channels % g:
        g -= 1
    return g


class ResBlock(nn.Module):
    """GroupNorm -> SiLU -> conv3x3, + projected time embedding, GroupNorm -> SiLU -> dropout
    -> conv3x3, plus a (1x1-projected when the width changes) skip."""

    def __init__(self, cin, cout, tdim, groups=8, dropout=0.0):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(cin, groups), cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time = nn.Linear(tdim, cout)
        self.norm2 = nn.GroupNorm(_groups(cout, groups), cout)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(F.silu(temb)).reshape(h.shape[0], -1, 1, 1)
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return h + self.skip(x)


class AttentionBlock(nn.Module):
    """Multi-head self-attention over the H*W positions (GroupNorm, 1x1 qkv, scaled dot-product
    attention, 1x1 output projection), added to the input."""

    def __init__(self, channels, heads=1, groups=8):
        super().__init__()
        if channels % heads:
            raise ValueError(f"AttentionBlock: {channels} channels do not split into {heads} "
                             "heads")
        self.heads = heads
        self.norm = nn.GroupNorm(_groups(channels, groups), channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        n, c, h, w = x.shape
        qkv = self.qkv(self.norm(x)).reshape(n, 3, self.heads, c // self.heads, h * w)
        q, k, v = (qkv[:, i].transpose(-1, -2) for i in range(3))  # (N, heads, HW, d)
        out = F.scaled_dot_product_attention(q, k, v)
        return x + self.proj(out.transpose(-1, -2).reshape(n, c, h, w))


class UNet(nn.Module):
    """Noise-prediction U-Net: ``model(x_t, t)`` -> (N, out_channels, H, W) for images
    (N, in_channels, H, W) of any size and (N,) integer timesteps.

    Levels of width ``base * m`` for m in ``channel_mults`` (each but the last halving the size
    by a stride-2 convolution, ceil for odd sizes), ``num_res_blocks`` residual blocks per level,
    self-attention (``heads``) at levels listed in ``attention_levels`` (default: the coarsest)
    and in the middle; the time embedding is sinusoidal(base) -> Linear -> SiLU -> Linear
    (4 * base features).

    Example:
        >>> net = fastdl.models.UNet(base=8, channel_mults=(1, 2))
        >>> net(fastdl.randn(2, 1, 7, 9), fastdl.tensor([3, 50])).shape
        (2, 1, 7, 9)
    """

    def __init__(self, in_channels=1, out_channels=None, base=32, channel_mults=(1, 2),
                 num_res_blocks=1, attention_levels=None, heads=1, groups=8, dropout=0.0):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        levels = len(channel_mults)
        if attention_levels is None:
            attention_levels = (levels - 1,)
        self.base, tdim = base, 4 * base
        self.time_mlp = nn.Sequential(nn.Linear(base, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.conv_in = nn.Conv2d(in_channels, base, 3, padding=1)
        widths = [base * m for m in channel_mults]

        def level(cin, cout, skip, attend):
            blocks = nn.ModuleList([ResBlock(cin + skip if i == 0 else cout, cout, tdim,
                                             groups, dropout) for i in range(num_res_blocks)])
            attn = AttentionBlock(cout, heads, groups) if attend else nn.Identity()
            return blocks, attn

        self.down_blocks, self.down_attn, self.downsample = (nn.ModuleList(), nn.ModuleList(),
                                                             nn.ModuleList())
        cin = base
        for i, w in enumerate(widths):
            blocks, attn = level(cin, w, 0, i in attention_levels)
            self.down_blocks.append(blocks)
            self.down_attn.append(attn)
            if i < levels - 1:
                self.downsample.append(nn.Conv2d(w, w, 3, stride=2, padding=1))
            cin = w
        self.mid1 = ResBlock(cin, cin, tdim, groups, dropout)
        self.mid_attn = AttentionBlock(cin, heads, groups)
        self.mid2 = ResBlock(cin, cin, tdim, groups, dropout)
        self.up_blocks, self.up_attn, self.upsample = (nn.ModuleList(), nn.ModuleList(),
                                                       nn.ModuleList())
        for i in reversed(range(levels)):
            w = widths[i]
            blocks, attn = level(cin, w, w, i in attention_levels)
            self.up_blocks.append(blocks)
            self.up_attn.append(attn)
            if i > 0:
                self.upsample.append(nn.Conv2d(w, w, 3, padding=1))
            cin = w
        self.norm_out = nn.GroupNorm(_groups(cin, groups), cin)
        self.conv_out = nn.Conv2d(cin, out_channels, 3, padding=1)

    def forward(self, x, t):
        if x.ndim != 4:
            raise ValueError(f"UNet: expected images (N, C, H, W), got {tuple(x.shape)}")
        t = t if isinstance(t, fastdl.Tensor) else fastdl.tensor(np.asarray(t), device=x.device)
        if t.ndim == 0:
            t = t.reshape(1).expand(x.shape[0])
        if tuple(t.shape) != (x.shape[0],):
            raise ValueError(f"UNet: expected timesteps of shape ({x.shape[0]},), got "
                             f"{tuple(t.shape)}")
        temb = self.time_mlp(sinusoidal_embedding(t.to(x.dtype), self.base))
        h = self.conv_in(x)
        skips = []
        for i, (blocks, attn) in enumerate(zip(self.down_blocks, self.down_attn)):
            for block in blocks:
                h = block(h, temb)
            h = attn(h)
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        h = self.mid2(self.mid_attn(self.mid1(h, temb)), temb)
        for j, (blocks, attn) in enumerate(zip(self.up_blocks, self.up_attn)):
            skip = skips.pop()
            if j > 0:
                h = self.upsample[j - 1](F.interpolate(h, size=tuple(skip.shape[2:]),
                                                       mode="nearest"))
            h = fastdl.cat([h, skip], dim=1)
            for block in blocks:
                h = block(h, temb)
            h = attn(h)
        return self.conv_out(F.silu(self.norm_out(h)))
