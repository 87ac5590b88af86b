"""Graph neural networks from ``fastdl.nn``'s graph layers: node classifiers ``GCN``,
``GraphSAGE``, ``GAT`` (the layout of torch_geometric's ``BasicGNN`` models: a ``convs`` list,
ReLU and dropout between layers) and ``GraphClassifier`` (convolutions, a global pooling per
graph of a batch, a linear head)."""
from __future__ import annotations

from fastdl import nn
from fastdl.nn import functional as F


class _NodeModel(nn.Module):
    def __init__(self, in_channels, hidden_channels, num_layers, out_channels, dropout, make):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"{type(self).__name__}: num_layers must be >= 1, got {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{type(self).__name__}: dropout must be in [0, 1), got {dropout}")
        out_channels = hidden_channels if out_channels is None else out_channels
        self.dropout = dropout
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.convs = nn.ModuleList([make(sizes[i], sizes[i + 1], i == num_layers - 1)
                                    for i in range(num_layers)])

    def forward(self, x, edge_index):
        for i, conv in enumerate(self.convs):
            if i:
                x = F.dropout(F.relu(x), self.dropout, self.training)
            x = conv(x, edge_index)
        return x


class GCN(_NodeModel):
    """Stacked ``GCNConv`` layers (ReLU and dropout between them): node logits (N, out).

    >>> model = fastdl.models.GCN(4, 8, num_layers=2, out_channels=3)
    >>> ei = fastdl.tensor([[0, 1, 2], [1, 2, 0]])
    >>> model(fastdl.ones(3, 4), ei).shape
    (3, 3)
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 2,
                 out_channels=None, dropout: float = 0.5, **conv_kwargs):
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, dropout,
                         lambda i, o, last: nn.GCNConv(i, o, **conv_kwargs))


class GraphSAGE(_NodeModel):
    """Stacked ``SAGEConv`` layers (``aggr`` "mean", "sum" or "max").

    >>> model = fastdl.models.GraphSAGE(4, 8, num_layers=2, out_channels=3, aggr="max")
    >>> model(fastdl.ones(3, 4), fastdl.tensor([[0, 1, 2], [1, 2, 0]])).shape
    (3, 3)
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 2,
                 out_channels=None, dropout: float = 0.5, aggr: str = "mean", **conv_kwargs):
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, dropout,
                         lambda i, o, last: nn.SAGEConv(i, o, aggr=aggr, **conv_kwargs))


class GAT(_NodeModel):
    """Stacked ``GATConv`` layers as torch_geometric's ``GAT`` model (its state dicts load):
    every layer has ``heads`` heads and attention dropout ``dropout``; a layer's heads are
    concatenated (each hidden/heads channels wide), except the last one's when
    ``out_channels`` is given, which averages its heads of out_channels each.

    >>> model = fastdl.models.GAT(4, 8, num_layers=2, out_channels=3, heads=2)
    >>> model(fastdl.ones(3, 4), fastdl.tensor([[0, 1, 2], [1, 2, 0]])).shape
    (3, 3)
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 2,
                 out_channels=None, dropout: float = 0.5, heads: int = 1, **conv_kwargs):
        concat_hidden = conv_kwargs.pop("concat", True)
        if concat_hidden and hidden_channels % heads:
            raise ValueError(f"GAT: hidden_channels ({hidden_channels}) must be divisible by "
                             f"heads ({heads})")
        to_out = out_channels is not None

        def make(i, o, last):
            concat = concat_hidden and not (last and to_out)
            if concat and o % heads:
                raise ValueError(f"GAT: out_channels ({o}) must be divisible by heads ({heads})")
            return nn.GATConv(i, o // heads if concat else o, heads=heads, concat=concat,
                              dropout=dropout, **conv_kwargs)
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, dropout, make)


_CONVS = {"gcn": lambda i, o: nn.GCNConv(i, o), "sage": lambda i, o: nn.SAGEConv(i, o),
          "gat": lambda i, o: nn.GATConv(i, o)}
_POOLS = {"mean": F.global_mean_pool, "max": F.global_max_pool, "add": F.global_add_pool,
          "sum": F.global_add_pool}


class GraphClassifier(nn.Module):
    """Graph classification: ``num_layers`` convolutions (``conv`` "gcn", "sage" or "gat") with
    ReLU, a global pooling per graph (``pool`` "mean", "max" or "add") over ``batch`` (the graph
    of each node), then a linear head: logits (num_graphs, num_classes).

    >>> model = fastdl.models.GraphClassifier(2, 8, 2, conv="sage", pool="max")
    >>> ei = fastdl.tensor([[0, 1, 2, 3], [1, 0, 3, 2]])
    >>> model(fastdl.ones(4, 2), ei, fastdl.tensor([0, 0, 1, 1])).shape
    (2, 2)
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_classes: int,
                 num_layers: int = 3, conv: str = "gcn", pool: str = "mean",
                 dropout: float = 0.0):
        super().__init__()
        if conv not in _CONVS:
            raise ValueError(f"GraphClassifier: conv must be one of {sorted(_CONVS)}, got {conv!r}")
        if pool not in _POOLS:
            raise ValueError(f"GraphClassifier: pool must be one of {sorted(_POOLS)}, got {pool!r}")
        self.pool, self.dropout = pool, dropout
        sizes = [in_channels] + [hidden_channels] * num_layers
        self.convs = nn.ModuleList([_CONVS[conv](sizes[i], sizes[i + 1])
                                    for i in range(num_layers)])
        self.head = nn.Linear(hidden_channels, num_classes)

    def forward(self, x, edge_index, batch=None, num_graphs=None):
        for conv in self.convs:
            x = F.relu(conv(x, edge_index))
        x = _POOLS[self.pool](x, batch, num_graphs)
        return self.head(F.dropout(x, self.dropout, self.training))


__all__ = ["GAT", "GCN", "GraphClassifier", "GraphSAGE"]
