"""Small generated graph datasets for the GNN examples and tests (no download): a stochastic
block model (node classification), cycles vs trees (graph classification), and Zachary's karate
club (from networkx, an optional extra). Arrays are numpy; ``edge_index`` is (2, E) int64 with
both directions of every undirected edge (PyG's convention)."""
from __future__ import annotations

import numpy as np


def _undirected(pairs):
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return np.concatenate([pairs.T, pairs[:, ::-1].T], axis=1)


def stochastic_block_model(sizes=(60, 60, 60), p_in=0.12, p_out=0.01, num_features=16,
                           signal=0.4, seed=0):
    """Nodes in ``len(sizes)`` communities; each pair is linked with probability ``p_in``
    inside a community and ``p_out`` across. Features: a weak class signal (``signal`` times a
    per-class random direction) plus unit Gaussian noise, so a model that ignores the graph
    does poorly and one that averages neighbours does well. Returns (x float32 (N, F),
    edge_index (2, E), y int64 (N,)).

    >>> from fastdl.data.graphs import stochastic_block_model
    >>> x, ei, y = stochastic_block_model((5, 5), p_in=1.0, p_out=0.0, num_features=3)
    >>> x.shape, ei.shape, y.tolist()
    ((10, 3), (2, 40), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    """
    r = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(sizes)), sizes).astype(np.int64)
    n = y.size
    iu, ju = np.triu_indices(n, 1)
    p = np.where(y[iu] == y[ju], p_in, p_out)
    keep = r.random(p.size) < p
    ei = _undirected(np.stack([iu[keep], ju[keep]], 1))
    directions = r.standard_normal((len(sizes), num_features))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    x = signal * directions[y] * np.sqrt(num_features) / 2 + r.standard_normal((n, num_features))
    return x.astype(np.float32), ei, y


def _random_tree(n, r):
    return [(k, int(r.integers(0, k))) for k in range(1, n)]


def cycles_and_trees(num_graphs=40, min_nodes=5, max_nodes=12, seed=0):
    """A batch of graphs, half cycles (label 1) and half random trees (label 0) of the same
    sizes, with constant node features: only the structure tells them apart. Returns
    (x float32 (N, 1), edge_index (2, E), batch int64 (N,), y int64 (num_graphs,)).

    >>> from fastdl.data.graphs import cycles_and_trees
    >>> x, ei, batch, y = cycles_and_trees(4, 3, 3)
    >>> x.shape, ei.shape, batch.tolist(), sorted(y.tolist())
    ((12, 1), (2, 20), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3], [0, 0, 1, 1])
    """
    r = np.random.default_rng(seed)
    eis, batch, labels, offset = [], [], [], 0
    for g in range(num_graphs):
        n = int(r.integers(min_nodes, max_nodes + 1))
        cycle = g % 2 == 1
        pairs = [(k, (k + 1) % n) for k in range(n)] if cycle else _random_tree(n, r)
        eis.append(_undirected(pairs) + offset)
        batch += [g] * n
        labels.append(int(cycle))
        offset += n
    order = r.permutation(num_graphs)  # shuffle graph order, keep node blocks contiguous
    labels = np.array(labels, np.int64)
    sizes = np.bincount(batch)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    new_start = np.zeros(num_graphs, np.int64)
    new_start[order] = np.concatenate([[0], np.cumsum(sizes[order])[:-1]])
    node_graph = np.array(batch, np.int64)
    node_map = new_start[node_graph] + (np.arange(offset) - starts[node_graph])
    ei = node_map[np.concatenate(eis, axis=1)]
    rank = np.empty(num_graphs, np.int64)
    rank[order] = np.arange(num_graphs)
    new_batch = np.empty(offset, np.int64)
    new_batch[node_map] = rank[node_graph]
    return np.ones((offset, 1), np.float32), ei, new_batch, labels[order]


def karate_club():
    """Zachary's karate club (34 members, 78 friendships; networkx's copy): features the
    identity (one-hot node ids), labels the club each member joined (0: Mr. Hi, 1: Officer).
    Needs networkx (``pip install fastdl[examples]``). Returns (x, edge_index, y).

    >>> from fastdl.data.graphs import karate_club
    >>> x, ei, y = karate_club()
    >>> x.shape, ei.shape, int(y.sum())
    ((34, 34), (2, 156), 17)
    """
    import networkx as nx
    g = nx.karate_club_graph()
    ei = _undirected(list(g.edges()))
    y = np.array([0 if g.nodes[i]["club"] == "Mr. Hi" else 1 for i in range(34)], np.int64)
    return np.eye(34, dtype=np.float32), ei, y


__all__ = ["cycles_and_trees", "karate_club", "stochastic_block_model"]
