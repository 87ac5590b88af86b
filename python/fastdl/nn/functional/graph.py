"""Graph ops (message passing) on fastdl's graph kernels (csrc/cpu/graph, csrc/cuda/graph).

Edges follow PyTorch Geometric's convention: ``edge_index`` is a (2, E) integer tensor, row 0
the sources, row 1 the targets; a message flows ``src -> dst`` and is reduced at ``dst``.
Internally the edges are grouped by destination in CSR form (``_graph.CSR``), so every reduction
is a deterministic row walk (no atomics) and the transpose CSR serves the backward.

The registered ops and their backward formulas (each one written with registered ops, so double
backward works):

=================  ===========================================  ==============================
op                 forward                                      backward
=================  ===========================================  ==============================
graph_spmm         out[i] = sum_e val[e] * x[src e]  (dst e=i)  val: graph_sddmm(g, x)
                                                                x: graph_spmm(val, g) on C^T
graph_sddmm        out[e] = <a[dst e], b[src e]>                a: graph_spmm(go, b)
                                                                b: graph_spmm(go, a) on C^T
graph_aggregate    out[i] = sum_{p in row i} x[col p]           graph_aggregate(g) on C^T
                   (scatter-sum of edges / gather to edges)
graph_segment_max  out[i] = max over row i, argmax saved         graph_max_place(g, argmax)
graph_max_place    out[argmax[i]] = g[i]                        graph_max_take(gg, argmax)
graph_max_take     out[i] = src[argmax[i]]                      graph_max_place(g, argmax)
edge_softmax       softmax of logits over each dst's edges      edge_softmax_backward(g, y)
edge_softmax_bwd   y * (g - sum_dst(g * y))                     itself on (u, y) for g;
                                                                u (g - S(gy)) - g S(uy) for y
=================  ===========================================  ==============================

Heads: node arrays may be (N, H, F) with edge values (E, H) (GAT's multi-head attention); one
weighted SpMM serves all heads.
"""
from __future__ import annotations

import numpy as np

from fastdl import _C, backend
from fastdl.autograd.op import Saved, defop
from fastdl.functional._core import promote_pair
from fastdl.nn.functional._checks import check_float
from fastdl.nn.functional._graph import Graph, incidence
from fastdl.tensor import _wrap

__all__ = ["spmm", "sddmm", "scatter", "edge_softmax", "global_add_pool", "global_mean_pool",
           "global_max_pool"]


def _xp(a):
    return np if type(a) is np.ndarray else backend.array_module(a)


def _cuda_forward(fn):
    return lambda *args: fn(*args, kernels=backend.cuda_kernels())


def _c(a, xp):
    return xp.ascontiguousarray(a)


# ---- weighted SpMM and its edge-value gradient (SDDMM) ---------------------------------------
def _spmm_fwd(val, x, csr, kernels=_C):
    xp = _xp(x)
    rowptr, col, eid, _ = csr.arrays(xp)
    out = xp.empty((csr.n_rows,) + x.shape[1:], x.dtype)
    kernels.spmm(rowptr, col, eid, _c(val, xp), None, _c(x, xp), out)
    return out


def _spmm_bwd(ctx, g):
    val, x = ctx.inputs
    csr, = ctx.args
    gv = sddmm_op.apply((g, x), csr) if ctx.edges[0] is not None else None
    gx = spmm_op.apply((val, g), csr.t) if ctx.edges[1] is not None else None
    return gv, gx


def _sddmm_fwd(a, b, csr, kernels=_C):
    xp = _xp(a)
    rowptr, col, eid, _ = csr.arrays(xp)
    out = xp.empty((csr.n_edges, a.shape[1]), a.dtype)
    kernels.sddmm(rowptr, col, eid, _c(a, xp), _c(b, xp), out)
    return out


def _sddmm_bwd(ctx, g):
    a, b = ctx.inputs
    csr, = ctx.args
    ga = spmm_op.apply((g, b), csr) if ctx.edges[0] is not None else None
    gb = spmm_op.apply((g, a), csr.t) if ctx.edges[1] is not None else None
    return ga, gb


spmm_op = defop("graph_spmm", cpu=_spmm_fwd, cuda=_cuda_forward(_spmm_fwd), backward=_spmm_bwd,
                saves={0: (1,), 1: (0,)}, float_only=True)
