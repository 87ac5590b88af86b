"""Graph neural network layers: ``GCNConv``, ``SAGEConv``, ``GATConv``.

Constructor arguments, defaults, parameter names and shapes are torch_geometric 2.8's, so a PyG
``state_dict`` loads with ``load_state_dict`` and gives the same outputs. Inputs follow PyG:
``x`` (N, F) node features, ``edge_index`` (2, E) integers, row 0 sources, row 1 targets.
Message passing runs on the graph kernels (``fastdl.nn.functional.graph``): one CSR SpMM where
PyG gathers an (E, F) message array and scatter-adds it.
"""
from __future__ import annotations

import math

import numpy as np

import fastdl
from fastdl import backend
from fastdl.nn import functional as F
from fastdl.nn import init
from fastdl.nn.functional import graph as G
from fastdl.nn.functional._graph import Graph, cached_graph
from fastdl.nn.modules.linear import Linear, _check_features, _empty
from fastdl.nn.modules.module import Module
from fastdl.tensor import Tensor, _wrap


def _glorot_(t):
    """PyG's glorot: U(-a, a), a = sqrt(6 / (size(-2) + size(-1)))."""
    if t is not None:
        a = math.sqrt(6.0 / (t.shape[-2] + t.shape[-1]))
        init.uniform_(t, -a, a)


def _edges(edge_index, num_nodes, fn):
    """(src, dst) int64 numpy arrays of a (2, E) edge_index, range-checked."""
    if isinstance(edge_index, Graph):
        return edge_index.src, edge_index.dst
    g = Graph.from_edge_index(edge_index, num_nodes, fn)
    return g.src, g.dst


def _check_kwargs(name, kwargs, aggr=None):
    """PyG's MessagePassing keyword arguments: only the defaults are supported."""
    flow = kwargs.pop("flow", "source_to_target")
    if flow != "source_to_target":
        raise ValueError(f"{name}: only flow='source_to_target' is supported, got {flow!r}")
    if aggr is not None and kwargs.get("aggr", aggr) != aggr:
        raise ValueError(f"{name}: only aggr={aggr!r} is supported, got {kwargs['aggr']!r}")
    kwargs.pop("aggr", None)
    if kwargs:
        raise TypeError(f"{name}: unsupported arguments {sorted(kwargs)}")


def _x_of(x, fn):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: x must be a fastdl.Tensor, got {type(x).__name__}")
    if x._data.ndim != 2:
        raise ValueError(f"{fn}: x must be (num_nodes, in_channels), got {tuple(x._data.shape)}")
    return x


def _loop_weights(src, dst, n, edge_weight, fill):
    """torch_geometric.utils.add_remaining_self_loops: self-loops removed, then one loop per
    node, weighted by the node's (last) existing self-loop weight or ``fill``."""
    keep = src != dst
    loops = np.arange(n, dtype=np.int64)
    src2 = np.concatenate([src[keep], loops])
    dst2 = np.concatenate([dst[keep], loops])
    if edge_weight is None:
        return src2, dst2, None
    e = src.shape[0]
    pick = np.full(n, e, np.int64)  # position e of [w, fill] is the fill value
    where_loop = np.nonzero(~keep)[0]
    pick[src[where_loop]] = where_loop  # the last one wins, as PyG's index assignment
    fill_t = fastdl.full((1,), float(fill), dtype=edge_weight.dtype)
    if not isinstance(edge_weight._data, np.ndarray):
        fill_t = fill_t.to(edge_weight.device)
    w_ext = fastdl.cat([edge_weight, fill_t])
    w2 = fastdl.cat([edge_weight[np.nonzero(keep)[0]], w_ext[pick]])
    return src2, dst2, w2


