"""Collective communication between processes (``torch.distributed``'s names) over MPI.

Launch one process per rank with ``mpirun -n N python script.py``; each calls
``init_process_group("mpi")``. World size and rank come from ``MPI.COMM_WORLD``. Collectives work
on fastdl Tensors in place, passing numpy buffers to mpi4py (``Allreduce`` and friends on
contiguous arrays, no pickling). GPU (cupy) tensors are copied through the host: mpi4py's
CUDA-aware path needs an MPI library built with CUDA support, which the ``mpich`` wheel is not.

mpi4py is imported on first use, so fastdl works without it: ``pip install "fastdl[mpi]"``.
Every collective here is blocking; ``async_op=True`` returns an already-completed ``Work``.
"""
from __future__ import annotations

import enum

import numpy as np

__all__ = ["ReduceOp", "Work", "all_gather", "all_gather_into_tensor", "all_reduce", "barrier",
           "broadcast", "destroy_process_group", "gather", "get_backend", "get_rank",
           "get_world_size", "init_process_group", "is_available", "is_initialized",
           "is_mpi_available", "reduce", "reduce_scatter_tensor", "scatter"]

_INSTALL_HINT = 'fastdl.distributed needs mpi4py and an MPI library: pip install "fastdl[mpi]"'


class ReduceOp(enum.Enum):
    """How ``all_reduce`` and friends combine the ranks' values."""
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"


class Work:
    """What a collective returns with ``async_op=True``; fastdl's collectives block, so it is
    already complete."""

    def wait(self, timeout=None):
        return True

    def is_completed(self):
        return True

    def is_success(self):
        return True


class _ProcessGroup:
    """The default group: MPI's world communicator."""

    def __init__(self, comm):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()


_default_group = None


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as error:  # mpi4py missing, or its MPI library cannot be loaded
        raise ImportError(f"{_INSTALL_HINT} ({error})") from error
    return MPI


def is_mpi_available() -> bool:
    """Whether mpi4py (and the MPI library it loads) can be imported."""
    try:
        _mpi()
    except ImportError:
        return False
    return True


def is_available() -> bool:
    """Whether fastdl.distributed can run here: it needs MPI (``pip install "fastdl[mpi]"``)."""
    return is_mpi_available()


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join the default process group: every rank of ``mpirun`` (MPI's world communicator).

    Only the "mpi" backend exists (None means it). ``world_size`` and ``rank``, when given,
    must agree with MPI's; ``init_method``, ``store`` and the rest are accepted for torch's
    scripts and unused, since MPI's launcher has already connected the ranks."""
    global _default_group
    if backend is not None and str(backend).lower() != "mpi":
        raise ValueError(f"fastdl.distributed supports only the 'mpi' backend, got {backend!r}")
    if _default_group is not None:
        raise ValueError("trying to initialize the default process group twice!")
    comm = _mpi().COMM_WORLD
    group = _ProcessGroup(comm)
    if world_size not in (-1, None) and world_size != group.size:
        raise ValueError(f"world_size={world_size} but MPI started {group.size} processes")
    if rank not in (-1, None) and rank != group.rank:
        raise ValueError(f"rank={rank} but MPI gave this process rank {group.rank}")
    _default_group = group


def is_initialized() -> bool:
    return _default_group is not None


def destroy_process_group(group=None):
    """Leave the default group (MPI itself stays up until the process exits, as mpi4py
    finalizes it then)."""
    global _default_group
    _group(group)
    _default_group = None


def _group(group):
    if _default_group is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    if group is not None and group is not _default_group:
        raise ValueError("fastdl.distributed has only the default (world) group")
    return _default_group


def get_rank(group=None) -> int:
    return _group(group).rank


def get_world_size(group=None) -> int:
    return _group(group).size


def get_backend(group=None) -> str:
    _group(group)
    return "mpi"


def _finish(async_op):
    return Work() if async_op else None


def barrier(group=None, async_op=False, device_ids=None):
    _group(group).comm.Barrier()
    return _finish(async_op)


# ---- moving tensors' data to and from the numpy buffers MPI reads and writes ----

def _check_tensor(tensor, what="tensor"):
    from fastdl.tensor import Tensor
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what} must be a fastdl.Tensor, got {type(tensor).__name__}")
    return tensor


