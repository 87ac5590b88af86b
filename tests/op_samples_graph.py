"""Float64 samples of the graph ops (loaded by op_samples.py): graph_spmm, graph_sddmm,
graph_aggregate, graph_segment_max (+ graph_max_place / graph_max_take), edge_softmax (+ its
backward op).

PyTorch has no message-passing functions, so ``_lib(L)`` gives each sample the fastdl functions
or, for the torch oracle, the same maths written with ``index_add`` / ``scatter_reduce`` (how
torch_geometric computes them). The graph has a self-loop, a duplicated edge, a node with no
in-edges and an isolated node. Max inputs are well separated (no ties within the step).
"""
from __future__ import annotations

import numpy as np

from op_samples import G, U, sample, vjp_at

# 6 nodes: 3 -> 3 and 0 -> 0 self-loops, 2 -> 1 twice, node 4 receives nothing, node 5 isolated
EI = np.array([[0, 1, 2, 2, 3, 0, 2, 4, 1], [1, 2, 1, 1, 3, 0, 0, 2, 3]], dtype=np.int64)
N, E = 6, EI.shape[1]
BATCH = np.array([0, 0, 1, 1, 1, 3], dtype=np.int64)  # graph 2 is empty


def distinct(r, shape):
    n = int(np.prod(shape))
    return (r.permutation(n).reshape(shape) * 0.1 - 0.05 * n + r.uniform(-0.01, 0.01, shape))


class _Torch:
    """The reference: torch_geometric's formulas on plain torch."""

    def __init__(self, torch):
        self.torch = torch

    def spmm(self, ei, x, w=None, reduce="sum"):
        t = self.torch
        src, dst = ei[0], ei[1]
        msg = x[src]
        if w is not None:
            msg = msg * (w.reshape(w.shape + (1,) * (x.dim() - w.dim())) if x.dim() == 3 and
                         w.dim() == 2 else w.reshape((-1,) + (1,) * (x.dim() - 1)))
        out = t.zeros((x.shape[0],) + x.shape[1:], dtype=x.dtype).index_add(0, dst, msg)
        if reduce == "mean":
            cnt = t.zeros(x.shape[0], dtype=x.dtype).index_add(0, dst, t.ones_like(dst,
                                                                                   dtype=x.dtype))
            out = out / cnt.clamp(min=1).reshape((-1,) + (1,) * (x.dim() - 1))
        return out

    def sddmm(self, ei, a, b):
        return (a[ei[1]] * b[ei[0]]).sum(-1)

    def scatter(self, src, index, dim_size=None, reduce="sum"):
        t = self.torch
        n = int(index.max()) + 1 if dim_size is None else dim_size
        idx = index.reshape((-1,) + (1,) * (src.dim() - 1)).expand_as(src)
        out = t.zeros((n,) + src.shape[1:], dtype=src.dtype)
        if reduce == "max":
            return out.scatter_reduce(0, idx, src, "amax", include_self=False)
        out = out.scatter_add(0, idx, src)
        if reduce == "mean":
            cnt = t.zeros(n, dtype=src.dtype).index_add(0, index, t.ones_like(index,
                                                                             dtype=src.dtype))
            out = out / cnt.clamp(min=1).reshape((-1,) + (1,) * (src.dim() - 1))
        return out

    def edge_softmax(self, src, index, num_nodes=None):
        n = int(index.max()) + 1 if num_nodes is None else num_nodes
        m = self.scatter(src.detach(), index, n, "max")[index]
        e = (src - m).exp()
        return e / self.scatter(e, index, n, "sum")[index]

    def global_add_pool(self, x, batch, size=None):
        return self.scatter(x, batch, size, "sum")

    def global_mean_pool(self, x, batch, size=None):
        return self.scatter(x, batch, size, "mean")

    def global_max_pool(self, x, batch, size=None):
        return self.scatter(x, batch, size, "max")


