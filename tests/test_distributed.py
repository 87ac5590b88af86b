"""fastdl.distributed, nn.parallel.DistributedDataParallel and data.DistributedSampler.

The MPI checks run small scripts under ``mpirun -n 2`` (the mpirun of the venv that runs the
tests, as the ``test`` extra installs mpi4py and the mpich wheel); each rank writes what it saw
to a JSON file, and the test compares that with values computed here in one process."""
import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl import distributed as dist
from fastdl.data import DistributedSampler

WORLD = 2


def _mpirun():
    beside_python = pathlib.Path(sys.executable).parent / "mpirun"
    return str(beside_python) if beside_python.exists() else shutil.which("mpirun")


def launch(*args):
    """``mpirun -n WORLD python *args`` with this process's fastdl; fails on a nonzero exit."""
    mpirun = _mpirun()
    if mpirun is None or importlib.util.find_spec("mpi4py") is None:
        pytest.skip('needs mpi4py and an mpirun (pip install ".[test]" installs both)')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([mpirun, "-n", str(WORLD), sys.executable, *map(str, args)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


def run_ranks(tmp_path, body):
    """Run ``body`` on WORLD ranks (it sees ``dist``, ``rank``, ``fastdl``, ``np`` and
    ``save(**values)``); returns each rank's saved values."""
    script = tmp_path / "ranks.py"
    script.write_text(textwrap.dedent("""
        import json, sys
        import numpy as np
        import fastdl
        from fastdl import distributed as dist, nn
        dist.init_process_group("mpi")
        rank = dist.get_rank()
        def save(**values):
            with open(f"{sys.argv[1]}/rank{rank}.json", "w") as f:
                json.dump(values, f)
    """) + textwrap.dedent(body))
    launch(script, tmp_path)
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD)]


COLLECTIVES = """
out = {}
for name in ("float32", "float64", "int64"):
    dt = getattr(fastdl, name)
    def start():  # rank r holds [r + 1, 2r + 3, -r]
        return fastdl.tensor([rank + 1, 2 * rank + 3, -rank], dtype=dt)
    for op in ("SUM", "MAX", "MIN", "PRODUCT") + (("AVG",) if name != "int64" else ()):
        t = start()
        dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
        out[f"{name} all_reduce {op}"] = [t.tolist(), str(t.dtype)]
    t = start()
    dist.broadcast(t, src=1)
    out[f"{name} broadcast"] = t.tolist()
    parts = [fastdl.zeros(3, dtype=dt) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, start())
    out[f"{name} all_gather"] = [p.tolist() for p in parts]
    whole = fastdl.zeros(6, dtype=dt)
    dist.all_gather_into_tensor(whole, start())
    out[f"{name} all_gather_into_tensor"] = whole.tolist()
    mine = fastdl.zeros(2, dtype=dt)
    dist.reduce_scatter_tensor(mine, fastdl.arange(4, dtype=dt) * (rank + 1))
    out[f"{name} reduce_scatter_tensor"] = mine.tolist()
t = fastdl.tensor([rank + 1.0, 4.0])
out["reduce"] = [dist.reduce(t, dst=1, op=dist.ReduceOp.AVG) is None, t.tolist()]
flags = fastdl.tensor([1 << rank, 3])
work = dist.all_reduce(flags, op=dist.ReduceOp.BOR, async_op=True)
out["async BOR"] = [work.wait(), flags.tolist()]
view = fastdl.arange(6.0).reshape(2, 3).t()  # a strided view: written back through its base
dist.all_reduce(view)
out["strided view"] = view.tolist()
gathered = [fastdl.zeros(1) for _ in range(2)] if rank == 0 else None
dist.gather(fastdl.tensor([10.0 * rank]), gathered, dst=0)
out["gather"] = gathered and [g.tolist() for g in gathered]
received = fastdl.zeros(2)
dist.scatter(received, [fastdl.tensor([1.0, 2]), fastdl.tensor([3.0, 4])] if rank == 1 else None,
             src=1)
out["scatter"] = received.tolist()
out["sampler"] = list(fastdl.data.DistributedSampler(range(7), shuffle=False))
try:
    dist.init_process_group("mpi")
except ValueError as error:
    out["second init"] = str(error)
dist.barrier()
dist.destroy_process_group()
out["after destroy"] = dist.is_initialized()
save(**out)
"""


