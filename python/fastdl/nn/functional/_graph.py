"""Edge lists grouped by node for the graph kernels (``fastdl.nn.functional.graph``).

A ``CSR`` holds the edges of a graph grouped by one endpoint ("rows"): ``rowptr`` (n_rows + 1),
``col`` (the other endpoint of each position), ``eid`` (each position's edge id, which indexes
per-edge arrays in the caller's order: they are never permuted) and ``index`` (the row of each
edge, in edge order). ``t`` is the same edges grouped by the other endpoint, built on first use
and linked both ways, so a backward that needs the transpose pays the sort once.

Built by ``_C.csr_from_index`` (a stable counting sort, O(E + n), which also range-checks the
indices) on the host; for cupy inputs the arrays are copied to the device once and kept.
"""
from __future__ import annotations

import numpy as np

from fastdl import _C, backend


def _host(a):
    return a if type(a) is np.ndarray else backend.array_module(a).asnumpy(a)


class CSR:
    __slots__ = ("index", "other", "n_rows", "n_cols", "rowptr", "col", "eid", "identity",
                 "_t", "_dev", "_inv_count", "_inc")

    def __init__(self, index, other, n_rows, n_cols, identity=False):
        self.index = np.ascontiguousarray(index, dtype=np.int64)
        self.other = other  # None: "incidence" CSR, whose columns are the edges themselves
        self.n_rows, self.n_cols = int(n_rows), int(n_cols)
        self.identity = identity  # one row per edge, row e = edge e (a gather)
        self._t = None
        self._dev = None
        self._inv_count = {}
        self._inc = None
        e = self.index.shape[0]
        if identity:
            self.rowptr = np.arange(e + 1, dtype=np.int64)
            self.eid = np.arange(e, dtype=np.int64)
        else:
            self.rowptr = np.empty(self.n_rows + 1, np.int64)
            self.eid = np.empty(e, np.int64)
            _C.csr_from_index(self.index, self.rowptr, self.eid)
        if other is None:
            self.col = self.eid
        else:
            self.col = np.take(np.asarray(other, dtype=np.int64), self.eid)

    @property
    def n_edges(self):
        return self.index.shape[0]

    @property
    def t(self):
        """The transpose: the same edges grouped by the other endpoint."""
        if self._t is None:
            if self.other is None:  # incidence: rows = edges, col = index
                t = CSR.__new__(CSR)
                t.index = np.arange(self.n_edges, dtype=np.int64)
                t.other, t.n_rows, t.n_cols, t.identity = self.index, self.n_edges, self.n_rows, True
                t.rowptr = np.arange(self.n_edges + 1, dtype=np.int64)
                t.eid = t.index
                t.col = self.index
                t._dev, t._inv_count, t._inc = None, {}, None
            else:
                t = CSR(self.other, self.index, self.n_cols, self.n_rows)
            t._t = self
            self._t = t
        return self._t

    def degree(self):
        return np.diff(self.rowptr)

    def inv_count(self, dtype, xp=np):
        """1 / max(row size, 1) as an (n_rows, 1) array of ``dtype`` (a mean's scale)."""
        key = (np.dtype(dtype).str, xp.__name__)
        if key not in self._inv_count:
            c = (1.0 / np.maximum(self.degree(), 1)).astype(dtype)[:, None]
            self._inv_count[key] = c if xp is np else xp.asarray(c)
        return self._inv_count[key]

    def arrays(self, xp):
        """(rowptr, col, eid, index) as arrays of module ``xp`` (numpy or cupy)."""
        host = (self.rowptr, self.col, self.eid, self.index)
        if xp is np:
            return host
        if self._dev is None:
            self._dev = tuple(xp.asarray(a) for a in host)
        return self._dev

    def incidence(self):
        """The incidence CSR of the same grouping (rows as here, columns = the edges)."""
        if self._inc is None:
            self._inc = incidence(self.index, self.n_rows, self.rowptr, self.eid)
        return self._inc

    def __repr__(self):
        return f"CSR(rows={self.n_rows}, cols={self.n_cols}, edges={self.n_edges})"


def incidence(index, n_rows, rowptr=None, perm=None):
    """Rows = ``index`` values, columns = the edges: aggregating an (E, F) edge array over it is
    a scatter-sum; its transpose is a gather of node rows to edges."""
    c = CSR.__new__(CSR)
    c.index = np.ascontiguousarray(index, dtype=np.int64)
    c.other, c.n_rows, c.n_cols, c.identity = None, int(n_rows), c.index.shape[0], False
    c._t, c._dev, c._inv_count, c._inc = None, None, {}, c
    if rowptr is None:
        c.rowptr = np.empty(c.n_rows + 1, np.int64)
        c.eid = np.empty(c.n_cols, np.int64)
        _C.csr_from_index(c.index, c.rowptr, c.eid)
    else:
        c.rowptr, c.eid = rowptr, perm
    c.col = c.eid
    return c


