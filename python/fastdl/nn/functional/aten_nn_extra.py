"""More of torch's top-level ATen nn functions: ``convolution``, ``conv_tbc``,
``native_dropout``, ``embedding_bag`` (its four outputs), ``native_norm`` and
``norm_except_dim``, composed of fastdl's conv, dropout, embedding_bag and norm ops.

``embedding_bag``'s auxiliary outputs are what torch's CPU kernel returns (they feed its
backward, so torch leaves them implementation-defined): offset2bag, each index's bag (empty
in float32 sum mode without padding_idx), bag_size, each bag's count of non-padding indices
(zeros in sum mode, one per offset) and max_indices, the weight row picked per bag and dim
in max mode (a copy of bag_size in mean mode, zeros in sum mode). As in torch's kernel, with
``include_last_offset`` they count the indices after the last offset into the last bag, and
so does max mode's output; the sum and mean outputs end the last bag at the last offset (as
documented, and as torch's float32 sum; its float32 mean divides that sum by the longer
count, a torch quirk not copied).

``native_norm`` is a sparse-tensor op in torch (dense tensors raise NotImplementedError
there): the p-norm of the stored values over all dims. fastdl has no sparse tensors and takes
a dense tensor, all of whose values count as stored; torch's sparse limits are kept (full
reductions only, no keepdim, no dtype). torch has no derivative for it (backward raises);
fastdl's is ``linalg.vector_norm``'s.
"""
from __future__ import annotations

import numbers

import numpy as np

from fastdl import random as _random
from fastdl._argcheck import check_bool_arg, check_tensor_arg
from fastdl.nn.functional import conv as _conv
from fastdl.nn.functional.embedding_bag import embedding_bag as _embedding_bag
from fastdl.tensor import _wrap

_TORCH_TYPE = {"float32": "Float", "float64": "Double", "float16": "Half",
               "bfloat16": "BFloat16", "int64": "Long", "int32": "Int", "int16": "Short",
               "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _type_name(dtype):
    return _TORCH_TYPE.get(str(dtype), str(dtype))


def _int_list(value, fn, arg, position):
    if not isinstance(value, (tuple, list)) or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        raise TypeError(f"{fn}(): argument '{arg}' (position {position}) must be tuple of ints, "
                        f"not {type(value).__name__}")
    return tuple(int(v) for v in value)


def _expand(values, d, arg):
    if len(values) == 1:
        return values * d
    if len(values) != d:
        raise RuntimeError(f"expected {arg} to be a single integer value or a list of {d} values "
                           f"to match the convolution dimensions, but got {arg}={list(values)}")
    return values


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding,
                groups):
    """The convolution every conv op reduces to: conv{1,2,3}d, or with ``transposed``
    conv_transpose{1,2,3}d, by ``weight``'s dims (stride, padding, dilation, output_padding:
    lists of 1 or d ints; output_padding is ignored unless transposed).

    Shape: input (N, C_in, *spatial) with spatial of weight's rank minus 2.

    >>> x, w = fastdl.randn(2, 3, 9), fastdl.randn(4, 3, 3)
    >>> fastdl.convolution(x, w, None, [2], [1], [1], False, [0], 1).shape
    (2, 4, 5)
    """
    fn = "convolution"
    check_tensor_arg(input, fn, "input", 1)
    check_tensor_arg(weight, fn, "weight", 2)
    if bias is not None:
        check_tensor_arg(bias, fn, "bias", 3)
    stride, padding, dilation = (_int_list(v, fn, a, p) for v, a, p in (
        (stride, "stride", 4), (padding, "padding", 5), (dilation, "dilation", 6)))
    output_padding = _int_list(output_padding, fn, "output_padding", 8)
    check_bool_arg(transposed, "convolution", "transposed", 7)
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)):
        raise TypeError(f"convolution(): argument 'groups' (position 9) must be int, not "
                        f"{type(groups).__name__}")
    d = weight.ndim - 2
    if d not in (1, 2, 3):
        raise RuntimeError(f"convolution: expected a 3-D, 4-D or 5-D weight, got "
                           f"{weight.ndim}-D weight of size {list(weight.shape)}")
    if input.ndim != weight.ndim:
        raise RuntimeError(f"Expected {weight.ndim}-dimensional input for {weight.ndim}-"
                           f"dimensional weight {list(weight.shape)}, but got {input.ndim}-"
                           f"dimensional input of size {list(input.shape)} instead")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"Input type ({_type_name(input.dtype)}) and weight type "
                           f"({_type_name(weight.dtype)}) should be the same")
    stride, padding, dilation = (_expand(v, d, a) for v, a in (
        (stride, "stride"), (padding, "padding"), (dilation, "dilation")))
    if transposed:
        output_padding = _expand(output_padding, d, "output_padding")
        return getattr(_conv, f"conv_transpose{d}d")(input, weight, bias, stride, padding,
                                                     output_padding, int(groups), dilation)
    return getattr(_conv, f"conv{d}d")(input, weight, bias, stride, padding, dilation,
                                       int(groups))


