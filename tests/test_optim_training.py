"""End to end: fastdl nn + autograd + optim + clipping + schedule train like torch, and the
checkpoint moves between the two libraries through safetensors."""
import numpy as np
import pytest

import fastdl
from fastdl import nn, optim
from fastdl.nn import functional as F
from fastdl.nn.utils import clip_grad_norm_

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")


def _models(tmp_path):
    fastdl.manual_seed(0)
    ours = nn.Sequential(nn.Linear(10, 17), nn.Tanh(), nn.Linear(17, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(10, 17), torch.nn.Tanh(), torch.nn.Linear(17, 3))
    # The torch model starts from fastdl's weights, read back from a fastdl.save file.
    fastdl.save(ours.state_dict(), tmp_path / "init.safetensors")
    theirs.load_state_dict(safetensors_torch.load_file(str(tmp_path / "init.safetensors")))
    return ours, theirs


def _assert_same_weights(ours, theirs, step, rtol=2e-4, atol=2e-5):
    theirs_sd = theirs.state_dict()
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(value.numpy(), theirs_sd[name].numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"{name} after step {step}")


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.2, momentum=0.9, nesterov=True)),
                                         ("AdamW", dict(lr=0.02, weight_decay=0.05)),
                                         ("RMSprop", dict(lr=0.005, centered=True))])
def test_mlp_training_matches_torch(name, kwargs, tmp_path):
    ours, theirs = _models(tmp_path)
    _assert_same_weights(ours, theirs, 0, rtol=0, atol=0)
    opt_ours = getattr(optim, name)(ours.parameters(), **kwargs)
    opt_theirs = getattr(torch.optim, name)(theirs.parameters(), **kwargs)
    sched_ours = optim.lr_scheduler.CosineAnnealingLR(opt_ours, T_max=25)
    sched_theirs = torch.optim.lr_scheduler.CosineAnnealingLR(opt_theirs, T_max=25)
    rng = np.random.default_rng(1)
    for step in range(25):
        x = rng.standard_normal((24, 10)).astype(np.float32)
        y = rng.integers(0, 3, 24)
        opt_ours.zero_grad()
        loss = F.cross_entropy(ours(fastdl.tensor(x)), fastdl.tensor(y))
        loss.backward()
        norm = clip_grad_norm_(ours.parameters(), max_norm=0.5)
        opt_ours.step()
        sched_ours.step()

        opt_theirs.zero_grad()
        loss_t = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x)), torch.from_numpy(y))
        loss_t.backward()
        norm_t = torch.nn.utils.clip_grad_norm_(theirs.parameters(), max_norm=0.5)
        opt_theirs.step()
        sched_theirs.step()

        assert loss.item() == pytest.approx(loss_t.item(), rel=1e-4)
        assert norm.item() == pytest.approx(norm_t.item(), rel=1e-4)
        _assert_same_weights(ours, theirs, step)


def test_checkpoint_resume_is_exact(tmp_path):
    """Save model + optimizer + scheduler mid-run, restore into fresh objects, continue: the
    resumed run must equal the uninterrupted one bit for bit."""
    rng = np.random.default_rng(2)
    batches = [(rng.standard_normal((16, 10)).astype(np.float32), rng.integers(0, 3, 16))
               for _ in range(20)]

    def build():
        fastdl.manual_seed(0)
        model = nn.Sequential(nn.Linear(10, 17), nn.Tanh(), nn.Linear(17, 3))
        opt = optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
        sched = optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
        return model, opt, sched

    def train(model, opt, sched, steps):
        for x, y in steps:
            opt.zero_grad()
            F.cross_entropy(model(fastdl.tensor(x)), fastdl.tensor(y)).backward()
            opt.step()
            sched.step()

    straight = build()
    train(*straight, batches)

    first = build()
    train(*first, batches[:9])
    model, opt, sched = first
    fastdl.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                 "scheduler": sched.state_dict(), "step": 9}, tmp_path / "ckpt.safetensors")
    resumed = build()
    checkpoint = fastdl.load(tmp_path / "ckpt.safetensors")
    resumed[0].load_state_dict(checkpoint["model"])
    resumed[1].load_state_dict(checkpoint["optimizer"])
    resumed[2].load_state_dict(checkpoint["scheduler"])
    assert checkpoint["step"] == 9
    train(*resumed, batches[9:])

    for (name, a), b in zip(straight[0].state_dict().items(), resumed[0].state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    assert straight[1].param_groups[0]["lr"] == resumed[1].param_groups[0]["lr"]