def host_buffer(tensor):
    """The tensor's values as a C-contiguous numpy array: its own array where that already is
    one (no copy), else a copy (a strided view, or a cupy array brought to the host)."""
    from fastdl.backend import is_cupy_array
    data = tensor._data
    if is_cupy_array(data):
        return data.get()
    return np.ascontiguousarray(data)


def write_back(tensor, values):
    """Store ``values`` (numpy) into ``tensor`` in place, as an in-place op: its version
    counter moves, also when MPI wrote into its own array."""
    if values is tensor._data:
        from fastdl.autograd.graph import version_counter
        version_counter(tensor).value += 1
        return
    from fastdl.autograd.grad_mode import no_grad
    with no_grad():
        tensor.copy_(values)


def mpi_op(op, dtype):
    """The MPI reduction for a ReduceOp (AVG reduces with SUM; the caller divides)."""
    MPI = _mpi()
    if op is ReduceOp.AVG and dtype.kind not in "fc":
        raise ValueError(f"ReduceOp.AVG needs a floating-point tensor, got {dtype}")
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and dtype.kind not in "iub":
        raise ValueError(f"{op} needs an integer or bool tensor, got {dtype}")
    try:
        return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
                ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND,
                ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}[op]
    except KeyError:
        raise ValueError(f"op must be a fastdl.distributed.ReduceOp, got {op!r}") from None


def allreduce_array(comm, values, op):
    """All-reduce a contiguous numpy array in place across ``comm``."""
    mpi_reduction = mpi_op(op, values.dtype)
    comm.Allreduce(_mpi().IN_PLACE, values, op=mpi_reduction)
    if op is ReduceOp.AVG:
        values /= comm.Get_size()
    return values


def _writable_host_buffer(tensor):
    values = host_buffer(tensor)
    if not values.flags.writeable:
        values = values.copy()
    return values


# ---- collectives ----

def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` across all ranks with ``op``; every rank gets the result in place."""
    group = _group(group)
    _check_tensor(tensor)
    write_back(tensor, allreduce_array(group.comm, _writable_host_buffer(tensor), op))
    return _finish(async_op)


def reduce(tensor, dst=0, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` across ranks into rank ``dst``'s tensor (the others' are unchanged)."""
    group = _group(group)
    _check_tensor(tensor)
    _check_rank(dst, group, "dst")
    values = host_buffer(tensor)
    result = np.empty_like(values) if group.rank == dst else None
    group.comm.Reduce(values, result, op=mpi_op(op, values.dtype), root=dst)
    if group.rank == dst:
        if op is ReduceOp.AVG:
            result /= group.size
        write_back(tensor, result)
    return _finish(async_op)


def _check_rank(rank, group, name):
    if not isinstance(rank, (int, np.integer)) or not 0 <= rank < group.size:
        raise ValueError(f"{name}={rank} is not a rank of a group of {group.size}")


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy rank ``src``'s ``tensor`` into every rank's ``tensor``."""
    group = _group(group)
    _check_tensor(tensor)
    _check_rank(src, group, "src")
    values = _writable_host_buffer(tensor)
    group.comm.Bcast(values, root=src)
    write_back(tensor, values)
    return _finish(async_op)


def _check_same_layout(tensor, reference, what):
    if tuple(tensor.shape) != tuple(reference.shape) or tensor.dtype != reference.dtype:
        raise ValueError(f"{what} has shape {tuple(tensor.shape)} and dtype {tensor.dtype}, but "
                         f"the input has shape {tuple(reference.shape)} and dtype "
                         f"{reference.dtype}")