def conv_tbc(input, weight, bias, pad=0):
    """1-D convolution over a time-major (T, B, C_in) input with a (K, C_in, C_out) weight and
    (C_out,) bias, ``pad`` steps of zeros (negative: cropped) at both ends of time.

    Shape: output (T + 2 pad - K + 1, B, C_out).

    >>> fastdl.conv_tbc(fastdl.randn(7, 2, 3), fastdl.randn(3, 3, 4), fastdl.zeros(4), 1).shape
    (7, 2, 4)
    """
    fn = "conv_tbc"
    for x, a, p in ((input, "self", 1), (weight, "weight", 2), (bias, "bias", 3)):
        check_tensor_arg(x, fn, a, p)
    if isinstance(pad, bool) or not isinstance(pad, (int, np.integer)):
        raise TypeError(f"conv_tbc(): argument 'pad' (position 4) must be int, not "
                        f"{type(pad).__name__}")
    if input.ndim != 3:
        raise RuntimeError("Input must have 3 dims: time, batch, in_channel")
    if weight.ndim != 3:
        raise RuntimeError("Weight tensor must have 3 dims: kernel_width, in_channels, "
                           "out_channels.")
    if bias.ndim != 1:
        raise RuntimeError("Bias must be 1-D")
    if input.shape[2] != weight.shape[1]:
        raise RuntimeError("Input dim 2 (input channels) is not == dim 1 in the weight tensor")
    if bias.shape[0] != weight.shape[2]:
        raise RuntimeError("Bias size must equal dim 2 in the weight tensor (output channels).")
    if input.dtype != weight.dtype or bias.dtype != weight.dtype:
        other = input.dtype if input.dtype != weight.dtype else bias.dtype
        raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                           f"{_type_name(other)} and {_type_name(weight.dtype)}")
    pad = int(pad)
    x = input
    if pad < 0:  # torch's kernel skips -pad steps at each end
        crop = min(-pad, x.shape[0])
        x = x.narrow(0, crop, max(x.shape[0] - 2 * crop, 0))
        pad = 0
    k = weight.shape[0]
    steps = x.shape[0] + 2 * pad - k + 1
    if steps <= 0:
        # nothing to convolve: an empty (0, B, C_out) result still joined to the inputs
        return x.narrow(0, 0, 0).matmul(weight[0]) + bias
    out = _conv.conv1d(x.permute(1, 2, 0), weight.permute(2, 1, 0), bias, 1, pad)
    return out.permute(2, 0, 1)


def native_dropout(input, p, train):
    """Dropout returning ``(output, mask)``: in training (``train`` True or None) each element
    is kept with probability 1 - p (the bool ``mask``) and scaled by 1 / (1 - p); otherwise
    the output is a copy of ``input`` and the mask all True.

    >>> out, mask = fastdl.native_dropout(fastdl.ones(2, 3), 0.5, False)
    >>> out.tolist(), mask.dtype
    ([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]], dtype('bool'))
    """
    fn = "native_dropout"
    check_tensor_arg(input, fn, "input", 1)
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"native_dropout(): argument 'p' (position 2) must be float, not "
                        f"{type(p).__name__}")
    if train is not None:
        check_bool_arg(train, "native_dropout", "train", 3)
    from fastdl.creation import ones
    if train is False:
        return input.clone(), ones(input.shape, dtype=bool, device=input.device)
    if not 0.0 <= p <= 1.0:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={1 - p}")
    if input.dtype.kind != "f":
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{_type_name(input.dtype)}")
    keep = _random.uniform_array(input.shape, 0.0, 1.0, input.dtype, input.device, None) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    mask = _wrap(keep)
    return input * _wrap(keep.astype(input.dtype) * input.dtype.type(scale)), mask


