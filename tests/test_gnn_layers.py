"""GCNConv, SAGEConv, GATConv and the global pools against torch_geometric 2.8, layer by layer:
PyG's state_dict loads into the fastdl layer (same keys and shapes), then outputs, input
gradients and weight gradients are compared on random graphs with self-loops, duplicate edges,
nodes without in-edges and isolated nodes, and on a batch of small graphs."""
import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F

torch = pytest.importorskip("torch")
pyg = pytest.importorskip("torch_geometric")
import torch_geometric.nn as gnn  # noqa: E402

TOL = dict(rtol=2e-5, atol=2e-6)


def random_graph(seed, n=23, e=70):
    """Random edges plus self-loops (one duplicated), duplicate edges, and isolated nodes."""
    r = np.random.default_rng(seed)
    src = r.integers(0, n - 3, e)
    dst = r.integers(0, n - 3, e)
    src = np.concatenate([src, [1, 2, 5, 5], src[:6]])  # self-loops 1, 2, and duplicates
    dst = np.concatenate([dst, [1, 2, 7, 7], dst[:6]])
    # nodes n-3 .. n-1: n-3 only sends, n-2 and n-1 isolated
    src = np.concatenate([src, [n - 3]])
    dst = np.concatenate([dst, [0]])
    return np.stack([src, dst]).astype(np.int64), n


def batched_graphs(seed):
    """Five small graphs (sizes 1..6) in one batch, as PyG's Batch lays them out."""
    r = np.random.default_rng(seed)
    eis, batch, off = [], [], 0
    for g, size in enumerate([3, 1, 6, 4, 5]):
        k = 2 * size
        eis.append(r.integers(0, size, (2, k)) + off)
        batch += [g] * size
        off += size
    return np.concatenate(eis, 1).astype(np.int64), off, np.array(batch, np.int64)


def load(fd, pt):
    sd = pt.state_dict()
    assert sorted(fd.state_dict()) == sorted(sd), (sorted(fd.state_dict()), sorted(sd))
    fd.load_state_dict({k: fastdl.tensor(v.detach().numpy()) for k, v in sd.items()})


def compare(fd_layer, pt_layer, x, ei, *extra, dtype=np.float32, tol=TOL):
    x = x.astype(dtype)
    if dtype == np.float64:
        pt_layer = pt_layer.double()
        fd_layer = fd_layer.to(fastdl.float64)
    load(fd_layer, pt_layer)
    xt = torch.tensor(x, requires_grad=True)
    xf = fastdl.tensor(x, requires_grad=True)
    ex_t = [torch.tensor(e) if e is not None else None for e in extra]
    ex_f = [fastdl.tensor(e) if e is not None else None for e in extra]
    yt = pt_layer(xt, torch.tensor(ei), *ex_t)
    yf = fd_layer(xf, fastdl.tensor(ei), *ex_f)
    np.testing.assert_allclose(yf.detach().numpy(), yt.detach().numpy(), **tol)
    g = np.random.default_rng(1).standard_normal(yt.shape).astype(dtype)
    yt.backward(torch.tensor(g))
    (yf * fastdl.tensor(g)).sum().backward()
    np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), **tol)
    pt_params = dict(pt_layer.named_parameters())
    for name, p in fd_layer.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), pt_params[name].grad.numpy(), **tol,
                                   err_msg=name)


@pytest.mark.parametrize("kw", [dict(), dict(improved=True), dict(add_self_loops=False),
                                dict(normalize=False), dict(bias=False)])
def test_gcn_matches_pyg(kw):
    ei, n = random_graph(0)
    x = np.random.default_rng(2).standard_normal((n, 5))
    torch.manual_seed(0)
    compare(fastdl.nn.GCNConv(5, 7, **kw), gnn.GCNConv(5, 7, **kw), x, ei)