def _gathered(group, tensor):
    """Every rank's ``tensor`` stacked on a new first axis (numpy), on every rank."""
    values = host_buffer(tensor)
    gathered = np.empty((group.size,) + values.shape, values.dtype)
    group.comm.Allgather(values, gathered)
    return gathered


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fill ``tensor_list[r]`` with rank r's ``tensor`` on every rank."""
    group = _group(group)
    _check_tensor(tensor)
    if len(tensor_list) != group.size:
        raise ValueError(f"tensor_list has {len(tensor_list)} tensors for {group.size} ranks")
    for i, out in enumerate(tensor_list):
        _check_same_layout(_check_tensor(out, f"tensor_list[{i}]"), tensor, f"tensor_list[{i}]")
    for out, values in zip(tensor_list, _gathered(group, tensor)):
        write_back(out, values)
    return _finish(async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Every rank's ``input_tensor`` concatenated along dim 0 (or stacked, when
    ``output_tensor`` has an extra leading dimension of the world size) into
    ``output_tensor``."""
    group = _group(group)
    _check_tensor(output_tensor, "output_tensor")
    _check_tensor(input_tensor, "input_tensor")
    gathered = _gathered(group, input_tensor)
    if gathered.size != output_tensor.numel() or output_tensor.dtype != input_tensor.dtype:
        raise ValueError(f"output_tensor (shape {tuple(output_tensor.shape)}, "
                         f"{output_tensor.dtype}) must hold world_size={group.size} copies of "
                         f"the input (shape {tuple(input_tensor.shape)}, {input_tensor.dtype})")
    write_back(output_tensor, gathered.reshape(tuple(output_tensor.shape)))
    return _finish(async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input`` across ranks with ``op``, then give rank r the r-th of world_size
    equal chunks along dim 0 (or the r-th slice of a stacked input) in ``output``."""
    group = _group(group)
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    if input.numel() != output.numel() * group.size or input.dtype != output.dtype:
        raise ValueError(f"input (shape {tuple(input.shape)}, {input.dtype}) must be "
                         f"world_size={group.size} times the output (shape "
                         f"{tuple(output.shape)}, {output.dtype})")
    values = host_buffer(input)
    result = np.empty(output.numel(), values.dtype)
    group.comm.Reduce_scatter_block(values, result, op=mpi_op(op, values.dtype))
    if op is ReduceOp.AVG:
        result /= group.size
    write_back(output, result.reshape(tuple(output.shape)))
    return _finish(async_op)


def _check_root_list(tensors, name, tensor, group, root, root_name):
    """Whether this rank is the root, which alone passes one tensor per rank, each shaped like
    ``tensor``."""
    if group.rank != root:
        if tensors:
            raise ValueError(f"only the {root_name} rank passes a {name}")
        return False
    if tensors is None or len(tensors) != group.size:
        raise ValueError(f"rank {root} ({root_name}) needs a {name} of {group.size} tensors")
    for i, item in enumerate(tensors):
        _check_same_layout(_check_tensor(item, f"{name}[{i}]"), tensor, f"{name}[{i}]")
    return True


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    """Rank ``dst`` fills ``gather_list[r]`` with rank r's ``tensor``; the others pass None."""
    group = _group(group)
    _check_tensor(tensor)
    _check_rank(dst, group, "dst")
    values = host_buffer(tensor)
    gathered = None
    if _check_root_list(gather_list, "gather_list", tensor, group, dst, "dst"):
        gathered = np.empty((group.size,) + values.shape, values.dtype)
    group.comm.Gather(values, gathered, root=dst)
    if gathered is not None:
        for out, part in zip(gather_list, gathered):
            write_back(out, part)
    return _finish(async_op)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """Rank ``src`` sends ``scatter_list[r]`` to rank r, which receives it into ``tensor``."""
    group = _group(group)
    _check_tensor(tensor)
    _check_rank(src, group, "src")
    parts = None
    if _check_root_list(scatter_list, "scatter_list", tensor, group, src, "src"):
        parts = np.stack([host_buffer(part) for part in scatter_list])
    received = np.empty(tuple(tensor.shape), host_buffer(tensor).dtype)
    group.comm.Scatter(parts, received, root=src)
    write_back(tensor, received)
    return _finish(async_op)