sddmm_op = defop("graph_sddmm", cpu=_sddmm_fwd, cuda=_cuda_forward(_sddmm_fwd),
                 backward=_sddmm_bwd, saves={0: (1,), 1: (0,)}, float_only=True)


# ---- unweighted aggregation: neighbour sums, scatter-sums of edge arrays, gathers ------------
def _aggregate_fwd(x, csr, kernels=_C):
    xp = _xp(x)
    rowptr, col, eid, _ = csr.arrays(xp)
    x = _c(x, xp)
    out = xp.empty((csr.n_rows, x.shape[1]), x.dtype)
    if csr.identity:  # one position per row: a gather
        kernels.gather_rows(col, None, x, out)
    else:
        kernels.spmm(rowptr, col, None, None, None, x[:, None, :], out[:, None, :])
    return out


aggregate_op = defop("graph_aggregate", cpu=_aggregate_fwd, cuda=_cuda_forward(_aggregate_fwd),
                     backward=lambda ctx, g: (aggregate_op.apply((g,), ctx.args[0].t),),
                     float_only=True)


# ---- max over segments ----------------------------------------------------------------------
def _segment_max_fwd(src, csr, saved, kernels=_C):
    xp = _xp(src)
    rowptr, _, eid, _ = csr.arrays(xp)
    out = xp.empty((csr.n_rows, src.shape[1]), src.dtype)
    argmax = xp.empty(out.shape, np.int64)
    kernels.segment_max(rowptr, eid, _c(src, xp), out, argmax)
    saved.values = (argmax, src.shape[0])
    return out


def _max_place_fwd(g, argmax, n_in, kernels=_C):
    xp = _xp(g)
    out = xp.empty((n_in, g.shape[1]), g.dtype)
    kernels.max_place(argmax, _c(g, xp), out)
    return out


def _max_take_fwd(src, argmax, n_in, kernels=_C):
    xp = _xp(src)
    out = xp.empty(argmax.shape, src.dtype)
    kernels.max_take(argmax, _c(src, xp), out)
    return out


segment_max_op = defop(
    "graph_segment_max", cpu=_segment_max_fwd, cuda=_cuda_forward(_segment_max_fwd),
    backward=lambda ctx, g: (max_place_op.apply((g,), *ctx.args[1].values),), float_only=True)
max_place_op = defop(
    "graph_max_place", cpu=_max_place_fwd, cuda=_cuda_forward(_max_place_fwd),
    backward=lambda ctx, g: (max_take_op.apply((g,), ctx.args[0], ctx.args[1]),), float_only=True)
max_take_op = defop(
    "graph_max_take", cpu=_max_take_fwd, cuda=_cuda_forward(_max_take_fwd),
    backward=lambda ctx, g: (max_place_op.apply((g,), *ctx.args),),
    float_only=True)


# ---- edge softmax ----------------------------------------------------------------------------
def _edge_softmax_fwd(logits, csr, kernels=_C):
    xp = _xp(logits)
    rowptr, _, eid, _ = csr.arrays(xp)
    out = xp.empty(logits.shape, logits.dtype)
    kernels.edge_softmax_forward(rowptr, eid, _c(logits, xp), out)
    return out


def _edge_softmax_bwd_fwd(g, y, csr, kernels=_C):
    xp = _xp(g)
    rowptr, _, eid, _ = csr.arrays(xp)
    out = xp.empty(g.shape, g.dtype)
    kernels.edge_softmax_backward(rowptr, eid, _c(g, xp), _c(y, xp), out)
    return out


def _edge_softmax_bwd_bwd(ctx, u):
    # r = y * (g - G(S(g y))), S: sum over each row's edges, G: back to the edges
    g, y = ctx.inputs
    csr, = ctx.args
    inc = csr.incidence()
    gg = edge_softmax_backward_op.apply((u, y), csr) if ctx.edges[0] is not None else None
    gy = None
    if ctx.edges[1] is not None:
        s = aggregate_op.apply((aggregate_op.apply((g * y,), inc),), inc.t)
        t = aggregate_op.apply((aggregate_op.apply((u * y,), inc),), inc.t)
        gy = u * (g - s) - g * t
    return gg, gy


edge_softmax_op = defop(
    "edge_softmax", cpu=_edge_softmax_fwd, cuda=_cuda_forward(_edge_softmax_fwd),
    backward=lambda ctx, g: (edge_softmax_backward_op.apply((g, ctx.output), ctx.args[0]),),
    saves_output=True, float_only=True)