class Graph:
    """A directed graph's edges ``src[e] -> dst[e]`` with its CSRs built on first use:
    ``by_dst`` (rows = destinations, the message-passing aggregation), ``by_src`` its transpose,
    and the incidence CSRs ``scatter_dst`` / ``gather_src`` / ``gather_dst``."""

    __slots__ = ("src", "dst", "n_src", "n_dst", "_by_dst", "_inc")

    def __init__(self, src, dst, n_src, n_dst):
        self.src = np.ascontiguousarray(_host(src), dtype=np.int64)
        self.dst = np.ascontiguousarray(_host(dst), dtype=np.int64)
        self.n_src, self.n_dst = int(n_src), int(n_dst)
        self._by_dst = None
        self._inc = {}

    @classmethod
    def from_edge_index(cls, edge_index, num_nodes=None, what="graph"):
        """From a (2, E) integer array or Tensor (PyG's convention: row 0 sources, row 1
        targets); ``num_nodes`` defaults to max index + 1."""
        ei = getattr(edge_index, "_data", edge_index)
        ei = _host(np.asarray(ei) if not hasattr(ei, "shape") else ei)
        if ei.ndim != 2 or ei.shape[0] != 2:
            raise ValueError(f"{what}: edge_index must have shape (2, E), got {tuple(ei.shape)}")
        if ei.dtype.kind not in "iu":
            raise TypeError(f"{what}: edge_index must be an integer tensor, got {ei.dtype}")
        if num_nodes is None:
            num_nodes = int(ei.max()) + 1 if ei.size else 0
        if ei.size and (ei.min() < 0 or ei.max() >= num_nodes):
            raise ValueError(f"{what}: edge_index holds node {int(ei.min() if ei.min() < 0 else ei.max())}, "
                             f"outside [0, {num_nodes})")
        return cls(ei[0], ei[1], num_nodes, num_nodes)

    @property
    def n_edges(self):
        return self.src.shape[0]

    @property
    def by_dst(self):
        if self._by_dst is None:
            self._by_dst = CSR(self.dst, self.src, self.n_dst, self.n_src)
        return self._by_dst

    @property
    def by_src(self):
        return self.by_dst.t

    def scatter_dst(self):
        """Incidence CSR rows = destinations (edge arrays -> node sums); shares by_dst's sort."""
        if "dst" not in self._inc:
            b = self.by_dst
            self._inc["dst"] = incidence(self.dst, self.n_dst, b.rowptr, b.eid)
        return self._inc["dst"]

    def scatter_src(self):
        if "src" not in self._inc:
            b = self.by_src
            self._inc["src"] = incidence(self.src, self.n_src, b.rowptr, b.eid)
        return self._inc["src"]

    def __repr__(self):
        return f"Graph(nodes={self.n_src}, edges={self.n_edges})"


# ---- a small cache of the graphs built from edge_index tensors --------------------------------
# A training loop passes the same edge_index every step; sorting its 1M edges into CSRs costs
# tens of ms. Entries are keyed by the tensor's array object (held weakly, so a freed array's id
# is never confused with a new one) and hold a copy of the edges they were built from: a hit
# compares the contents (O(E), far below building or using the graph), because the array's
# identity and version counter do not say the edges are the same -- a loader may refill one
# numpy buffer each batch and wrap it without a copy (fastdl.from_numpy), or write into
# ``.data`` directly.
_CACHE: dict = {}
_CACHE_SIZE = 8


def cached_graph(edge_index, key, build):
    """``build()``'s Graph for this edge_index Tensor and ``key`` (node count, self-loop
    variant), reused while the tensor's array is alive and holds the same edges."""
    import weakref

    from fastdl import backend
    data = getattr(edge_index, "_data", None)
    if data is None:
        return build()
    xp = backend.array_module(data)
    k = (id(data), key)
    hit = _CACHE.get(k)
    if (hit is not None and hit[0]() is data and hit[1].shape == data.shape
            and bool(xp.array_equal(hit[1], data))):
        return hit[2]
    graph = build()
    try:
        ref = weakref.ref(data)
    except TypeError:
        return graph
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[k] = (ref, data.copy(), graph)
    return graph