_MODES = ("sum", "mean", "max")


def _check_indices(t, what):
    if t.dtype not in (np.int64, np.int32):
        kind = _type_name(t.dtype)
        raise RuntimeError(f"Expected tensor for argument #1 '{what}' to have one of the "
                           f"following scalar types: Long, Int; but got fastdl.{kind}Tensor "
                           f"instead (while checking arguments for embedding_bag)")


def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """torch.embedding_bag (ATen): ``(output, offset2bag, bag_size, max_indices)`` for bags of
    1-D ``indices`` starting at ``offsets``; ``mode`` 0 sum, 1 mean, 2 max. ``output`` is
    ``nn.functional.embedding_bag``'s; the other three are torch's bookkeeping (see the module
    notes), in the indices' dtype.

    Shape: output (bags, embedding_dim); offset2bag (len(indices),) (or (0,)); bag_size (bags,)
    (or (len(offsets),)); max_indices (bags, embedding_dim) in max mode, else bag_size's.

    >>> out, offset2bag, bag_size, _ = fastdl.embedding_bag(
    ...     fastdl.ones(5, 2), fastdl.tensor([0, 1, 2, 4]), fastdl.tensor([0, 3]), mode=1)
    >>> out.tolist(), offset2bag.tolist(), bag_size.tolist()
    ([[1.0, 1.0], [1.0, 1.0]], [0, 0, 0, 1], [3, 1])
    """
    fn = "embedding_bag"
    check_tensor_arg(weight, fn, "weight", 1)
    check_tensor_arg(indices, fn, "indices", 2)
    check_tensor_arg(offsets, fn, "offsets", 3)
    if isinstance(mode, bool) or not isinstance(mode, (int, np.integer)):
        raise TypeError(f"embedding_bag(): argument 'mode' (position 5) must be int, not "
                        f"{type(mode).__name__}")
    if mode not in (0, 1, 2):
        raise RuntimeError("`mode` must be sum, mean, or max.")
    _check_indices(indices, "indices")
    _check_indices(offsets, "offsets")
    if offsets.ndim != 1:
        raise RuntimeError(f"offsets has to be a 1D Tensor, but got Tensor of dimension "
                           f"{offsets.ndim}")
    if indices.ndim != 1:
        raise RuntimeError(f"input has to be a 1D Tensor, but got Tensor of dimension "
                           f"{indices.ndim}")
    if per_sample_weights is not None and mode != 0:
        raise RuntimeError("embedding_bag: per_sample_weights only supported with mode='sum'")
    rows = weight.shape[0] if weight.ndim else 0
    if padding_idx is not None and not -rows <= padding_idx < rows:
        raise RuntimeError(f"padding_idx must be within the number of embeddings, -{rows} "
                           f"through {rows - 1}, but got {padding_idx}")
    idx = np.asarray(indices.detach().cpu().numpy()).astype(np.int64)
    starts = np.asarray(offsets.detach().cpu().numpy()).astype(np.int64)
    if starts.size and starts[-1] > idx.size:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length {idx.size} but "
                           f"got offsets[-1] of {int(starts[-1])}")
    output = _embedding_bag(indices, weight, offsets, scale_grad_by_freq=scale_grad_by_freq,
                            mode=_MODES[mode], sparse=sparse,
                            per_sample_weights=per_sample_weights,
                            include_last_offset=include_last_offset, padding_idx=padding_idx)
    bags = output.shape[0]
    kind = indices.dtype
    # torch's kernel: each index in the bag of the last offset at or before it
    firsts = starts[:-1] if include_last_offset else starts
    bag_of = np.searchsorted(firsts, np.arange(idx.size), side="right") - 1
    kept = np.ones(idx.size, bool) if padding_idx is None else idx != padding_idx % rows
    if mode == 0:
        plain = weight.dtype == np.float32 and padding_idx is None
        offset2bag = np.zeros(0, kind) if plain else bag_of.astype(kind)
        zeros = np.zeros(starts.size, kind)
        return output, _wrap(offset2bag), _wrap(zeros), _wrap(zeros.copy())
    bag_size = np.bincount(bag_of[kept], minlength=bags)[:bags].astype(kind)
    if mode == 1:
        return output, _wrap(bag_of.astype(kind)), _wrap(bag_size), _wrap(bag_size.copy())
    # torch's max kernel picks from its own bags (the last running to the input's end with
    # include_last_offset): the output is the picked rows, so the two always agree
    rows_picked = _max_rows(weight, idx, bag_of, kept, bags)
    from fastdl.functional import arithmetic as A
    from fastdl.functional import indexing as I
    output = A.where(_wrap(bag_size[:, None] == 0), 0.0, I.gather(weight, 0, _wrap(rows_picked)))
    return (output, _wrap(bag_of.astype(kind)), _wrap(bag_size),
            _wrap(rows_picked.astype(kind)))


