"""nn.SyncBatchNorm: one process behaves as torch's BatchNorm; two MPI ranks with parts of a
batch give what torch's BatchNorm gives on the whole batch; convert_sync_batchnorm.

The multi-rank checks run under ``mpirun -n 2`` as test_distributed.py's do (``run_ranks``)."""
import numpy as np
import pytest
import torch

import fastdl
from fastdl import nn
from test_distributed import run_ranks


def _t(a):
    return fastdl.tensor(np.asarray(a))


def _bn_pair(ours_cls, theirs_cls, channels, rng, **kwargs):
    ours, theirs = ours_cls(channels, dtype=fastdl.float64, **kwargs), theirs_cls(
        channels, dtype=torch.float64, **kwargs)
    for name in ("weight", "bias"):
        if getattr(ours, name) is not None:
            values = rng.standard_normal(channels)
            with fastdl.no_grad():
                getattr(ours, name).copy_(_t(values))
            with torch.no_grad():
                getattr(theirs, name).copy_(torch.tensor(values))
    return ours, theirs


_TORCH_BN = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d,
             5: torch.nn.BatchNorm3d}


@pytest.mark.parametrize("kwargs", [{}, {"momentum": None}, {"affine": False},
                                    {"track_running_stats": False}, {"bias": False}])
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 7), (2, 3, 4, 5), (2, 3, 2, 3, 2)])
def test_one_process_is_torch_batchnorm(shape, kwargs):
    rng = np.random.default_rng(len(shape))
    ours, theirs = _bn_pair(nn.SyncBatchNorm, _TORCH_BN[len(shape)], 3, rng, **kwargs)
    for step in range(3):
        if step == 2:
            ours.eval()
            theirs.eval()
        x, g = rng.standard_normal(shape), rng.standard_normal(shape)
        xo, xt = _t(x).requires_grad_(), torch.tensor(x, requires_grad=True)
        yo, yt = ours(xo), theirs(xt)
        np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-12,
                                   atol=1e-12)
        (yo * _t(g)).sum().backward()
        (yt * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        for name, p in ours.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), getattr(theirs, name).grad.numpy(),
                                       rtol=1e-10, atol=1e-12)
        for name, b in ours.named_buffers():
            np.testing.assert_allclose(b.numpy(), getattr(theirs, name).numpy(), rtol=1e-12)
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_bad_input_raises_as_torch():
    for make_input in (lambda T: T.randn(3), lambda T: T.randn(4, 0, 2),
                       lambda T: T.randn(1, 3)):
        with pytest.raises(ValueError) as ours:
            nn.SyncBatchNorm(3)(make_input(fastdl))
        with pytest.raises(ValueError) as theirs:
            torch.nn.SyncBatchNorm(3)(make_input(torch))
        assert str(ours.value).split(",")[0] == str(theirs.value).split(",")[0]
    assert tuple(nn.SyncBatchNorm(3)(fastdl.randn(0, 3)).shape) == (0, 3)
    with pytest.raises(TypeError, match="fastdl.nn.Module"):
        nn.SyncBatchNorm.convert_sync_batchnorm("not a module")


class _SmallCNN:
    @staticmethod
    def build(lib):
        n = lib.nn
        return n.Sequential(n.Conv2d(2, 4, 3, padding=1), n.BatchNorm2d(4), n.ReLU(),
                            n.Sequential(n.Conv1d(4, 3, 1), n.BatchNorm1d(3, momentum=None)),
                            n.Flatten(), n.Linear(3 * 6, 2), n.BatchNorm1d(2, affine=False))


def test_convert_sync_batchnorm_keeps_parameters_and_state_dict_keys():
    net = _SmallCNN.build(fastdl)
    bn = net[1]
    bn.eval()
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert converted is net
    for i, cls in ((1, nn.SyncBatchNorm), (3, nn.Sequential), (6, nn.SyncBatchNorm)):
        assert type(converted[i]) is cls
    assert type(converted[3][1]) is nn.SyncBatchNorm and converted[3][1].momentum is None
    assert converted[1].weight is bn.weight and converted[1].running_var is bn.running_var
    assert converted[1].training is False and converted[6].weight is None
    theirs = torch.nn.SyncBatchNorm.convert_sync_batchnorm(_SmallCNN.build(torch))
    assert list(converted.state_dict()) == list(theirs.state_dict())
    assert [type(m).__name__ for m in converted.modules()] == [
        type(m).__name__ for m in theirs.modules()]
    assert repr(converted) == repr(theirs)
    single = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm3d(5))
    assert type(single) is nn.SyncBatchNorm and single.num_features == 5


# ---- two ranks, each with part of the batch ---------------------------------------------
SPLIT = """
rng = np.random.default_rng(7)
X, G = rng.standard_normal((7, 3, 5)), rng.standard_normal((7, 3, 5))
X4, G4 = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
w, b = rng.standard_normal(3), rng.standard_normal(3)
out = {}
for case, (x, g, mine) in {
        "odd": (X, G, slice(0, 4) if rank == 0 else slice(4, 7)),
        "one value per channel on rank 1": (X4, G4, slice(0, 4) if rank == 0 else slice(4, 5)),
        "empty on rank 1": (X, G, slice(0, 7) if rank == 0 else slice(7, 7))}.items():
    channels = x.shape[1]
    bn = nn.SyncBatchNorm(channels, momentum=0.3, dtype=fastdl.float64)
    with fastdl.no_grad():
        bn.weight.copy_(fastdl.tensor(w[:channels]))
        bn.bias.copy_(fastdl.tensor(b[:channels]))
    seen = []
    for step in range(2):
        xs = fastdl.tensor(x[mine] * (step + 1)).requires_grad_()
        y = bn(xs)
        (y * fastdl.tensor(g[mine])).sum().backward()
        # an empty batch gets no gradient (None), as in torch
        seen.append({"y": y.tolist(), "x grad": [] if xs.grad is None else xs.grad.tolist(),
                     "running": [bn.running_mean.tolist(), bn.running_var.tolist()]})
    zeros = [0.0] * channels  # (an empty batch leaves them None, as in torch)
    seen.append({"w grad": zeros if bn.weight.grad is None else bn.weight.grad.tolist(),
                 "b grad": zeros if bn.bias.grad is None else bn.bias.grad.tolist(),
                 "batches": int(bn.num_batches_tracked.item())})
    bn.eval()
    seen.append(bn(fastdl.tensor(x[mine])).tolist())
    out[case] = seen
save(**out)
"""