edge_softmax_backward_op = defop(
    "edge_softmax_backward", cpu=_edge_softmax_bwd_fwd, cuda=_cuda_forward(_edge_softmax_bwd_fwd),
    backward=_edge_softmax_bwd_bwd, saves=(0, 1), float_only=True)


# ---- helpers for the public functions and the layers ------------------------------------------
def as_graph(edge_index, num_nodes, fn):
    """A ``Graph`` from a (2, E) edge_index (Tensor or array), or the Graph itself."""
    if isinstance(edge_index, Graph):
        return edge_index
    return Graph.from_edge_index(edge_index, num_nodes, fn)


def _index_array(index, fn, name="index"):
    d = getattr(index, "_data", index)
    if not hasattr(d, "dtype") or d.dtype.kind not in "iu" or d.ndim != 1:
        raise TypeError(f"{fn}(): {name} must be a 1-D integer tensor, got "
                        f"{getattr(d, 'dtype', type(d).__name__)} with shape "
                        f"{tuple(getattr(d, 'shape', ()))}")
    d = d if type(d) is np.ndarray else backend.array_module(d).asnumpy(d)
    return np.asarray(d, dtype=np.int64)


def _as_2d(x):
    """(N, *F) -> (N, prod F) and back."""
    shape = x._data.shape
    return (x if x._data.ndim == 2 else x.reshape(shape[0], -1)), shape[1:]


def aggregate(x, csr):
    """sum over each CSR row of x[col] for x of shape (n, *F) (graph_aggregate)."""
    x2, rest = _as_2d(x)
    out = aggregate_op.apply((x2,), csr)
    return out if len(rest) == 1 else out.reshape((csr.n_rows,) + rest)


def gather(x, csr):
    """x[csr.index] (one row per edge) for x of shape (n_rows, *F)."""
    return aggregate(x, csr.incidence().t)


def weighted_spmm(csr, val, x):
    """out[i] = sum_e val[e] * x[src e] with x (N, F) and val (E,), or x (N, H, F), val (E, H)."""
    if x._data.ndim == 2:
        return spmm_op.apply((val.reshape(-1, 1), x.reshape(x.shape[0], 1, x.shape[1])),
                             csr).reshape(csr.n_rows, x.shape[1])
    return spmm_op.apply((val, x), csr)


# ---- public functions -------------------------------------------------------------------------
def spmm(edge_index, x, edge_weight=None, num_nodes=None, reduce: str = "sum"):
    """Message passing with a sparse adjacency: ``out[i] = reduce over edges j -> i of
    edge_weight[e] * x[j]`` (``reduce``: "sum" or "mean"; no edges: 0).

    ``edge_index`` (2, E) integers (PyG's source -> target rows), ``x`` (N, F) or (N, H, F) with
    ``edge_weight`` (E,) or (E, H) (one value per head) or None (ones); ``num_nodes``: rows of the
    output (default N). Differentiable in x and edge_weight (backward: the transposed SpMM and the
    per-edge dot products).

    >>> import fastdl, fastdl.nn.functional as F
    >>> ei = fastdl.tensor([[0, 1, 2], [1, 2, 1]])
    >>> F.spmm(ei, fastdl.tensor([[1.0], [2.0], [4.0]])).tolist()
    [[0.0], [5.0], [2.0]]
    >>> F.spmm(ei, fastdl.ones(3, 2), fastdl.tensor([0.5, 2.0, 1.0]), reduce="mean").tolist()
    [[0.0, 0.0], [0.75, 0.75], [2.0, 2.0]]
    """
    check_float(x, "spmm", "x")
    if reduce not in ("sum", "mean", "add"):
        raise ValueError(f"spmm(): reduce must be 'sum' or 'mean', got {reduce!r}")
    n = x._data.shape[0]
    g = as_graph(edge_index, max(n, num_nodes or 0), "spmm")
    if g.n_src != n and not isinstance(edge_index, Graph):
        g = Graph(g.src, g.dst, n, g.n_dst)
    if g.n_src != n:
        raise ValueError(f"spmm(): x has {n} rows but the graph has {g.n_src} source nodes")
    if num_nodes is not None and num_nodes != g.n_dst:
        g = Graph(g.src, g.dst, n, num_nodes)
    csr = g.by_dst
    if edge_weight is None:
        out = aggregate(x, csr)
    else:
        check_float(edge_weight, "spmm", "edge_weight")
        x, edge_weight = promote_pair(x, edge_weight)
        heads = x._data.shape[1] if x._data.ndim == 3 else 1
        ok = edge_weight._data.shape in ((g.n_edges,), (g.n_edges, heads)) if x._data.ndim == 3 \
            else edge_weight._data.shape == (g.n_edges,)
        if x._data.ndim not in (2, 3) or not ok:
            raise ValueError(f"spmm(): edge_weight of shape {tuple(edge_weight._data.shape)} "
                             f"does not fit {g.n_edges} edges and x of shape "
                             f"{tuple(x._data.shape)} (expected (E,) with x (N, F), or (E, H) "
                             "with x (N, H, F))")
        if x._data.ndim == 3 and edge_weight._data.ndim == 1:
            edge_weight = edge_weight.reshape(-1, 1).expand(g.n_edges, heads)
        out = weighted_spmm(csr, edge_weight, x)
    if reduce == "mean":
        scale = _wrap(csr.inv_count(out._data.dtype, _xp(out._data)))
        out = out * (scale if out._data.ndim == 2 else scale.reshape(-1, 1, 1))
    return out


