"""The rnn family of `fastdl bench cuda`: fastdl's CUDA recurrent drivers (fastdl._C_cuda
rnn_forward / rnn_backward on cupy arrays) vs cuDNN's LSTM and GRU through PyTorch (torch.nn.LSTM /
GRU on the same device, fp32, TF32 off), on the problems of `fastdl bench rnn`: input 256, hidden
512, 128 steps, batch 32 (and batch 1 for latency), one layer, one direction.

Rows: forward (ours: rnn_forward, which also fills the workspace backward needs; cuDNN: training
mode forward) and forward + backward (ours: rnn_forward then rnn_backward with every gradient;
cuDNN: the forward then torch.autograd.grad of the output for the input, initial states and every
parameter). FLOPs: forward 2 T B G H (I + H) (input projection and recurrent products, G = 4 or 3
gates), forward + backward 3x that. The harness validates each row against cuDNN before timing it.

The builder takes (cp, torch, kernels) so a test can run it with numpy, CPU torch and the emulator
in their places (tests/test_rnn_cuda_emu.py).
"""
from __future__ import annotations

import math

# name: (mode, steps, batch, input, hidden)
RNN_ROWS = {
    "LSTM B=32": ("lstm", 128, 32, 256, 512),
    "GRU B=32": ("gru", 128, 32, 256, 512),
    "LSTM B=1": ("lstm", 128, 1, 256, 512),
}
_GATES = {"lstm": 4, "gru": 3}


def _rel_error(cp, ours, want):
    want = cp.asarray(want)
    scale = float(cp.abs(want).max())
    return float(cp.abs(cp.asarray(ours) - want).max()) / max(scale, 1e-30)


def rnn_cases(cp, torch, kernels, rows=None):
    """Forward and forward + backward rows of each problem."""
    from fastdl.bench.cuda import Case
    cases = []
    for i, (name, (mode, T, B, I, H)) in enumerate((rows or RNN_ROWS).items()):
        G = _GATES[mode]
        rng = cp.random.RandomState(100 + i)
        f32 = lambda *s, scale=1.0: (rng.standard_normal(s) * scale).astype(cp.float32)  # noqa
        k = 1 / math.sqrt(H)
        x, h0, c0 = f32(T, B, I), f32(B, H), f32(B, H)
        w_ih, w_hh, b_ih, b_hh = f32(G * H, I, scale=k), f32(G * H, H, scale=k), \
            f32(G * H, scale=k), f32(G * H, scale=k)
        dy = f32(T, B, H)
        lstm = mode == "lstm"
        e = lambda *s: cp.empty(s, dtype=cp.float32)  # noqa: E731
        y, hT, cT, hprev = e(T, B, H), e(B, H), e(B, H) if lstm else None, e(T, B, H)
        ws0, ws1 = e(T, B, G * H), e(T, B, H)
        dhT, dcT = cp.zeros((B, H), cp.float32), cp.zeros((B, H), cp.float32) if lstm else None
        dx, dw_ih, dw_hh, db_ih, db_hh, dh0 = (e(*a.shape) for a in (x, w_ih, w_hh, b_ih, b_hh,
                                                                       h0))
        dc0 = e(B, H) if lstm else None

        def forward(kernels=kernels, mode=mode, x=x, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh,
                    h0=h0, c0=c0 if lstm else None, y=y, hT=hT, cT=cT, ws0=ws0, ws1=ws1,
                    hprev=hprev):
            kernels.rnn_forward(mode, x, w_ih, w_hh, b_ih, b_hh, h0, c0, None, False, y, hT, cT,
                                ws0, ws1, hprev)

        def forward_backward(forward=forward, kernels=kernels, mode=mode, x=x, w_ih=w_ih,
                             w_hh=w_hh, ws0=ws0, ws1=ws1, hprev=hprev, dy=dy, dhT=dhT, dcT=dcT,
                             grads=(dx, dw_ih, dw_hh, db_ih, db_hh, dh0, dc0)):
            forward()
            kernels.rnn_backward(mode, x, w_ih, w_hh, None, False, ws0, ws1, hprev, dy, dhT, dcT,
                                 *grads)

        t = {n: torch.from_dlpack(a) for n, a in dict(x=x, h0=h0, c0=c0, dy=dy).items()}
        module = (torch.nn.LSTM if lstm else torch.nn.GRU)(I, H).to(t["x"].device)
        with torch.no_grad():
            for p, a in ((module.weight_ih_l0, w_ih), (module.weight_hh_l0, w_hh),
                         (module.bias_ih_l0, b_ih), (module.bias_hh_l0, b_hh)):
                p.copy_(torch.from_dlpack(a))
        tx = t["x"].clone().requires_grad_()
        th0 = t["h0"][None].clone().requires_grad_()
        tc0 = t["c0"][None].clone().requires_grad_()
        params = [module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0, module.bias_hh_l0]

        def vendor_forward(module=module, tx=tx, th0=th0, tc0=tc0, lstm=lstm):
            return module(tx, (th0, tc0) if lstm else th0)[0]

        def vendor_backward(vendor_forward=vendor_forward, tx=tx, th0=th0, params=params,
                            tdy=t["dy"]):
            return torch.autograd.grad(vendor_forward(), [tx, th0] + params, tdy)

        def check_forward(cp=cp, forward=forward, vendor_forward=vendor_forward, y=y):
            forward()
            return _rel_error(cp, y, cp.from_dlpack(vendor_forward().detach())), 1e-4

        def check_backward(cp=cp, forward_backward=forward_backward,
                           vendor_backward=vendor_backward, ours=(dx, dh0, dw_ih, dw_hh, db_ih,
                                                                 db_hh)):
            forward_backward()
            want = vendor_backward()
            return max(_rel_error(cp, o, cp.from_dlpack(w).reshape(o.shape))
                       for o, w in zip(ours, want)), 1e-3

        flops = 2.0 * T * B * G * H * (I + H)
        cases.append(Case("rnn", f"{name} forward", flops, forward, vendor_forward, "cuDNN",
                          check_forward))
        cases.append(Case("rnn", f"{name} fwd+bwd", 3 * flops, forward_backward,
                          vendor_backward, "cuDNN", check_backward))
    return cases