def test_collectives_on_two_ranks(tmp_path):
    ranks = run_ranks(tmp_path, COLLECTIVES)
    start = np.array([[1, 3, 0], [2, 5, -1]])  # rank r's tensor, row r
    for name in ("float32", "float64", "int64"):
        for out in ranks:
            for op, expected in (("SUM", start.sum(0)), ("MAX", start.max(0)),
                                 ("MIN", start.min(0)), ("PRODUCT", start.prod(0))):
                assert out[f"{name} all_reduce {op}"] == [expected.tolist(), name]
            if name != "int64":
                assert out[f"{name} all_reduce AVG"][0] == start.mean(0).tolist()
            assert out[f"{name} broadcast"] == start[1].tolist()
            assert out[f"{name} all_gather"] == start.tolist()
            assert out[f"{name} all_gather_into_tensor"] == start.ravel().tolist()
        summed = np.arange(4) * 1 + np.arange(4) * 2
        assert [out[f"{name} reduce_scatter_tensor"] for out in ranks] == [
            summed[:2].tolist(), summed[2:].tolist()]
    for out in ranks:
        assert out["strided view"] == (np.arange(6.0).reshape(2, 3).T * 2).tolist()
        assert "twice" in out["second init"] and out["after destroy"] is False
    assert [out["reduce"] for out in ranks] == [[True, [1.0, 4.0]], [True, [1.5, 4.0]]]
    assert all(out["async BOR"] == [True, [3, 3]] for out in ranks)
    assert ranks[0]["gather"] == [[0.0], [10.0]] and ranks[1]["gather"] is None
    assert [out["scatter"] for out in ranks] == [[1.0, 2.0], [3.0, 4.0]]
    # the sampler takes world size and rank from the process group when not given them
    assert [out["sampler"] for out in ranks] == [[0, 2, 4, 6], [1, 3, 5, 0]]


DDP_TRAINING = """
from fastdl.nn.parallel import DistributedDataParallel
def make_model(seed):
    fastdl.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()
rng = np.random.default_rng(1)
X = fastdl.tensor(rng.standard_normal((4, 6, 5)))  # per step: a global batch of 6, 3 a rank
Y = fastdl.tensor(rng.integers(0, 3, (4, 6)))
mine = slice(3 * rank, 3 * rank + 3)
model = make_model(seed=rank)  # the ranks start apart: DDP must hand out rank 0's weights
ddp = DistributedDataParallel(model)
out = {"start": [p.tolist() for p in model.parameters()]}
opt = fastdl.optim.SGD(ddp.parameters(), lr=0.5, momentum=0.9)
for step in range(3):
    opt.zero_grad()
    nn.functional.cross_entropy(ddp(X[step][mine]), Y[step][mine]).backward()
    opt.step()
out["trained"] = [p.tolist() for p in model.parameters()]
opt.zero_grad()  # gradient accumulation: a micro-batch under no_sync, then a synced one
with ddp.no_sync():
    nn.functional.cross_entropy(ddp(X[3][mine]), Y[3][mine]).backward()
out["local grad"] = [p.grad.tolist() for p in model.parameters()]
nn.functional.cross_entropy(ddp(X[0][mine]), Y[0][mine]).backward()
out["accumulated grad"] = [p.grad.tolist() for p in model.parameters()]
out["state_dict keys"] = list(ddp.state_dict())
save(**out)
"""


def _reference_model():
    fastdl.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()


def _close(a, b):
    return all(np.allclose(x, y, rtol=1e-10, atol=1e-12) for x, y in zip(a, b, strict=True))


