"""The same parameters as fastdl and torch tensors, for comparing optimizer trajectories with
torch.optim (tests/test_optim.py, tests/test_optim_more.py): the gradients depend on the current
parameters, so any divergence compounds, and one parameter goes without a gradient now and then
(an optimizer must leave it alone)."""
import numpy as np

from fastdl.tensor import Tensor

TOLERANCES = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


class OptimizerPair:
    def __init__(self, torch, shapes, seed=0, dtype=np.float32, skip_every=3, tolerances=None):
        rng = np.random.default_rng(seed)
        init = [rng.standard_normal(s).astype(dtype) for s in shapes]
        self.dtype, self.skip_every = dtype, skip_every
        self.tolerances = tolerances or TOLERANCES[dtype]
        self.ours = [Tensor(a.copy(), requires_grad=True) for a in init]
        self.theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
        self.targets = [rng.standard_normal(s).astype(dtype) for s in shapes]
        self.noise_rng = np.random.default_rng(seed + 1000)
        self._torch = torch

    def set_grads(self, step):
        for i, (ours, theirs, target) in enumerate(zip(self.ours, self.theirs, self.targets)):
            noise = 0.1 * self.noise_rng.standard_normal(target.shape)
            if i == len(self.ours) - 1 and step % self.skip_every == self.skip_every - 1:
                ours.grad = theirs.grad = None
                continue
            grad = (1.5 * (ours.data - target) + 0.3 * np.tanh(3.0 * ours.data) + noise)
            ours.grad = Tensor(grad.astype(self.dtype))
            theirs.grad = self._torch.from_numpy(grad.astype(self.dtype))

    def assert_close(self, step):
        for i, (ours, theirs) in enumerate(zip(self.ours, self.theirs)):
            assert ours.data.dtype == self.dtype
            np.testing.assert_allclose(ours.data, theirs.detach().numpy(), **self.tolerances,
                                       err_msg=f"param {i} after step {step}")

    def run(self, ours, theirs, steps, start=0):
        """`steps` steps of both optimizers from step `start`, compared after each."""
        for step in range(start, start + steps):
            self.set_grads(step)
            ours.step()
            theirs.step()
            self.assert_close(step)
