"""float64 references for the convolution and pooling kernel tests: PyTorch's CPU ops when torch is
installed, else numpy implementations written here (loops over kernel offsets and output
positions; interpolation as one matrix per dimension). Both take and return numpy float64 arrays
with the kernel interface's conventions (BRIEF.md): lists per spatial dimension, indices as flat
offsets within a plane. tests/test_cuda_conv_pool.py checks the numpy one against torch too, so the
fallback is itself tested wherever torch exists.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - CI installs torch
    torch = None


# ---------------------------------------------------------------------------------------------
# numpy


class NumpyRef:
    name = "numpy"

    # Convolution: for every kernel offset, the strided input slice it meets, grouped einsums.
    @staticmethod
    def _offsets(ker):
        return itertools.product(*[range(k) for k in ker])

    @staticmethod
    def _slices(kpos, out, stride, dil):
        return tuple(slice(p * d, p * d + s * (o - 1) + 1, s)
                     for p, o, s, d in zip(kpos, out, stride, dil))

    def conv_forward(self, x, w, b, stride, padding, dilation, groups):
        n, c = x.shape[:2]
        k, cg = w.shape[:2]
        ker = w.shape[2:]
        out = [(i + 2 * p - d * (kk - 1) - 1) // s + 1
               for i, p, d, kk, s in zip(x.shape[2:], padding, dilation, ker, stride)]
        xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
        y = np.zeros((n, groups, k // groups) + tuple(out))
        wg = w.reshape((groups, k // groups, cg) + tuple(ker))
        for kpos in self._offsets(ker):
            xs = xp[(slice(None), slice(None)) + self._slices(kpos, out, stride, dilation)]
            xs = xs.reshape((n, groups, cg) + tuple(out))
            y += np.einsum("ngc...,gkc->ngk...", xs, wg[(Ellipsis,) + kpos])
        y = y.reshape((n, k) + tuple(out))
        if b is not None:
            y += b.reshape((1, k) + (1,) * len(out))
        return y

    def _conv_adjoints(self, x_shape, w, go, xpad, stride, padding, dilation, groups):
        n, c = x_shape[:2]
        k, cg = w.shape[:2]
        ker, out = w.shape[2:], go.shape[2:]
        size = [i + 2 * p for i, p in zip(x_shape[2:], padding)]
        gxp = np.zeros((n, groups, cg) + tuple(size))
        gw = np.zeros((groups, k // groups, cg) + tuple(ker))
        wg = w.reshape((groups, k // groups, cg) + tuple(ker))
        gog = go.reshape((n, groups, k // groups) + tuple(out))
        for kpos in self._offsets(ker):
            sl = (slice(None),) * 3 + self._slices(kpos, out, stride, dilation)
            gxp[sl] += np.einsum("ngk...,gkc->ngc...", gog, wg[(Ellipsis,) + kpos])
            if xpad is not None:
                xs = xpad.reshape((n, groups, cg) + tuple(size))[sl]
                sp = "xyz"[:len(out)]
                gw[(Ellipsis,) + kpos] = np.einsum(f"ngc{sp},ngk{sp}->gkc", xs, gog)
        crop = tuple(slice(p, p + i) for p, i in zip(padding, x_shape[2:]))
        gx = gxp[(slice(None),) * 3 + crop].reshape(x_shape)
        return gx, gw.reshape(w.shape)

    def conv_backward(self, x, w, go, stride, padding, dilation, groups):
        xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
        return self._conv_adjoints(x.shape, w, go, xp, stride, padding, dilation, groups)

    def conv_transpose(self, xt, w, in_size, stride, padding, dilation, groups):
        # The transposed convolution is the adjoint of the convolution from in_size to xt's size.
        shape = (xt.shape[0], w.shape[1] * groups) + tuple(in_size)
        return self._conv_adjoints(shape, w, xt, None, stride, padding, dilation, groups)[0]

    # Pooling: loops over output positions, all planes at once.
    @staticmethod
    def _planes(x):
        return x.reshape((-1,) + x.shape[2:])

    def max_pool(self, x, kernel, stride, padding, dilation, out_size):
        planes, ins = self._planes(x), x.shape[2:]
        out = np.empty((planes.shape[0],) + tuple(out_size))
        idx = np.empty(out.shape, np.int64)
        for o in itertools.product(*[range(s) for s in out_size]):
            pos = [[o_ * s - p + j * d for j in range(k) if 0 <= o_ * s - p + j * d < n]
                   for o_, s, p, d, k, n in zip(o, stride, padding, dilation, kernel, ins)]
            flat = np.ravel_multi_index(np.ix_(*pos), ins).ravel()
            vals = planes.reshape(planes.shape[0], -1)[:, flat]
            arg = np.argmax(vals, axis=1)
            out[(slice(None),) + o] = vals[np.arange(len(arg)), arg]
            idx[(slice(None),) + o] = flat[arg]
        return out.reshape(x.shape[:2] + out.shape[1:]), idx.reshape(x.shape[:2] + out.shape[1:])

    @staticmethod
    def scatter_add(go, idx, in_shape):
        gi = np.zeros((go.shape[0] * go.shape[1], int(np.prod(in_shape[2:]))))
        rows = np.repeat(np.arange(gi.shape[0]), idx[0, 0].size)
        np.add.at(gi, (rows, idx.reshape(-1)), go.reshape(-1))
        return gi.reshape(in_shape)

    def _avg_windows(self, ins, kernel, stride, padding, cip, dov, out_size):
        for o in itertools.product(*[range(s) for s in out_size]):
            lo = [o_ * s - p for o_, s, p in zip(o, stride, padding)]
            hi = [min(l + k, n + p) for l, k, n, p in zip(lo, kernel, ins, padding)]
            pool = math.prod(h - l for l, h in zip(lo, hi))
            lo = [max(l, 0) for l in lo]
            hi = [min(h, n) for h, n in zip(hi, ins)]
            if any(l >= h for l, h in zip(lo, hi)):
                continue
            div = dov if dov else (pool if cip else math.prod(h - l for l, h in zip(lo, hi)))
            yield o, tuple(slice(l, h) for l, h in zip(lo, hi)), div

    def avg_pool(self, x, kernel, stride, padding, cip, dov, out_size):
        out = np.zeros(x.shape[:2] + tuple(out_size))
        for o, sl, div in self._avg_windows(x.shape[2:], kernel, stride, padding, cip, dov, out_size):
            out[(Ellipsis,) + o] = x[(Ellipsis,) + sl].sum(axis=tuple(range(2, x.ndim))) / div
        return out

    def avg_pool_backward(self, go, in_shape, kernel, stride, padding, cip, dov):
        gi = np.zeros(in_shape)
        for o, sl, div in self._avg_windows(in_shape[2:], kernel, stride, padding, cip, dov,
                                            go.shape[2:]):
            gi[(Ellipsis,) + sl] += (go[(Ellipsis,) + o] / div).reshape(go.shape[:2] + (1,) * len(o))
        return gi

    @staticmethod
    def _adaptive(ins, out_size):
        for o in itertools.product(*[range(s) for s in out_size]):
            yield o, tuple(slice(i * n // m, -(-(i + 1) * n // m)) for i, n, m in zip(o, ins, out_size))

    def adaptive_avg(self, x, out_size):
        out = np.empty(x.shape[:2] + tuple(out_size))
        for o, sl in self._adaptive(x.shape[2:], out_size):
            out[(Ellipsis,) + o] = x[(Ellipsis,) + sl].mean(axis=tuple(range(2, x.ndim)))
        return out

    def adaptive_avg_backward(self, go, in_shape):
        gi = np.zeros(in_shape)
        for o, sl in self._adaptive(in_shape[2:], go.shape[2:]):
            count = math.prod(s.stop - s.start for s in sl)
            gi[(Ellipsis,) + sl] += (go[(Ellipsis,) + o] / count).reshape(go.shape[:2] + (1,) * len(o))
        return gi

    def adaptive_max(self, x, out_size):
        planes, ins = self._planes(x), x.shape[2:]
        out = np.empty((planes.shape[0],) + tuple(out_size))
        idx = np.empty(out.shape, np.int64)
        for o, sl in self._adaptive(ins, out_size):
            flat = np.ravel_multi_index(np.ix_(*[range(s.start, s.stop) for s in sl]), ins).ravel()
            vals = planes.reshape(planes.shape[0], -1)[:, flat]
            arg = np.argmax(vals, axis=1)
            out[(slice(None),) + o] = vals[np.arange(len(arg)), arg]
            idx[(slice(None),) + o] = flat[arg]
        return out.reshape(x.shape[:2] + out.shape[1:]), idx.reshape(x.shape[:2] + out.shape[1:])

    # Interpolation: out = A_1 ... A_d x with one (out x in) matrix per dimension (torch's rules).
    @staticmethod
    def interp_matrix(n_in, n_out, mode, align_corners, scale):
        m = np.zeros((n_out, n_in))
        f32 = np.float32
        nscale = f32(1.0 / scale) if scale > 0 else f32(n_in) / f32(n_out)
        if align_corners:
            lscale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        else:
            lscale = 1.0 / scale if scale > 0 else n_in / n_out
        for o in range(n_out):
            if mode == "nearest":
                i = o if n_out == n_in else (o >> 1 if n_out == 2 * n_in else
                                             min(int(np.floor(f32(o) * nscale)), n_in - 1))
                m[o, i] += 1
            elif mode == "nearest-exact":
                m[o, min(int(np.floor(f32((o + 0.5) * float(nscale)))), n_in - 1)] += 1
            elif mode == "linear":
                if n_in == n_out:
                    m[o, o] = 1
                    continue
                real = lscale * o if align_corners else max(lscale * (o + 0.5) - 0.5, 0.0)
                i0 = min(int(np.floor(real)), n_in - 1)
                lam = min(max(real - i0, 0.0), 1.0)
                m[o, i0] += 1 - lam
                m[o, min(i0 + 1, n_in - 1)] += lam
            else:  # cubic
                real = lscale * o if align_corners else lscale * (o + 0.5) - 0.5
                i0 = min(int(np.floor(real)), n_in - 1)
                t = min(max(real - i0, 0.0), 1.0)
                a = -0.75
                near = lambda z: ((a + 2) * z - (a + 3)) * z * z + 1  # noqa: E731
                far = lambda z: ((a * z - 5 * a) * z + 8 * a) * z - 4 * a  # noqa: E731
                for j, wt in enumerate((far(t + 1), near(t), near(1 - t), far(2 - t))):
                    m[o, min(max(i0 - 1 + j, 0), n_in - 1)] += wt
        return m

    def _matrices(self, ins, outs, mode, align_corners, scales):
        return [self.interp_matrix(i, o, mode, align_corners, s)
                for i, o, s in zip(ins, outs, scales)]

    def interpolate(self, x, out_size, mode, align_corners, scales):
        y = x
        for a, m in enumerate(self._matrices(x.shape[2:], out_size, mode, align_corners, scales)):
            y = np.moveaxis(np.tensordot(m, np.moveaxis(y, 2 + a, 0), axes=1), 0, 2 + a)
        return y

    def interpolate_backward(self, go, in_shape, mode, align_corners, scales):
        g = go
        for a, m in enumerate(self._matrices(in_shape[2:], go.shape[2:], mode, align_corners,
                                             scales)):
            g = np.moveaxis(np.tensordot(m.T, np.moveaxis(g, 2 + a, 0), axes=1), 0, 2 + a)
        return g


# ---------------------------------------------------------------------------------------------
# torch


class TorchRef:
    name = "torch"

    @staticmethod
    def _t(a, grad=False):
        return torch.tensor(a, dtype=torch.float64, requires_grad=grad)

    _conv = {1: "conv1d", 2: "conv2d", 3: "conv3d"}
    _convt = {1: "conv_transpose1d", 2: "conv_transpose2d", 3: "conv_transpose3d"}

    def conv_forward(self, x, w, b, stride, padding, dilation, groups):
        fn = getattr(F, self._conv[x.ndim - 2])
        return fn(self._t(x), self._t(w), None if b is None else self._t(b), stride, padding,
                  dilation, groups).numpy()

    def conv_backward(self, x, w, go, stride, padding, dilation, groups):
        tx, tw = self._t(x, True), self._t(w, True)
        y = getattr(F, self._conv[x.ndim - 2])(tx, tw, None, stride, padding, dilation, groups)
        y.backward(self._t(go))
        return tx.grad.numpy(), tw.grad.numpy()

    def conv_transpose(self, xt, w, in_size, stride, padding, dilation, groups):
        d = xt.ndim - 2
        base = [(o - 1) * s - 2 * p + dl * (k - 1) + 1
                for o, s, p, dl, k in zip(xt.shape[2:], stride, padding, dilation, w.shape[2:])]
        output_padding = [i - b for i, b in zip(in_size, base)]
        return getattr(F, self._convt[d])(self._t(xt), self._t(w), None, stride, padding,
                                          output_padding, groups, dilation).numpy()

    _max = {1: "max_pool1d", 2: "max_pool2d", 3: "max_pool3d"}
    _avg = {1: "avg_pool1d", 2: "avg_pool2d", 3: "avg_pool3d"}

    def max_pool(self, x, kernel, stride, padding, dilation, out_size, ceil_mode=None):
        d = x.ndim - 2
        floor = [(i + 2 * p - dl * (k - 1) - 1) // s + 1
                 for i, p, dl, k, s in zip(x.shape[2:], padding, dilation, kernel, stride)]
        ceil_mode = list(out_size) != floor
        y, idx = getattr(F, self._max[d])(self._t(x), kernel, stride, padding, dilation,
                                          ceil_mode=ceil_mode, return_indices=True)
        assert list(y.shape[2:]) == list(out_size)
        return y.numpy(), idx.numpy()

    @staticmethod
    def scatter_add(go, idx, in_shape):
        return NumpyRef.scatter_add(go, idx, in_shape)

    def _avg_call(self, x, kernel, stride, padding, cip, dov, out_size):
        d = x.ndim - 2
        floor = [(i + 2 * p - k) // s + 1 for i, p, k, s in zip(x.shape[2:], padding, kernel, stride)]
        ceil_mode = list(out_size) != floor
        kw = {} if d == 1 else {"divisor_override": dov or None}
        if d == 1 and dov:
            return None
        return getattr(F, self._avg[d])(x, kernel, stride, padding, ceil_mode, cip, **kw)

    def avg_pool(self, x, kernel, stride, padding, cip, dov, out_size):
        y = self._avg_call(self._t(x), kernel, stride, padding, cip, dov, out_size)
        if y is None:  # avg_pool1d has no divisor_override
            return NumpyRef().avg_pool(x, kernel, stride, padding, cip, dov, out_size)
        assert list(y.shape[2:]) == list(out_size)
        return y.numpy()

    def avg_pool_backward(self, go, in_shape, kernel, stride, padding, cip, dov):
        tx = self._t(np.zeros(in_shape), True)
        y = self._avg_call(tx, kernel, stride, padding, cip, dov, go.shape[2:])
        if y is None:
            return NumpyRef().avg_pool_backward(go, in_shape, kernel, stride, padding, cip, dov)
        y.backward(self._t(go))
        return tx.grad.numpy()

    _aavg = {1: "adaptive_avg_pool1d", 2: "adaptive_avg_pool2d", 3: "adaptive_avg_pool3d"}
    _amax = {1: "adaptive_max_pool1d", 2: "adaptive_max_pool2d", 3: "adaptive_max_pool3d"}

    def adaptive_avg(self, x, out_size):
        return getattr(F, self._aavg[x.ndim - 2])(self._t(x), out_size).numpy()

    def adaptive_avg_backward(self, go, in_shape):
        tx = self._t(np.zeros(in_shape), True)
        getattr(F, self._aavg[len(in_shape) - 2])(tx, go.shape[2:]).backward(self._t(go))
        return tx.grad.numpy()

    def adaptive_max(self, x, out_size):
        y, idx = getattr(F, self._amax[x.ndim - 2])(self._t(x), out_size, return_indices=True)
        return y.numpy(), idx.numpy()

    _modes = {("linear", 1): "linear", ("linear", 2): "bilinear", ("linear", 3): "trilinear",
              ("cubic", 2): "bicubic"}

    def _interp(self, x, out_size, mode, align_corners, scales):
        d = x.ndim - 2
        tmode = self._modes.get((mode, d), mode)
        ac = align_corners if tmode not in ("nearest", "nearest-exact") else None
        if all(s > 0 for s in scales):
            y = F.interpolate(x, scale_factor=list(scales), mode=tmode, align_corners=ac)
        else:
            y = F.interpolate(x, size=list(out_size), mode=tmode, align_corners=ac)
        assert list(y.shape[2:]) == list(out_size), (y.shape, out_size)
        return y

    def interpolate(self, x, out_size, mode, align_corners, scales):
        return self._interp(self._t(x), out_size, mode, align_corners, scales).detach().numpy()

    def interpolate_backward(self, go, in_shape, mode, align_corners, scales):
        tx = self._t(np.zeros(in_shape), True)
        self._interp(tx, go.shape[2:], mode, align_corners, scales).backward(self._t(go))
        return tx.grad.numpy()


def reference():
    """The float64 oracle: torch when importable, else numpy."""
    return TorchRef() if torch is not None else NumpyRef()