def test_ddp_training_equals_one_process_on_the_whole_batch(tmp_path):
    ranks = run_ranks(tmp_path, DDP_TRAINING)
    rng = np.random.default_rng(1)
    X = fastdl.tensor(rng.standard_normal((4, 6, 5)))
    Y = fastdl.tensor(rng.integers(0, 3, (4, 6)))
    model = _reference_model()
    assert ranks[0]["start"] == ranks[1]["start"] == [p.tolist() for p in model.parameters()]
    opt = fastdl.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    for step in range(3):  # equal shares: the mean of the ranks' mean losses is the whole mean
        opt.zero_grad()
        nn.functional.cross_entropy(model(X[step]), Y[step]).backward()
        opt.step()
    assert ranks[0]["trained"] == ranks[1]["trained"]  # every rank gets the same average
    assert _close(ranks[0]["trained"], [p.tolist() for p in model.parameters()])

    for rank, out in enumerate(ranks):  # under no_sync each rank keeps its own gradient
        mine = slice(3 * rank, 3 * rank + 3)
        model.zero_grad()
        nn.functional.cross_entropy(model(X[3][mine]), Y[3][mine]).backward()
        assert _close(out["local grad"], [p.grad.tolist() for p in model.parameters()])
    assert not _close(ranks[0]["local grad"], ranks[1]["local grad"])
    model.zero_grad()
    (nn.functional.cross_entropy(model(X[3]), Y[3])
     + nn.functional.cross_entropy(model(X[0]), Y[0])).backward()
    assert ranks[0]["accumulated grad"] == ranks[1]["accumulated grad"]
    assert _close(ranks[0]["accumulated grad"], [p.grad.tolist() for p in model.parameters()])
    assert ranks[0]["state_dict keys"] == ["module." + k for k in model.state_dict()]


BUFFERS_AND_UNUSED = """
from fastdl.nn.parallel import DistributedDataParallel
fastdl.manual_seed(0)
normed = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
ddp = DistributedDataParallel(normed)
x = fastdl.tensor(np.arange(15.0).reshape(5, 3) * (rank + 1), dtype=fastdl.float32)
ddp(x)  # training: each rank's running statistics follow its own batch
bn = normed[1]
out = {"local mean": bn.running_mean.tolist()}
ddp.eval()
with fastdl.no_grad():
    ddp(x)  # every forward first takes rank 0's buffers
out["synced"] = [bn.running_mean.tolist(), bn.running_var.tolist(),
                 int(bn.num_batches_tracked.item())]

class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.shared, self.rank0_only, self.never = nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2)

    def forward(self, x):
        y = self.shared(x)
        return self.rank0_only(y) if rank == 0 else y

ones = fastdl.ones(1, 2, dtype=fastdl.float64)
branchy = DistributedDataParallel(Branchy().double(), find_unused_parameters=True)
branchy(ones).sum().backward()
out["shared out"] = branchy.module.shared(ones).tolist()
out["rank0_only grad"] = branchy.module.rank0_only.weight.grad.tolist()
out["never grad"] = branchy.module.never.weight.grad
strict = DistributedDataParallel(Branchy().double())
try:
    strict(ones).sum().backward()
except RuntimeError as error:
    out["strict"] = str(error)
save(**out)
"""


def test_ddp_broadcasts_buffers_and_handles_unused_parameters(tmp_path):
    ranks = run_ranks(tmp_path, BUFFERS_AND_UNUSED)
    fastdl.manual_seed(0)
    normed = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    normed(fastdl.tensor(np.arange(15.0).reshape(5, 3), dtype=fastdl.float32))  # rank 0's batch
    bn = normed[1]
    assert not np.allclose(ranks[0]["local mean"], ranks[1]["local mean"])
    for out in ranks:
        mean, var, batches = out["synced"]
        assert np.allclose(mean, bn.running_mean.tolist()) and batches == 1
        assert np.allclose(var, bn.running_var.tolist())
    # rank0_only is used on rank 0 only: its gradient there, outer(1, y), halved by the average
    expected = np.ones((2, 1)) * np.array(ranks[0]["shared out"]) / 2
    for out in ranks:
        assert np.allclose(out["rank0_only grad"], expected, rtol=1e-12)
        assert out["never grad"] is None
        assert "find_unused_parameters=True" in out["strict"]


def test_collectives_and_ddp_need_init_process_group():
    from fastdl.nn.parallel import DistributedDataParallel
    assert not dist.is_initialized()
    for call in (dist.get_rank, dist.get_world_size, dist.barrier,
                 lambda: dist.all_reduce(fastdl.ones(2)),
                 lambda: dist.broadcast(fastdl.ones(2), 0),
                 lambda: DistributedDataParallel(nn.Linear(2, 2))):
        with pytest.raises(ValueError, match="init_process_group"):
            call()
    with pytest.raises(ValueError, match="only the 'mpi' backend"):
        dist.init_process_group("nccl")


