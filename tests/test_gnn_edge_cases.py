"""Graph layers and models against torch_geometric in the cases a fuzz found: a reused edge
buffer wrapped without a copy (the graph cache), SAGEConv's normalize on a zero row, PyG's GAT
model layout; and F.normalize, torch.save files given to fastdl.load."""
import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl import nn


def test_graph_cache_sees_new_edges_in_a_reused_buffer():
    rng = np.random.default_rng(0)
    x = fastdl.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    buffer = np.array([[0, 1, 2], [1, 2, 3]])
    conv = nn.GCNConv(3, 2)
    first = conv(x, fastdl.from_numpy(buffer)).detach().numpy()
    buffer[1] = [3, 3, 0]  # the loader refills its buffer and wraps it again without a copy
    again = conv(x, fastdl.from_numpy(buffer)).detach().numpy()
    fresh = conv(x, fastdl.tensor(buffer.copy())).detach().numpy()
    np.testing.assert_array_equal(again, fresh)
    assert not np.allclose(first, fresh)
    ei = fastdl.tensor(buffer.copy())
    sage = nn.SAGEConv(3, 2)
    sage(x, ei)
    ei.data[1, 0] = 2  # written behind fastdl's back
    np.testing.assert_array_equal(sage(x, ei).detach().numpy(),
                                  sage(x, fastdl.tensor(ei.numpy().copy())).detach().numpy())


def test_normalize_matches_torch_including_zero_rows():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    for p in (2.0, 1.0, 3.0, float("inf")):
        for dim in (0, 1, -1):
            x = rng.standard_normal((4, 5))
            x[1] = 0.0
            fx, tx = fastdl.tensor(x).requires_grad_(), torch.tensor(x, requires_grad=True)
            fo = F.normalize(fx, p=p, dim=dim)
            to = torch.nn.functional.normalize(tx, p=p, dim=dim)
            np.testing.assert_allclose(fo.detach().numpy(), to.detach().numpy(), rtol=1e-12)
            g = rng.standard_normal(x.shape)
            fo.backward(fastdl.tensor(g))
            to.backward(torch.tensor(g))
            assert np.isfinite(fx.grad.numpy()).all()
            np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-9)


def test_sage_normalize_zero_row_has_finite_gradients():
    pyg = pytest.importorskip("torch_geometric")
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = pyg.nn.SAGEConv(2, 2, normalize=True, root_weight=False, bias=False).double()
    ours = nn.SAGEConv(2, 2, normalize=True, root_weight=False, bias=False).to(dtype=np.float64)
    ours.load_state_dict(ref.state_dict())
    x = np.random.default_rng(2).standard_normal((3, 2))
    ei = np.array([[0, 1], [1, 0]])  # node 2 has no in-edges: its output row is 0
    tx = torch.tensor(x, requires_grad=True)
    fx = fastdl.tensor(x).requires_grad_()
    ref(tx, torch.tensor(ei)).sum().backward()
    ours(fx, fastdl.tensor(ei)).sum().backward()
    np.testing.assert_allclose(ours.lin_l.weight.grad.numpy(), ref.lin_l.weight.grad.numpy(),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("out_channels", [3, None])
def test_gat_model_loads_pyg_gat(out_channels):
    pyg = pytest.importorskip("torch_geometric")
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = pyg.nn.models.GAT(4, 8, num_layers=2, out_channels=out_channels, heads=2,
                            dropout=0.5).double().eval()
    ours = fastdl.models.GAT(4, 8, num_layers=2, out_channels=out_channels, heads=2,
                             dropout=0.5).to(dtype=np.float64).eval()
    ours.load_state_dict(ref.state_dict())
    assert ours.convs[0].dropout == 0.5
    x = np.random.default_rng(3).standard_normal((5, 4))
    ei = np.array([[0, 1, 2, 3, 4, 0], [1, 2, 3, 4, 0, 2]])
    with torch.no_grad():
        want = ref(torch.tensor(x), torch.tensor(ei)).numpy()
    with fastdl.no_grad():
        got = ours(fastdl.tensor(x), fastdl.tensor(ei)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_load_names_a_torch_save_file(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pth"
    torch.save(torch.nn.Linear(2, 3).state_dict(), path)
    with pytest.raises(ValueError, match="torch.save"):
        fastdl.load(str(path))
