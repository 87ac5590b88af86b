"""GEMM operands shared by the CUDA kernel tests: the emulator's (numpy) and the GPU's (cupy) get the
same values in the same layouts, so both take the same load paths of the kernel."""
from __future__ import annotations

import numpy as np


def rand(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def reference_gemm(a, b, c, alpha, beta):
    ref = alpha * np.matmul(np.asarray(a, np.float64), np.asarray(b, np.float64))
    if beta != 0:
        ref += beta * np.asarray(c, np.float64)
    return ref


def assert_close(got, want, k, msg=""):
    # fp32 accumulation error grows ~sqrt(k); the scale follows the magnitude of the terms.
    want = np.asarray(want)
    atol = 2e-6 * max(1.0, np.sqrt(k)) * max(1.0, float(np.abs(want).max(initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=atol, err_msg=msg)


def data_address(x):
    return x.ctypes.data if isinstance(x, np.ndarray) else x.data.ptr


def misaligned_copy(x, xp=np):
    """A C-contiguous copy whose data starts one element past a 16-byte boundary (no
    four-element vector loads: float4, or double2 pairs)."""
    item = x.dtype.itemsize
    buf = xp.empty(x.size + 16 // item, x.dtype)
    start = (-data_address(buf) // item) % (16 // item) + 1
    view = buf[start:start + x.size].reshape(x.shape)
    view[...] = xp.asarray(x)
    assert data_address(view) % 16 == item
    return view


def operand_layouts(rng, m, n, k, xp=np, dtype=np.float32):
    """(name, a, b) views in `xp` (numpy or cupy) covering every load path of the CUDA SGEMM:
    float4 along k, along m/n, and general strides; misaligned bases."""
    base_a, base_b = rand(rng, m, k, dtype=dtype), rand(rng, k, n, dtype=dtype)
    padded_k = (k + 3) // 4 * 4 + 4
    a_k_padded = xp.zeros((m, padded_k), dtype)
    a_k_padded[:, :k] = xp.asarray(base_a)
    b_n_padded = xp.zeros((k, (n + 3) // 4 * 4 + 4), dtype)
    b_n_padded[:, :n] = xp.asarray(base_b)
    a_cols = xp.asfortranarray(xp.asarray(base_a))  # unit stride along m
    a_cm = xp.zeros((padded_k, (m + 3) // 4 * 4), dtype).T  # (m4, padded_k), unit stride along m
    a_cm[:m, :k] = xp.asarray(base_a)
    b_rows = xp.zeros(((n + 3) // 4 * 4, padded_k), dtype)  # b.T stored with padded rows
    b_rows[:n, :k] = xp.asarray(base_b.T)
    for x in (a_k_padded, b_n_padded, a_cm, b_rows):
        assert data_address(x) % 16 == 0  # else the float4 paths would not be taken
    strided_a = xp.zeros((2 * m, 3 * k + 1), dtype)
    strided_a[::2, 1::3] = xp.asarray(base_a)
    return [
        ("contiguous", xp.asarray(base_a), xp.asarray(base_b)),
        ("a_k_vec_b_n_vec", a_k_padded[:, :k], b_n_padded[:, :n]),
        ("a_m_vec_b_k_vec", a_cm[:m, :k], b_rows[:n, :k].T),
        ("a_fortran", a_cols, xp.asarray(base_b)),
        ("general_strides", strided_a[::2, 1::3], b_n_padded[:, 1:n + 1]),
        ("misaligned_bases", misaligned_copy(base_a, xp), misaligned_copy(base_b, xp)),
    ]


def output_layouts(m, n, xp=np):
    """Outputs of shape (m, n), NaN-filled, that are not C-contiguous: transposed, strided
    columns, and an offset start (no float4 stores of C)."""
    outs = [xp.empty((n, m), xp.float32).T, xp.empty((m, 2 * n), xp.float32)[:, ::2],
            xp.empty((m, n + 4), xp.float32)[:, 3:n + 3]]
    for out in outs:
        out[...] = xp.nan
    return outs