def _max_rows(weight, idx, bag_of, kept, bags):
    """Per bag and dim, the first kept index whose weight row holds the bag's maximum (0 for a
    bag without one)."""
    w = np.asarray(weight.detach().cpu().numpy())
    pos = np.flatnonzero(kept & (bag_of >= 0) & (bag_of < bags))
    out = np.zeros((bags, w.shape[1]), np.int64)
    for b in range(bags):
        members = pos[bag_of[pos] == b]
        if members.size:
            out[b] = idx[members][np.argmax(w[idx[members]], axis=0)]
    return out


def _norm_value(p, fn):
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{fn}(): argument 'p' (position 2) must be Number, not "
                        f"{type(p).__name__}")
    return float(p)


def native_norm(input, p=2, dim=None, keepdim=False, dtype=None):
    """The p-norm of all of ``input``'s values (torch's sparse-tensor norm: ``dim`` must be
    empty or every dim, without keepdim or dtype).

    >>> fastdl.native_norm(fastdl.tensor([[3.0, 0.0], [0.0, 4.0]]))
    tensor(5.)
    """
    from fastdl.linalg import vector_norm
    fn = "native_norm"
    check_tensor_arg(input, fn, "input", 1)
    p = _norm_value(p, fn)
    if dim is not None:
        dims = _int_list(dim, fn, "dim", 3)
        n = max(input.ndim, 1)
        if dims and sorted({d % n for d in dims}) != list(range(input.ndim)):
            raise RuntimeError("norm_sparse currently only supports full reductions, so 'dim' "
                               "must either be empty or contain all dimensions of the input")
        if keepdim:
            raise RuntimeError("norm_sparse currently does not support keepdim=True")
        if dtype is not None:
            raise RuntimeError("norm_sparse currently does not support 'dtype' argument")
    if input.dtype.kind != "f":
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. "
                           f"Got {_type_name(input.dtype)} instead.")
    return vector_norm(input, p)


def norm_except_dim(v, pow=2, dim=0):
    """The ``pow``-norm of ``v`` over every dim but ``dim``, shaped to broadcast against
    ``v`` (size 1 elsewhere); ``dim=-1`` gives the norm of all of ``v`` (0-d). The weight
    norm's g = ||v||.

    >>> fastdl.norm_except_dim(fastdl.tensor([[3.0, 4.0], [6.0, 8.0]])).tolist()
    [[5.0], [10.0]]
    """
    from fastdl.linalg import vector_norm
    fn = "norm_except_dim"
    check_tensor_arg(v, fn, "v", 1)
    if isinstance(pow, bool) or not isinstance(pow, (int, np.integer)):
        raise TypeError(f"norm_except_dim(): argument 'pow' (position 2) must be int, not "
                        f"{type(pow).__name__}")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"norm_except_dim(): argument 'dim' (position 3) must be int, not "
                        f"{type(dim).__name__}")
    if v.dtype.kind != "f":
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. "
                           f"Got {_type_name(v.dtype)} instead.")
    if dim == -1:
        return vector_norm(v, pow)
    n = v.ndim
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    dim %= n
    others = tuple(d for d in range(n) if d != dim)
    return vector_norm(v, pow, dim=others, keepdim=True)


__all__ = ["conv_tbc", "convolution", "embedding_bag", "native_dropout", "native_norm",
           "norm_except_dim"]
