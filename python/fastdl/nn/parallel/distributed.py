"""``DistributedDataParallel``: one model replica per MPI rank, gradients averaged across ranks.

Each rank runs forward and backward on its own share of the batch. Every parameter carries a
post-accumulate-grad hook; the first one that fires in a backward queues a callback the autograd
engine runs once that backward has stored all gradients. The callback all-reduces the gradients
packed into one flat buffer per dtype (one ``MPI.Allreduce`` each) and divides by the world
size, so every rank steps with the gradient of the mean loss over the global batch.
"""
from __future__ import annotations

import contextlib
import weakref

import numpy as np

from fastdl import distributed as dist
from fastdl.autograd import engine
from fastdl.autograd.grad_mode import is_grad_enabled
from fastdl.nn.modules.module import Module


def _unique(tensors):
    """Tensors in order, each once (tied weights are one parameter)."""
    seen = set()
    return [t for t in tensors if not (id(t) in seen or seen.add(id(t)))]


def _by_dtype(tensors):
    groups = {}
    for t in tensors:
        groups.setdefault(np.dtype(t._data.dtype), []).append(t)
    return groups.values()


def _broadcast_from_rank0(tensors, comm):
    """Overwrite ``tensors`` with rank 0's values: one ``Bcast`` of a flat buffer per dtype."""
    for group in _by_dtype(tensors):
        flat = np.concatenate([dist.host_buffer(t).ravel() for t in group])
        comm.Bcast(flat, root=0)
        offset = 0
        for t in group:
            n = t._data.size
            dist.write_back(t, flat[offset:offset + n].reshape(t._data.shape))
            offset += n


def _on_grad_accumulated(ddp_ref):
    """A parameter hook that reaches its DDP through a weak reference (a dropped wrapper must
    not keep syncing its module's gradients)."""
    def hook(param):
        ddp = ddp_ref()
        if ddp is not None:
            ddp._grad_ready()
    return hook


class DistributedDataParallel(Module):
    """Data parallelism over ``fastdl.distributed`` (call ``init_process_group`` first).

    At construction every rank takes rank 0's parameters and buffers; a forward with gradients
    enabled makes the backward that follows average the gradients across ranks. Within
    ``no_sync()`` backward only accumulates locally (gradient accumulation); the first backward
    after a forward outside it averages everything accumulated so far.

    Parameters without a gradient on a rank contribute zeros; one that has a gradient on no rank
    keeps ``grad`` None. Unlike torch, which reports a missing gradient at the next iteration
    unless ``find_unused_parameters=True``, fastdl raises at the end of that backward on every
    rank (they agree, so none is left waiting). ``device_ids``, ``output_device``, ``dim``,
    ``bucket_cap_mb``, ``gradient_as_bucket_view`` and ``static_graph`` are accepted for torch's
    scripts: one process holds one replica on its tensors' device, and gradients go in one
    bucket per dtype.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 init_sync=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"module must be a fastdl.nn.Module, got {type(module).__name__}")
        self.process_group = dist._group(process_group)
        self.module = module
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self._sync_after_backward = False
        self._sync_queued = False
        self._synced_params = _unique(p for p in module.parameters() if p.requires_grad)
        if init_sync:
            _broadcast_from_rank0(_unique(module.parameters()) + self._module_buffers(),
                                  self.process_group.comm)
        hook = _on_grad_accumulated(weakref.ref(self))
        self._hook_handles = [p.register_post_accumulate_grad_hook(hook)
                              for p in self._synced_params]

    def _module_buffers(self):
        return _unique(b for b in self.module.buffers() if b is not None)

    def forward(self, *inputs, **kwargs):
        if self.require_forward_param_sync and self.broadcast_buffers:
            buffers = self._module_buffers()
            if buffers and self.process_group.size > 1:
                _broadcast_from_rank0(buffers, self.process_group.comm)
        if is_grad_enabled() and self.require_backward_grad_sync:
            self._sync_after_backward = True
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes of forwards run inside accumulate gradients locally, unsynced."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def _grad_ready(self):
        if self._sync_after_backward and not self._sync_queued:
            self._sync_queued = True
            engine.queue_callback(self._average_gradients)

    def _average_gradients(self):
        self._sync_queued = False
        self._sync_after_backward = False
        comm = self.process_group.comm
        params = self._synced_params
        has_grad = np.array([p.grad is not None for p in params], np.int32)
        comm.Allreduce(dist._mpi().IN_PLACE, has_grad, op=dist._mpi().SUM)
        missing = [i for i, count in enumerate(has_grad) if count < comm.Get_size()]
        if missing and not self.find_unused_parameters:
            raise RuntimeError(
                f"parameters {missing} (indices into module.parameters()) got no gradient on "
                f"some rank in this backward; pass find_unused_parameters=True to "
                f"DistributedDataParallel if parts of the model are unused in some iterations")
        used = [p for p, count in zip(params, has_grad) if count > 0]
        for group in _by_dtype(used):
            self._average_bucket(group, comm)

    def _average_bucket(self, group, comm):
        """Sum one dtype's gradients across ranks in a single Allreduce, then divide."""
        flat = np.zeros(sum(p._data.size for p in group), np.dtype(group[0]._data.dtype))
        offset = 0
        for p in group:
            n = p._data.size
            if p.grad is not None:
                flat[offset:offset + n] = dist.host_buffer(p.grad).ravel()
            offset += n
        dist.allreduce_array(comm, flat, dist.ReduceOp.AVG)
        offset = 0
        for p in group:
            n = p._data.size
            averaged = flat[offset:offset + n].reshape(p._data.shape)
            if p.grad is None:
                from fastdl.tensor import tensor
                p.grad = tensor(averaged.copy(), device=p.device)
            else:
                dist.write_back(p.grad, averaged)
            offset += n