def test_two_ranks_with_parts_of_the_batch_equal_torch_on_the_whole_batch(tmp_path):
    ranks = run_ranks(tmp_path, SPLIT)
    rng = np.random.default_rng(7)
    X, G = rng.standard_normal((7, 3, 5)), rng.standard_normal((7, 3, 5))
    X4, G4 = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    for case, (x, g, cut) in {"odd": (X, G, 4), "one value per channel on rank 1": (X4, G4, 4),
                              "empty on rank 1": (X, G, 7)}.items():
        channels = x.shape[1]
        bn = torch.nn.BatchNorm1d(channels, momentum=0.3, dtype=torch.float64)  # (its buffers)
        with torch.no_grad():
            bn.weight.copy_(torch.tensor(w[:channels]))
            bn.bias.copy_(torch.tensor(b[:channels]))
        for step in range(2):
            xt = torch.tensor(x * (step + 1), requires_grad=True)
            y = torch.nn.functional.batch_norm(xt, bn.running_mean, bn.running_var, bn.weight,
                                               bn.bias, True, 0.3, bn.eps)
            (y * torch.tensor(g)).sum().backward()
            got = [r[case][step] for r in ranks]
            for key, theirs in (("y", y), ("x grad", xt.grad)):
                whole = np.concatenate([np.asarray(got[0][key]).reshape((-1,) + x.shape[1:]),
                                        np.asarray(got[1][key]).reshape((-1,) + x.shape[1:])])
                np.testing.assert_allclose(whole, theirs.detach().numpy(), rtol=1e-9,
                                           atol=1e-11, err_msg=f"{case} step {step} {key}")
            for r in got:  # every rank's running statistics are the whole batch's
                np.testing.assert_allclose(r["running"][0], bn.running_mean.numpy(),
                                           rtol=1e-10, atol=1e-12)
                np.testing.assert_allclose(r["running"][1], bn.running_var.numpy(),
                                           rtol=1e-10)
        # each rank's weight and bias gradients are its share; DDP would sum/average them
        for key, theirs in (("w grad", bn.weight.grad), ("b grad", bn.bias.grad)):
            summed = np.add(ranks[0][case][2][key], ranks[1][case][2][key])
            np.testing.assert_allclose(summed, theirs.numpy(), rtol=1e-9, atol=1e-11)
        assert [r[case][2]["batches"] for r in ranks] == [2, 2]
        evaluated = torch.nn.functional.batch_norm(
            torch.tensor(x), bn.running_mean, bn.running_var, bn.weight, bn.bias, False,
            0.3, bn.eps).detach().numpy()
        np.testing.assert_allclose(np.asarray(ranks[0][case][3]).reshape((-1,) + x.shape[1:]),
                                   evaluated[:cut], rtol=1e-10, atol=1e-12)


DDP_CNN = """
from fastdl.nn.parallel import DistributedDataParallel
fastdl.manual_seed(3)
net = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(
    nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
    nn.Linear(4 * 9, 3), nn.BatchNorm1d(3))).double()
ddp = DistributedDataParallel(net)
rng = np.random.default_rng(5)
X = fastdl.tensor(rng.standard_normal((2, 6, 2, 3, 3)))
Y = fastdl.tensor(rng.integers(0, 3, (2, 6)))
mine = slice(3 * rank, 3 * rank + 3)
opt = fastdl.optim.SGD(ddp.parameters(), lr=0.1)
for step in range(2):
    opt.zero_grad()
    nn.functional.cross_entropy(ddp(X[step][mine]), Y[step][mine]).backward()
    opt.step()
save(state={k: v.tolist() for k, v in net.state_dict().items()})
"""


def test_ddp_training_with_sync_batchnorm_equals_torch_on_the_whole_batch(tmp_path):
    ranks = run_ranks(tmp_path, DDP_CNN)
    fastdl.manual_seed(3)  # the same initial weights as the ranks', moved into torch
    start = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.Flatten(), nn.Linear(4 * 9, 3), nn.BatchNorm1d(3)).double()
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
                              torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 9, 3),
                              torch.nn.BatchNorm1d(3)).double()
    net.load_state_dict({k: torch.tensor(v.numpy()) for k, v in start.state_dict().items()})
    rng = np.random.default_rng(5)
    X, Y = torch.tensor(rng.standard_normal((2, 6, 2, 3, 3))), torch.tensor(
        rng.integers(0, 3, (2, 6)))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for step in range(2):  # equal shares: the mean of the ranks' mean losses is the whole mean
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(X[step]), Y[step]).backward()
        opt.step()
    assert ranks[0]["state"] == ranks[1]["state"]
    assert list(ranks[0]["state"]) == list(net.state_dict())
    for key, value in net.state_dict().items():
        np.testing.assert_allclose(ranks[0]["state"][key], value.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=key)
