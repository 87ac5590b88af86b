"""``embedding``: rows of a weight table picked by integer indices.

As in PyTorch: the ``embedding`` op's backward is the ``embedding_backward`` op (a fused
scatter-add of the gradient's rows, scaled per position for ``padding_idx`` and
``scale_grad_by_freq``), which is linear in its input; its backward is the adjoint, a gather of
the rows (``getitem``) times the same scale.
"""
from __future__ import annotations

import numpy as np

from fastdl import backend
from fastdl.functional import indexing as I
from fastdl.nn.functional._checks import check_float, check_tensor
from fastdl.autograd.op import defop
from fastdl.tensor import _wrap

one_hot = I.one_hot


def _scatter_rows(num_rows, idx, g, dtype):
    """sum of g's rows into a (num_rows, dim) table at ``idx`` (repeated indices add up)."""
    xp = backend.array_module(g)
    table = xp.zeros((num_rows, g.shape[-1]), dtype=dtype)
    idx, rows = idx.reshape(-1), g.reshape(-1, g.shape[-1])
    if xp is not np or idx.size == 0:
        xp.add.at(table, idx, rows)
        return table
    # numpy's add.at goes row by row through a slow generic path (8 ms of a GPT step for 2048
    # rows of 384): the rows grouped by index with a stable sort and each group summed by
    # reduceat, in the same order (occurrence) as add.at
    order = np.argsort(idx, kind="stable")
    sorted_idx = idx[order]
    starts = np.flatnonzero(np.r_[True, sorted_idx[1:] != sorted_idx[:-1]])
    table[sorted_idx[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return table


def _embedding_backward_forward(g, idx, num_rows, position_scale):
    if position_scale is not None:
        g = g * position_scale
    return _scatter_rows(num_rows, idx, g, g.dtype)


def _embedding_backward_backward(ctx, gg):
    idx, _, position_scale = ctx.args
    rows = I.getitem(gg, idx)
    return (rows if position_scale is None else rows * _wrap(position_scale),)


embedding_op = defop("embedding", forward=lambda w, idx, num_rows, position_scale: w[idx],
                     backward=lambda ctx, g: (embedding_backward_op.apply((g,), *ctx.args),))
embedding_backward_op = defop("embedding_backward", forward=_embedding_backward_forward,
                              backward=_embedding_backward_backward)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False):
    """``weight[input]``. Rows at ``padding_idx`` get no gradient; ``max_norm`` renormalizes the
    looked-up rows of ``weight`` in place first (not differentiated, as in torch);
    ``scale_grad_by_freq`` divides each row's gradient by its count in the batch.
    ``sparse=True`` is accepted for torch's sake; fastdl has no sparse tensors, so the gradient
    is the same dense one (zero rows where nothing was looked up): see ``optim.SparseAdam``."""
    check_tensor(input, "embedding")
    check_float(weight, "embedding", "weight")
    idx = input._data
    w = weight._data
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding(): indices must be an integer tensor, got dtype {idx.dtype} "
                        f"with shape {tuple(idx.shape)}")
    if w.ndim != 2:
        raise ValueError(f"embedding(): weight must be 2-D (num_embeddings, embedding_dim), "
                         f"got shape {tuple(w.shape)}")
    num_rows = w.shape[0]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num_rows):
        raise IndexError(f"embedding(): index out of range: indices span [{int(idx.min())}, "
                         f"{int(idx.max())}] but weight has {num_rows} rows")
    if padding_idx is not None:
        if not -num_rows <= padding_idx < num_rows:
            raise ValueError(f"embedding(): padding_idx {padding_idx} must be within "
                             f"num_embeddings {num_rows}")
        padding_idx = padding_idx % num_rows
    if max_norm is not None:
        rows = np.unique(idx) if type(idx) is np.ndarray else np.unique(idx.get())
        norms = np.linalg.norm(w[rows].astype(np.float64), ord=norm_type, axis=1)
        factor = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        w[rows] = (w[rows] * factor[:, None]).astype(w.dtype)
    position_scale = None
    if padding_idx is not None or scale_grad_by_freq:
        counts = np.bincount(idx.reshape(-1), minlength=num_rows) if scale_grad_by_freq else None
        row_scale = np.ones(num_rows, dtype=w.dtype)
        if counts is not None:
            row_scale /= np.maximum(counts, 1)
        if padding_idx is not None:
            row_scale[padding_idx] = 0
        position_scale = row_scale[idx][..., None]
    return embedding_op.apply((weight,), idx, num_rows, position_scale)