def test_gcn_edge_weight_float64_and_cached():
    ei, n = random_graph(3)
    r = np.random.default_rng(4)
    x = r.standard_normal((n, 4))
    w = r.uniform(0.2, 2.0, ei.shape[1])
    compare(fastdl.nn.GCNConv(4, 3), gnn.GCNConv(4, 3), x, ei, w, dtype=np.float64,
            tol=dict(rtol=1e-10, atol=1e-12))
    conv = fastdl.nn.GCNConv(4, 3, cached=True)
    a = conv(fastdl.tensor(x.astype(np.float32)), fastdl.tensor(ei))
    b = conv(fastdl.tensor(x.astype(np.float32)), fastdl.tensor(ei[:, :5]))  # cache wins
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_gcn_edge_weight_gradient():
    """edge_weight that requires grad takes the differentiable normalization path. A node with
    two self-loops is left out: PyG keeps one loop's weight (index assignment) but torch's
    index_put backward sends the gradient to every duplicate; fastdl gives it to the loop whose
    weight is used (the true derivative)."""
    ei, n = random_graph(5)
    loops = ei[0] == ei[1]
    keep = ~loops
    keep[np.nonzero(loops)[0][np.unique(ei[0][loops], return_index=True)[1]]] = True
    ei = ei[:, keep]
    r = np.random.default_rng(6)
    x, w = r.standard_normal((n, 3)), r.uniform(0.2, 2.0, ei.shape[1])
    pt, fd = gnn.GCNConv(3, 2).double(), fastdl.nn.GCNConv(3, 2).to(fastdl.float64)
    load(fd, pt)
    wt, wf = torch.tensor(w, requires_grad=True), fastdl.tensor(w, requires_grad=True)
    pt(torch.tensor(x), torch.tensor(ei), wt).square().sum().backward()
    fd(fastdl.tensor(x), fastdl.tensor(ei), wf).square().sum().backward()
    np.testing.assert_allclose(wf.grad.numpy(), wt.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kw", [dict(), dict(aggr="max"), dict(aggr="sum"),
                                dict(root_weight=False), dict(normalize=True),
                                dict(bias=False, aggr="add")])
def test_sage_matches_pyg(kw):
    ei, n = random_graph(7)
    x = np.random.default_rng(8).standard_normal((n, 6))
    torch.manual_seed(1)
    compare(fastdl.nn.SAGEConv(6, 4, **kw), gnn.SAGEConv(6, 4, **kw), x, ei)


@pytest.mark.parametrize("kw", [dict(), dict(heads=3), dict(heads=2, concat=False),
                                dict(heads=2, add_self_loops=False, negative_slope=0.1),
                                dict(heads=2, residual=True, bias=False)])
def test_gat_matches_pyg(kw):
    ei, n = random_graph(9)
    x = np.random.default_rng(10).standard_normal((n, 5))
    torch.manual_seed(2)
    compare(fastdl.nn.GATConv(5, 4, **kw), gnn.GATConv(5, 4, **kw), x, ei)


def test_gat_float64():
    ei, n = random_graph(11)
    x = np.random.default_rng(12).standard_normal((n, 3))
    compare(fastdl.nn.GATConv(3, 2, heads=2), gnn.GATConv(3, 2, heads=2), x, ei,
            dtype=np.float64, tol=dict(rtol=1e-10, atol=1e-12))


def test_gat_attention_dropout():
    """Dropout on the attention coefficients: eval is deterministic and equals PyG's, training
    drops (some outputs change), p=1 leaves only the bias."""
    ei, n = random_graph(13)
    x = fastdl.tensor(np.random.default_rng(14).standard_normal((n, 3)).astype(np.float32))
    conv = fastdl.nn.GATConv(3, 2, heads=2, dropout=0.5)
    pt = gnn.GATConv(3, 2, heads=2, dropout=0.5)
    load(conv, pt)
    conv.eval(), pt.eval()
    np.testing.assert_allclose(conv(x, fastdl.tensor(ei)).detach().numpy(),
                               pt(torch.tensor(x.numpy()), torch.tensor(ei)).detach().numpy(),
                               **TOL)
    conv.train()
    fastdl.manual_seed(0)
    assert not np.allclose(conv(x, fastdl.tensor(ei)).detach().numpy(), conv.eval()(x, fastdl.tensor(ei)).detach().numpy())
    conv.dropout = 1.0
    conv.train()
    np.testing.assert_allclose(conv(x, fastdl.tensor(ei)).detach().numpy(),
                               np.broadcast_to(conv.bias.detach().numpy(), (n, 4)))


