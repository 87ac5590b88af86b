"""nn.Buffer (torch >= 2.5) against torch 2.13: registration on assignment, persistence."""
import numpy as np
import pytest

import fastdl

torch = pytest.importorskip("torch")


def _build(nn, lib):
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.count = nn.Buffer(lib.zeros(3))
            self.scratch = nn.Buffer(lib.ones(2), persistent=False)
            self.plain = lib.ones(1)  # a plain tensor attribute is no buffer
    return M()


def test_assignment_registers_like_torch():
    tm, fm = _build(torch.nn, torch), _build(fastdl.nn, fastdl)
    assert [n for n, _ in fm.named_buffers()] == [n for n, _ in tm.named_buffers()] == \
        ["count", "scratch"]
    assert list(fm.state_dict()) == list(tm.state_dict())
    assert "scratch" not in fm.state_dict() and "plain" not in fm.state_dict()
    # torch's state_dict loads, and a reassigned non-Buffer tensor keeps the persistence
    fm.load_state_dict({k: fastdl.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    fm.scratch = fastdl.zeros(2)
    tm.scratch = torch.zeros(2)
    assert list(fm.state_dict()) == list(tm.state_dict())
    fm.scratch = fastdl.nn.Buffer(fastdl.zeros(2))  # a persistent Buffer makes it persistent
    tm.scratch = torch.nn.Buffer(torch.zeros(2))
    assert list(fm.state_dict()) == list(tm.state_dict()) and "scratch" in fm.state_dict()


def test_buffer_shares_memory_detaches_and_flags():
    base = fastdl.zeros(3)
    b = fastdl.nn.Buffer(base)
    assert isinstance(b, fastdl.nn.Buffer) and isinstance(b, fastdl.Tensor)
    assert not isinstance(base, fastdl.nn.Buffer)
    assert b.persistent is True
    b.add_(1.0)
    np.testing.assert_array_equal(base.numpy(), [1, 1, 1])
    x = fastdl.ones(2, requires_grad=True)
    y = x * 2
    bb = fastdl.nn.Buffer(y)
    assert bb.requires_grad and bb.grad_fn is None  # torch: detached, requires_grad kept
    tb = torch.nn.Buffer(torch.ones(2, requires_grad=True) * 2)
    assert tb.requires_grad == bb.requires_grad and tb.grad_fn is None
    empty = fastdl.nn.Buffer()
    assert tuple(empty.shape) == tuple(torch.nn.Buffer().shape) == (0,)
    assert fastdl.nn.Buffer(fastdl.ones(1), persistent=False).persistent is False


def test_moves_with_module_and_errors():
    m = fastdl.nn.Module()
    m.b = fastdl.nn.Buffer(fastdl.ones(2))
    m.double()
    assert m.b.dtype == fastdl.float64 and "b" in dict(m.named_buffers())
    m.w = fastdl.nn.Parameter(fastdl.ones(1))
    with pytest.raises(TypeError):
        m.w = fastdl.nn.Buffer(fastdl.ones(1))
    tm = torch.nn.Module()
    tm.w = torch.nn.Parameter(torch.ones(1))
    with pytest.raises(TypeError):
        tm.w = torch.nn.Buffer(torch.ones(1))

    class NoInit(fastdl.nn.Module):
        def __init__(self):
            self.b = fastdl.nn.Buffer(fastdl.ones(1))
    with pytest.raises(AttributeError):
        NoInit()