def _lib(L):
    if L.T.__name__ == "torch":
        return _Torch(L.T)
    return L.F


def ei(L):
    return L.const(EI)


# ---- SpMM ------------------------------------------------------------------------------------
sample("graph_spmm", "weighted_sum",
       lambda L, x, w: _lib(L).spmm(ei(L), x, w),
       lambda r: [U(r, (N, 3)), U(r, (E,))])
sample("graph_spmm", "heads_mean",
       lambda L, x, w: _lib(L).spmm(ei(L), x, w, reduce="mean"),
       lambda r: [U(r, (N, 2, 3)), U(r, (E, 2))])
sample("graph_sddmm", "heads",
       lambda L, a, b: _lib(L).sddmm(ei(L), a, b),
       lambda r: [U(r, (N, 2, 3)), U(r, (N, 2, 3))])
sample("graph_sddmm", "grad_of_spmm_weights",
       lambda L, x, w, g: vjp_at(L, lambda w: _lib(L).spmm(ei(L), x, w), [w], g)[0],
       lambda r: [U(r, (N, 4)), U(r, (E,)), G(r, (N, 4))], nograd=(1,))

# ---- unweighted aggregation, scatter, pools -------------------------------------------------
sample("graph_aggregate", "spmm_unweighted_mean",
       lambda L, x: _lib(L).spmm(ei(L), x, reduce="mean"),
       lambda r: [U(r, (N, 3))])
sample("graph_aggregate", "scatter_sum_3d",
       lambda L, s: _lib(L).scatter(s, L.const(EI[1]), dim_size=N, reduce="sum"),
       lambda r: [U(r, (E, 2, 2))])
sample("graph_aggregate", "global_mean_and_add_pool",
       lambda L, x: _lib(L).global_mean_pool(x, L.const(BATCH)) +
       _lib(L).global_add_pool(x, L.const(BATCH)),
       lambda r: [U(r, (N, 3))])

sample("graph_segment_max", "scatter_max_with_empty_rows",
       lambda L, s: _lib(L).scatter(s, L.const(EI[1]), dim_size=N, reduce="max"),
       lambda r: [distinct(r, (E, 3))])
sample("graph_segment_max", "global_max_pool",
       lambda L, x: _lib(L).global_max_pool(x, L.const(BATCH)),
       lambda r: [distinct(r, (N, 2))])


def _scatter_max(L):
    return lambda s: _lib(L).scatter(s, L.const(EI[1]), dim_size=N, reduce="max")


# linear in g; depends on s only through the argmax (held fixed)
sample("graph_max_place", "grad_of_scatter_max",
       lambda L, s, g: vjp_at(L, _scatter_max(L), [s], g)[0],
       lambda r: [distinct(r, (E, 3)), G(r, (N, 3))], nograd=(0,))
sample("graph_max_take", "grad_of_max_place",
       lambda L, s, g, u: vjp_at(L, lambda g: vjp_at(L, _scatter_max(L), [s], g)[0], [g], u)[0],
       lambda r: [distinct(r, (E, 3)), G(r, (N, 3)), G(r, (E, 3))], nograd=(0, 1))

# ---- edge softmax ---------------------------------------------------------------------------
sample("edge_softmax", "by_target_heads",
       lambda L, s: _lib(L).edge_softmax(s, L.const(EI[1]), num_nodes=N),
       lambda r: [U(r, (E, 2), -2.0, 2.0)])
sample("edge_softmax", "flat",
       lambda L, s: _lib(L).edge_softmax(s, L.const(EI[0])),
       lambda r: [U(r, (E,), -2.0, 2.0)])
sample("edge_softmax_backward", "grad_of_edge_softmax",
       lambda L, s, g: L.grad(_lib(L).edge_softmax(s, L.const(EI[1]), num_nodes=N), s, g)[0],
       lambda r: [U(r, (E, 2), -2.0, 2.0), G(r, (E, 2))])