def test_batched_graphs_and_global_pools():
    ei, n, batch = batched_graphs(15)
    r = np.random.default_rng(16)
    x = r.standard_normal((n, 4)).astype(np.float32)
    torch.manual_seed(3)
    compare(fastdl.nn.GCNConv(4, 3), gnn.GCNConv(4, 3), x, ei)
    compare(fastdl.nn.GATConv(4, 3, heads=2), gnn.GATConv(4, 3, heads=2), x, ei)
    xt = torch.tensor(x, requires_grad=True)
    xf = fastdl.tensor(x, requires_grad=True)
    for name in ("global_add_pool", "global_mean_pool", "global_max_pool"):
        yt = getattr(gnn, name)(xt, torch.tensor(batch))
        yf = getattr(fastdl.nn, name)(xf, fastdl.tensor(batch))
        np.testing.assert_allclose(yf.detach().numpy(), yt.detach().numpy(), **TOL)
        yt.sum().backward()
        yf.sum().backward()
        np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), **TOL)
    assert F.global_add_pool(xf).shape == (1, 4)
    assert F.global_mean_pool(xf, fastdl.tensor(batch), size=7).shape == (7, 4)


def test_bad_inputs_raise_clearly():
    conv = fastdl.nn.GCNConv(3, 2)
    x = fastdl.ones(4, 3)
    with pytest.raises(ValueError, match="outside"):
        conv(x, fastdl.tensor([[0, 9], [1, 2]]))
    with pytest.raises(ValueError, match=r"\(2, E\)"):
        conv(x, fastdl.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="integer"):
        conv(x, fastdl.tensor([[0.0, 1.0], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="num_nodes, in_channels"):
        conv(fastdl.ones(4), fastdl.tensor([[0], [1]]))
    with pytest.raises(ValueError, match="index"):
        F.scatter(fastdl.ones(3, 2), fastdl.tensor([0, 1]))
    with pytest.raises(ValueError, match="reduce"):
        F.scatter(fastdl.ones(2, 2), fastdl.tensor([0, 1]), reduce="prod")
    with pytest.raises(ValueError, match="edge_weight"):
        F.spmm(fastdl.tensor([[0, 1], [1, 0]]), fastdl.ones(2, 3), fastdl.ones(3))
    with pytest.raises(ValueError, match="edge_dim"):
        fastdl.nn.GATConv(3, 2, edge_dim=4)
    with pytest.raises(ValueError, match="flow"):
        fastdl.nn.GCNConv(3, 2, flow="target_to_source")
    with pytest.raises(TypeError, match="unsupported"):
        fastdl.nn.SAGEConv(3, 2, node_dim=1)


def test_empty_graph():
    x = fastdl.ones(3, 2, requires_grad=True)
    ei = fastdl.tensor(np.zeros((2, 0), np.int64))
    out = fastdl.nn.SAGEConv(2, 2, aggr="max")(x, ei)
    out.sum().backward()
    assert out.shape == (3, 2) and x.grad.shape == (3, 2)
    assert F.spmm(ei, x).tolist() == [[0.0, 0.0]] * 3


def test_graph_cache_follows_in_place_edits():
    """Layers reuse the CSR built for an edge_index tensor; an in-place edit through fastdl
    (version bump) or a new tensor rebuilds it."""
    ei_np, n = random_graph(17)
    x = fastdl.tensor(np.random.default_rng(18).standard_normal((n, 3)).astype(np.float32))
    for conv in (fastdl.nn.GCNConv(3, 2), fastdl.nn.SAGEConv(3, 2), fastdl.nn.GATConv(3, 2)):
        ei = fastdl.tensor(ei_np.copy())
        first = conv(x, ei).detach().numpy()
        np.testing.assert_array_equal(conv(x, ei).detach().numpy(), first)
        ei[1, :10] = 0
        edited = ei_np.copy()
        edited[1, :10] = 0
        np.testing.assert_allclose(conv(x, ei).detach().numpy(),
                                   conv(x, fastdl.tensor(edited)).detach().numpy(), rtol=1e-6)
        assert not np.allclose(conv(x, ei).detach().numpy(), first)
