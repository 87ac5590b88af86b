"""ResNet-18 step's convolutions (batch 16, 64 x 64 input) timed alone at 1 and 2 threads,
fastdl's _C conv functions vs torch's aten.convolution / convolution_backward (bench/NOTES.md,
"## ResNet-18 step", per-convolution 2-thread scaling). Run: PYTHONPATH=python python bench/resnet18_convs.py"""
import sys, time, numpy as np, torch, fastdl
from fastdl import _C
N = 16
# name, count, cin, cout, k, s, p, H(in), need_dx
S = [("stem 3-64 7x7s2 64", 1, 3, 64, 7, 2, 3, 64, False),
     ("l1 64-64 3x3 16", 4, 64, 64, 3, 1, 1, 16, True),
     ("l2 64-128 3x3s2 16", 1, 64, 128, 3, 2, 1, 16, True),
     ("l2 ds 64-128 1x1s2 16", 1, 64, 128, 1, 2, 0, 16, True),
     ("l2 128-128 3x3 8", 3, 128, 128, 3, 1, 1, 8, True),
     ("l3 128-256 3x3s2 8", 1, 128, 256, 3, 2, 1, 8, True),
     ("l3 ds 128-256 1x1s2 8", 1, 128, 256, 1, 2, 0, 8, True),
     ("l3 256-256 3x3 4", 3, 256, 256, 3, 1, 1, 4, True),
     ("l4 256-512 3x3s2 4", 1, 256, 512, 3, 2, 1, 4, True),
     ("l4 ds 256-512 1x1s2 4", 1, 256, 512, 1, 2, 0, 4, True),
     ("l4 512-512 3x3 2", 3, 512, 512, 3, 1, 1, 2, True)]
def med(fn, n):
    for _ in range(2): fn()
    r = []
    for _ in range(n):
        s = time.perf_counter(); fn(); r.append(time.perf_counter() - s)
    return 1e3 * np.median(r)
rng = np.random.default_rng(0)
rows = []
for name, cnt, ci, co, k, s, p, H, ndx in S:
    x = rng.standard_normal((N, ci, H, H), dtype=np.float32)
    w = rng.standard_normal((co, ci, k, k), dtype=np.float32) * 0.1
    Ho = (H + 2 * p - k) // s + 1
    go = rng.standard_normal((N, co, Ho, Ho), dtype=np.float32)
    y = np.empty((N, co, Ho, Ho), np.float32); dx = np.empty_like(x); dw = np.empty_like(w)
    st, pd, dl = [s, s], [p, p], [1, 1]
    tx, tw, tg = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(go)
    ops = {
      "fwd": (lambda: _C.conv_forward(x, w, None, y, st, pd, dl, 1),
              lambda: torch.ops.aten.convolution(tx, tw, None, st, pd, dl, False, [0, 0], 1)),
      "dx": (lambda: _C.conv_backward_input(go, w, dx, st, pd, dl, 1),
             lambda: torch.ops.aten.convolution_backward(tg, tx, tw, None, st, pd, dl, False, [0, 0], 1, [True, False, False])),
      "dw": (lambda: _C.conv_backward_weight(x, go, dw, st, pd, dl, 1),
             lambda: torch.ops.aten.convolution_backward(tg, tx, tw, None, st, pd, dl, False, [0, 0], 1, [False, True, False])),
    }
    for op, (f, g) in ops.items():
        if op == "dx" and not ndx: continue
        res = {}
        for t in (1, 2):
            fastdl.set_num_threads(t); torch.set_num_threads(t)
            n = 15
            a = []; b = []
            for rep in range(3):
                a.append(med(f, n)); b.append(med(g, n))
            res[t] = (min(a), min(b))
        f1, t1 = res[1]; f2, t2 = res[2]
        rows.append((name, op, cnt, f1, f2, t1, t2))
        print("%-24s %-3s x%d  fd1 %.3f fd2 %.3f (%.2fx)  th1 %.3f th2 %.3f (%.2fx)  fd2/th2 %.2f" % (
            name, op, cnt, f1, f2, f1 / f2, t1, t2, t1 / t2, f2 / t2), flush=True)
for t, i, j in ((1, 3, 5), (2, 4, 6)):
    print("total x count, %d thr: fastdl %.2f ms torch %.2f ms" % (
        t, sum(r[2] * r[i] for r in rows), sum(r[2] * r[j] for r in rows)))