def gcn_norm(edge_index, edge_weight=None, num_nodes=None, improved=False, add_self_loops=True,
             dtype=None):
    """PyG's ``gcn_norm``: (optionally) remaining self-loops added with weight 1 (2 if
    ``improved``), then w_e / sqrt(deg(src) deg(dst)) with deg the weighted in-degree (0 where
    the degree is 0). Returns (Graph, weights (E',) Tensor).

    >>> from fastdl.nn.modules.graph import gcn_norm
    >>> g, w = gcn_norm(fastdl.tensor([[0, 1], [1, 0]]), num_nodes=2)
    >>> [round(v, 3) for v in w.tolist()]
    [0.5, 0.5, 0.5, 0.5]
    """
    src, dst = _edges(edge_index, num_nodes, "gcn_norm")
    n = num_nodes if num_nodes is not None else (int(max(src.max(), dst.max())) + 1
                                                 if src.size else 0)
    dtype = dtype or (edge_weight.dtype if edge_weight is not None else fastdl.get_default_dtype())
    fill = 2.0 if improved else 1.0
    if add_self_loops:
        src, dst, edge_weight = _loop_weights(src, dst, n, edge_weight, fill)
    graph = Graph(src, dst, n, n)
    if edge_weight is None or not edge_weight.requires_grad:
        # no gradient wanted: the degrees on the host (bincount), one pass
        w = (np.ones(src.shape[0]) if edge_weight is None
             else backend.array_module(edge_weight._data).asnumpy(edge_weight._data)
             if not isinstance(edge_weight._data, np.ndarray) else edge_weight._data)
        deg = np.bincount(dst, weights=w, minlength=n)
        with np.errstate(divide="ignore"):
            dis = np.where(deg > 0, 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0)), 0.0)
        norm = (dis[src] * w * dis[dst]).astype(np.dtype(str(dtype).replace("fastdl.", "")))
        out = _wrap(norm)
        if edge_weight is not None and not isinstance(edge_weight._data, np.ndarray):
            out = out.to(edge_weight.device)
        return graph, out
    w2 = edge_weight.reshape(-1, 1)
    deg = G.aggregate(w2, graph.by_dst.incidence())  # (n, 1)
    dis = fastdl.where(deg > 0, deg.clamp(min=1e-300) ** -0.5, fastdl.zeros_like(deg))
    norm = G.gather(dis, graph.by_src.incidence()) * w2 * G.gather(dis, graph.by_dst.incidence())
    return graph, norm.reshape(-1)


class GCNConv(Module):
    """Graph convolution (Kipf & Welling): ``out = D^-1/2 (A + I) D^-1/2 X W^T + b``, as
    ``torch_geometric.nn.GCNConv`` (same arguments; parameters ``lin.weight``
    (out_channels, in_channels) and ``bias``).

    ``edge_weight`` (E,) optional; ``add_self_loops`` adds the missing self-loops (weight 1, 2
    with ``improved``); ``normalize=False`` uses the weights as given; ``cached`` keeps the
    normalized graph of the first call (transductive learning).

    >>> conv = fastdl.nn.GCNConv(3, 4)
    >>> ei = fastdl.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    >>> conv(fastdl.ones(3, 3), ei).shape
    (3, 4)
    >>> sorted(conv.state_dict())
    ['bias', 'lin.weight']
    """

    def __init__(self, in_channels: int, out_channels: int, improved: bool = False,
                 cached: bool = False, add_self_loops=None, normalize: bool = True,
                 bias: bool = True, **kwargs):
        super().__init__()
        _check_features("GCNConv", in_channels=in_channels, out_channels=out_channels)
        if add_self_loops is None:
            add_self_loops = normalize
        if add_self_loops and not normalize:
            raise ValueError("GCNConv does not support adding self-loops to the graph when no "
                             "on-the-fly normalization is applied")
        _check_kwargs("GCNConv", kwargs, "add")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.improved, self.cached = improved, cached
        self.add_self_loops, self.normalize = add_self_loops, normalize
        self._cached = None
        self.lin = Linear(in_channels, out_channels, bias=False)
        if bias:
            self.bias = _empty((out_channels,), None, None)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        _glorot_(self.lin.weight)
        if self.bias is not None:
            init.zeros_(self.bias)
        self._cached = None

    def forward(self, x, edge_index, edge_weight=None):
        x = _x_of(x, "GCNConv")
        n = x.shape[0]
        if self.normalize:
            if self.cached and self._cached is not None:
                graph, w = self._cached
            elif edge_weight is None:  # the normalized graph depends on edge_index alone
                graph, w = cached_graph(
                    edge_index, (n, "gcn", self.improved, self.add_self_loops, str(x.dtype)),
                    lambda: gcn_norm(edge_index, None, n, self.improved, self.add_self_loops,
                                     x.dtype))
            else:
                graph, w = gcn_norm(edge_index, edge_weight, n, self.improved,
                                    self.add_self_loops, x.dtype)
            if self.cached:
                self._cached = (graph, w)
        else:
            graph = cached_graph(edge_index, (n, "plain"),
                                 lambda: Graph(*_edges(edge_index, n, "GCNConv"), n, n))
            w = edge_weight
        h = self.lin(x)
        if w is not None and type(w._data) is not type(h._data):  # host weights, device x
            w = w.to(h.device)
        out = G.aggregate(h, graph.by_dst) if w is None else G.weighted_spmm(graph.by_dst, w, h)
        if self.bias is not None:
            out = out + self.bias
        return out

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}"