def sddmm(edge_index, a, b):
    """Per-edge dot products ``out[e] = <a[dst e], b[src e]>`` ((E,) for (N, F) inputs, (E, H)
    for (N, H, F)): the gradient of ``spmm`` in its edge weights, and attention scores.

    >>> import fastdl, fastdl.nn.functional as F
    >>> ei = fastdl.tensor([[0, 1], [1, 1]])
    >>> F.sddmm(ei, fastdl.tensor([[1.0, 0.0], [1.0, 2.0]]), fastdl.tensor([[3.0, 1.0], [0.0, 5.0]])).tolist()
    [5.0, 10.0]
    """
    check_float(a, "sddmm", "a")
    check_float(b, "sddmm", "b")
    a, b = promote_pair(a, b)
    if a._data.ndim not in (2, 3) or a._data.shape[1:] != b._data.shape[1:]:
        raise ValueError(f"sddmm(): a and b must be (N, F) or (N, H, F) with equal trailing "
                         f"dims, got {tuple(a._data.shape)} and {tuple(b._data.shape)}")
    g = as_graph(edge_index, max(a._data.shape[0], b._data.shape[0]), "sddmm")
    g = Graph(g.src, g.dst, b._data.shape[0], a._data.shape[0]) if not isinstance(
        edge_index, Graph) else g
    flat = a._data.ndim == 2
    if flat:
        a = a.reshape(a.shape[0], 1, a.shape[1])
        b = b.reshape(b.shape[0], 1, b.shape[1])
    out = sddmm_op.apply((a, b), g.by_dst)
    return out.reshape(-1) if flat else out


def _reduce_index(src, index, dim, dim_size, fn):
    check_float(src, fn, "src")
    if dim not in (0, -src._data.ndim):
        raise ValueError(f"{fn}(): only dim=0 is supported, got dim={dim}")
    idx = _index_array(index, fn)
    if idx.shape[0] != src._data.shape[0]:
        raise ValueError(f"{fn}(): index has {idx.shape[0]} entries but src has shape "
                         f"{tuple(src._data.shape)}")
    if dim_size is None:
        dim_size = int(idx.max()) + 1 if idx.size else 0
    return idx, int(dim_size)


def scatter(src, index, dim: int = 0, dim_size=None, reduce: str = "sum"):
    """Reduce the rows of ``src`` (E, *F) that share an ``index`` value: ``out[i] =
    reduce{src[e] : index[e] == i}`` with ``reduce`` "sum"/"add", "mean" or "max" (rows no entry
    names are 0), as ``torch_geometric.utils.scatter``. ``dim_size`` defaults to max(index) + 1.
    Deterministic (a sort by index, then a row walk); "max" sends each gradient to the first
    maximal entry.

    >>> import fastdl, fastdl.nn.functional as F
    >>> src = fastdl.tensor([[1.0], [2.0], [6.0]])
    >>> F.scatter(src, fastdl.tensor([0, 0, 2]), reduce="mean").tolist()
    [[1.5], [0.0], [6.0]]
    >>> F.scatter(src, fastdl.tensor([1, 1, 1]), dim_size=2, reduce="max").tolist()
    [[0.0], [6.0]]
    """
    if reduce not in ("sum", "add", "mean", "max"):
        raise ValueError(f"scatter(): reduce must be 'sum', 'add', 'mean' or 'max', got {reduce!r}")
    idx, n = _reduce_index(src, index, dim, dim_size, "scatter")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"scatter(): index holds {int(idx.min() if idx.min() < 0 else idx.max())}"
                         f", outside [0, {n})")
    inc = incidence(idx, n)
    return _reduce_rows(src, inc, reduce)


