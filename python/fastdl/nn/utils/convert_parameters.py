"""``parameters_to_vector`` / ``vector_to_parameters`` (``torch.nn.utils``)."""
from __future__ import annotations


def parameters_to_vector(parameters):
    """All parameters flattened and concatenated into one 1-D tensor (differentiable: its
    gradient flows back to each parameter).

    >>> vec = fastdl.nn.utils.parameters_to_vector(model.parameters())
    """
    from fastdl.functional import cat
    from fastdl.tensor import Tensor
    params = list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"parameters_to_vector: expected Tensors, got "
                            f"{type(p).__name__} at position {i}")
    if not params:
        raise ValueError("parameters_to_vector: no parameters given")
    devices = {p.device for p in params}
    if len(devices) > 1:
        raise TypeError(f"parameters_to_vector: parameters are on several devices {devices}")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D tensor ``vec`` into the parameters' values (in
    place, without recording a gradient), as ``torch.nn.utils.vector_to_parameters``."""
    from fastdl.tensor import Tensor
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, got "
                        f"{type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {tuple(vec.shape)}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if total != vec.shape[0]:
        raise ValueError(f"vector_to_parameters: vec has {vec.shape[0]} elements, the "
                         f"parameters have {total}")
    data = vec.detach().data
    offset = 0
    for p in params:
        n = p.numel()
        p.data[...] = data[offset:offset + n].reshape(p.data.shape)
        offset += n