class SAGEConv(Module):
    """GraphSAGE: ``out = lin_l(aggr_{j -> i} x_j) + lin_r(x_i)``, as
    ``torch_geometric.nn.SAGEConv`` (``aggr`` "mean", "sum"/"add" or "max"; ``root_weight``;
    ``normalize``: L2-normalize the output rows; ``project=True`` is not supported). Parameters
    ``lin_l.weight``, ``lin_l.bias``, ``lin_r.weight``.

    >>> conv = fastdl.nn.SAGEConv(3, 4, aggr="max")
    >>> conv(fastdl.ones(3, 3), fastdl.tensor([[0, 1, 2], [1, 2, 1]])).shape
    (3, 4)
    >>> sorted(conv.state_dict())
    ['lin_l.bias', 'lin_l.weight', 'lin_r.weight']
    """

    def __init__(self, in_channels: int, out_channels: int, aggr: str = "mean",
                 normalize: bool = False, root_weight: bool = True, project: bool = False,
                 bias: bool = True, **kwargs):
        super().__init__()
        _check_features("SAGEConv", in_channels=in_channels, out_channels=out_channels)
        if aggr == "add":
            aggr = "sum"
        if aggr not in ("mean", "sum", "max"):
            raise ValueError(f"SAGEConv: aggr must be 'mean', 'sum'/'add' or 'max', got {aggr!r}")
        if project:
            raise ValueError("SAGEConv: project=True is not supported")
        _check_kwargs("SAGEConv", kwargs)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.aggr, self.normalize, self.root_weight, self.project = aggr, normalize, root_weight, project
        self.lin_l = Linear(in_channels, out_channels, bias=bias)
        if root_weight:
            self.lin_r = Linear(in_channels, out_channels, bias=False)
        else:
            self.lin_r = None

    def forward(self, x, edge_index):
        x = _x_of(x, "SAGEConv")
        n = x.shape[0]
        graph = cached_graph(edge_index, (n, "plain"),
                             lambda: Graph(*_edges(edge_index, n, "SAGEConv"), n, n))
        if self.aggr == "max":
            msg = G.gather(x, graph.by_src.incidence())
            agg = G._reduce_rows(msg, graph.by_dst.incidence(), "max")
        else:
            agg = G.aggregate(x, graph.by_dst)
            if self.aggr == "mean":
                agg = agg * _wrap(graph.by_dst.inv_count(agg._data.dtype,
                                                         backend.array_module(agg._data)))
        out = self.lin_l(agg)
        if self.lin_r is not None:
            out = out + self.lin_r(x)
        if self.normalize:
            out = F.normalize(out, p=2.0, dim=-1)  # no NaN gradient for a zero row
        return out

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, aggr={self.aggr}"