def _reduce_rows(src, inc, reduce):
    x2, rest = _as_2d(src)
    if reduce == "max":
        out = segment_max_op.apply((x2,), inc, Saved())
    else:
        out = aggregate_op.apply((x2,), inc)
        if reduce == "mean":
            out = out * _wrap(inc.inv_count(out._data.dtype, _xp(out._data)))
    return out if len(rest) == 1 else out.reshape((inc.n_rows,) + rest)


def edge_softmax(src, index, num_nodes=None):
    """Softmax of ``src`` (E,) or (E, H) over the entries sharing an ``index`` value (the edges
    into one node): ``torch_geometric.utils.softmax(src, index, num_nodes=...)``, per head.

    >>> import fastdl, fastdl.nn.functional as F
    >>> y = F.edge_softmax(fastdl.tensor([0.0, 0.0, 5.0]), fastdl.tensor([1, 1, 0]))
    >>> [round(v, 3) for v in y.tolist()]
    [0.5, 0.5, 1.0]
    """
    check_float(src, "edge_softmax", "src")
    if src._data.ndim not in (1, 2):
        raise ValueError(f"edge_softmax(): src must be (E,) or (E, H), got "
                         f"{tuple(src._data.shape)}")
    idx, n = _reduce_index(src, index, 0, num_nodes, "edge_softmax")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"edge_softmax(): index holds values outside [0, {n})")
    return softmax_by(src, incidence(idx, n))


def softmax_by(src, csr):
    """edge_softmax of src (E,) or (E, H) over the rows of a CSR (its eid grouping)."""
    flat = src._data.ndim == 1
    out = edge_softmax_op.apply((src.reshape(-1, 1) if flat else src,), csr)
    return out.reshape(-1) if flat else out


def _pool(x, batch, size, reduce, fn):
    check_float(x, fn, "x")
    if batch is None:
        idx = np.zeros(x._data.shape[0], np.int64)
    else:
        idx = _index_array(batch, fn, "batch")
    if idx.shape[0] != x._data.shape[0]:
        raise ValueError(f"{fn}(): batch has {idx.shape[0]} entries but x has shape "
                         f"{tuple(x._data.shape)}")
    n = int(size) if size is not None else (int(idx.max()) + 1 if idx.size else 0)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"{fn}(): batch holds values outside [0, {n})")
    return _reduce_rows(x, incidence(idx, n), reduce)


def global_add_pool(x, batch=None, size=None):
    """Sum of the node features of each graph in a batch: ``out[b] = sum x[batch == b]``
    (``batch`` None: one graph), as ``torch_geometric.nn.global_add_pool``.

    >>> import fastdl, fastdl.nn.functional as F
    >>> F.global_add_pool(fastdl.tensor([[1.0], [2.0], [4.0]]), fastdl.tensor([0, 0, 1])).tolist()
    [[3.0], [4.0]]
    """
    return _pool(x, batch, size, "sum", "global_add_pool")


def global_mean_pool(x, batch=None, size=None):
    """Mean of the node features of each graph in a batch (``torch_geometric.nn``'s).

    >>> import fastdl, fastdl.nn.functional as F
    >>> F.global_mean_pool(fastdl.tensor([[1.0], [2.0], [4.0]]), fastdl.tensor([0, 0, 1])).tolist()
    [[1.5], [4.0]]
    """
    return _pool(x, batch, size, "mean", "global_mean_pool")


def global_max_pool(x, batch=None, size=None):
    """Feature-wise maximum over the nodes of each graph in a batch (``torch_geometric.nn``'s).

    >>> import fastdl, fastdl.nn.functional as F
    >>> F.global_max_pool(fastdl.tensor([[1.0], [2.0], [4.0]]), fastdl.tensor([0, 0, 1])).tolist()
    [[2.0], [4.0]]
    """
    return _pool(x, batch, size, "max", "global_max_pool")