def test_without_mpi4py_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # makes `import mpi4py` fail
    assert not dist.is_available()
    with pytest.raises(ImportError, match=r'pip install "fastdl\[mpi\]"'):
        dist.init_process_group("mpi")
    with pytest.raises(RuntimeError, match="fastdl\\[mpi\\]"):
        DistributedSampler(range(4))
    assert list(DistributedSampler(range(4), num_replicas=2, rank=0, shuffle=False)) == [0, 2]


def test_post_accumulate_grad_hook_and_queued_callback_match_torch():
    import torch

    def record(module, tensor_fn, queue_callback):
        calls = []
        w = tensor_fn([1.0, 2.0], requires_grad=True)

        def hook(t):
            calls.append(("hook", t.grad.tolist()))
            queue_callback(lambda: calls.append(("callback", w.grad.tolist())))
        w.register_post_accumulate_grad_hook(hook)
        (w * 3).sum().backward()
        (w * w).sum().backward(inputs=[w])
        module.autograd.grad((w * 2).sum(), w)  # stores no gradient: no hook
        with pytest.raises(RuntimeError, match="non-leaf"):
            (w * 1).register_post_accumulate_grad_hook(hook)
        return calls

    from fastdl.autograd import engine
    ours = record(fastdl, fastdl.tensor, engine.queue_callback)
    theirs = record(torch, torch.tensor,
                    torch.autograd.Variable._execution_engine.queue_callback)
    assert ours == theirs == [("hook", [3.0, 3.0]), ("callback", [3.0, 3.0]),
                              ("hook", [5.0, 7.0]), ("callback", [5.0, 7.0])]
    with pytest.raises(RuntimeError, match="during a backward"):
        engine.queue_callback(lambda: None)


@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_assigns_indices_as_torch(drop_last):
    from torch.utils.data import DistributedSampler as TorchSampler
    for n in (0, 1, 2, 5, 7, 10, 13):
        for replicas in (1, 2, 3, 4):
            for rank in range(replicas):
                ours = DistributedSampler(range(n), replicas, rank, shuffle=False,
                                          drop_last=drop_last)
                theirs = TorchSampler(range(n), replicas, rank, shuffle=False,
                                      drop_last=drop_last)
                assert (list(ours), len(ours)) == (list(theirs), len(theirs)), (n, replicas, rank)
    for rank in (-1, 2):
        with pytest.raises(ValueError, match="Invalid rank"):
            DistributedSampler(range(4), num_replicas=2, rank=rank)


def test_distributed_sampler_shuffles_disjoint_shards_per_epoch():
    def shards(n, epoch, seed=0):
        samplers = [DistributedSampler(range(n), 3, rank, seed=seed) for rank in range(3)]
        for sampler in samplers:
            sampler.set_epoch(epoch)
        return [list(sampler) for sampler in samplers]

    epoch0, epoch1 = shards(12, 0), shards(12, 1)
    for epoch in (epoch0, epoch1):  # 12 split 3 ways: no padding, a partition
        assert sorted(sum(epoch, [])) == list(range(12)) and all(len(s) == 4 for s in epoch)
    assert epoch0 != epoch1 and epoch0 == shards(12, 0) and epoch0 != shards(12, 0, seed=1)
    padded = shards(10, 0)  # 10 -> 12: two indices repeat, every index appears
    assert set(sum(padded, [])) == set(range(10)) and all(len(s) == 4 for s in padded)

    features = fastdl.arange(10.0).reshape(10, 1)
    sampler = DistributedSampler(range(10), num_replicas=2, rank=1)
    loader = fastdl.data.DataLoader(fastdl.data.TensorDataset(features), batch_size=2,
                                    sampler=sampler)
    assert [v for (batch,) in loader for v in batch[:, 0].tolist()] == list(map(float, sampler))


def test_mpi_example_trains_in_sync():
    example = pathlib.Path(__file__).resolve().parents[1] / "examples" / "mpi_data_parallel.py"
    output = launch(example, "--epochs", 4)
    finals = re.findall(r"rank (\d): test accuracy ([\d.]+), parameters identical on all "
                        r"\d ranks: (\w+)", output)
    assert sorted(rank for rank, _, _ in finals) == ["0", "1"], output
    assert all(float(accuracy) > 0.9 and in_sync == "True" for _, accuracy, in_sync in finals)