class GATConv(Module):
    """Graph attention (Velickovic et al.), as ``torch_geometric.nn.GATConv``: per head,
    ``alpha_ij = softmax_j(leaky_relu(a_src . W x_j + a_dst . W x_i))`` over the edges into i,
    ``out_i = sum_j alpha_ij W x_j``; heads concatenated (``concat``) or averaged. Parameters
    ``lin.weight`` (heads * out_channels, in_channels), ``att_src``/``att_dst`` (1, heads,
    out_channels), ``bias``, and ``res.weight`` with ``residual``. ``dropout`` drops attention
    coefficients in training; ``add_self_loops`` replaces self-loops by one per node.
    ``edge_dim`` (edge features in the attention) is not supported.

    >>> conv = fastdl.nn.GATConv(3, 4, heads=2)
    >>> conv(fastdl.ones(3, 3), fastdl.tensor([[0, 1, 2], [1, 2, 1]])).shape
    (3, 8)
    >>> sorted(conv.state_dict())
    ['att_dst', 'att_src', 'bias', 'lin.weight']
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, add_self_loops: bool = True,
                 edge_dim=None, fill_value="mean", bias: bool = True, residual: bool = False,
                 **kwargs):
        super().__init__()
        _check_features("GATConv", in_channels=in_channels, out_channels=out_channels,
                        heads=heads)
        if edge_dim is not None:
            raise ValueError("GATConv: edge_dim (edge features) is not supported")
        _check_kwargs("GATConv", kwargs, "add")
        self.in_channels, self.out_channels, self.heads = in_channels, out_channels, heads
        self.concat, self.negative_slope, self.dropout = concat, negative_slope, dropout
        self.add_self_loops, self.edge_dim, self.fill_value = add_self_loops, edge_dim, fill_value
        self.residual = residual
        self.lin = Linear(in_channels, heads * out_channels, bias=False)
        self.att_src = _empty((1, heads, out_channels), None, None)
        self.att_dst = _empty((1, heads, out_channels), None, None)
        total = out_channels * (heads if concat else 1)
        self.res = Linear(in_channels, total, bias=False) if residual else None
        if bias:
            self.bias = _empty((total,), None, None)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        _glorot_(self.lin.weight)
        if self.res is not None:
            _glorot_(self.res.weight)
        _glorot_(self.att_src)
        _glorot_(self.att_dst)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _graph(self, edge_index, n):
        src, dst = _edges(edge_index, n, "GATConv")
        if self.add_self_loops:  # PyG: remove_self_loops, then add_self_loops
            keep = src != dst
            loops = np.arange(n, dtype=np.int64)
            src, dst = np.concatenate([src[keep], loops]), np.concatenate([dst[keep], loops])
        return Graph(src, dst, n, n)

    def forward(self, x, edge_index):
        x = _x_of(x, "GATConv")
        n = x.shape[0]
        H, C = self.heads, self.out_channels
        graph = cached_graph(edge_index, (n, "loops" if self.add_self_loops else "plain"),
                             lambda: self._graph(edge_index, n))
        h = self.lin(x).reshape(n, H, C)
        a_src = (h * self.att_src).sum(-1)  # (n, H)
        a_dst = (h * self.att_dst).sum(-1)
        by_dst = graph.by_dst
        alpha = G.gather(a_src, graph.by_src.incidence()) + G.gather(a_dst, by_dst.incidence())
        alpha = F.leaky_relu(alpha, self.negative_slope)
        alpha = G.softmax_by(alpha, by_dst)
        if self.dropout > 0 and self.training:
            alpha = F.dropout(alpha, p=self.dropout, training=True)
        out = G.weighted_spmm(by_dst, alpha, h)  # (n, H, C)
        out = out.reshape(n, H * C) if self.concat else out.mean(1)
        if self.res is not None:
            out = out + self.res(x)
        if self.bias is not None:
            out = out + self.bias
        return out

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, heads={self.heads}"


__all__ = ["GCNConv", "SAGEConv", "GATConv"]
