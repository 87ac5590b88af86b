"""fastdl.models.ViT: a torch module with torchvision's VisionTransformer names and structure
(written here with torch.nn: torchvision's wheel needs a CUDA torch) loads into ours and gives the
same logits and gradients; bad input is refused; a few steps lower the loss."""
from collections import OrderedDict

import numpy as np
import pytest

import fastdl
from fastdl.models import ViT
from helpers import one_thread  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")

torch = pytest.importorskip("torch")
tnn = torch.nn


class _TorchMLP(tnn.Sequential):
    def __init__(self, d, m):
        super().__init__(tnn.Linear(d, m), tnn.GELU(), tnn.Dropout(0.0), tnn.Linear(m, d),
                         tnn.Dropout(0.0))


class _TorchBlock(tnn.Module):  # torchvision.models.vision_transformer.EncoderBlock
    def __init__(self, heads, d, m):
        super().__init__()
        self.ln_1 = tnn.LayerNorm(d, eps=1e-6)
        self.self_attention = tnn.MultiheadAttention(d, heads, batch_first=True)
        self.dropout = tnn.Dropout(0.0)
        self.ln_2 = tnn.LayerNorm(d, eps=1e-6)
        self.mlp = _TorchMLP(d, m)

    def forward(self, x):
        h = self.ln_1(x)
        h, _ = self.self_attention(h, h, h, need_weights=False)
        x = self.dropout(h) + x
        return x + self.mlp(self.ln_2(x))


class _TorchEncoder(tnn.Module):
    def __init__(self, seq, layers, heads, d, m):
        super().__init__()
        self.pos_embedding = tnn.Parameter(torch.empty(1, seq, d).normal_(std=0.02))
        self.dropout = tnn.Dropout(0.0)
        self.layers = tnn.Sequential(OrderedDict(
            (f"encoder_layer_{i}", _TorchBlock(heads, d, m)) for i in range(layers)))
        self.ln = tnn.LayerNorm(d, eps=1e-6)

    def forward(self, x):
        return self.ln(self.layers(self.dropout(x + self.pos_embedding)))


class _TorchViT(tnn.Module):  # torchvision.models.VisionTransformer's names and forward
    def __init__(self, image, patch, layers, heads, d, m, classes, channels):
        super().__init__()
        self.patch, self.d = patch, d
        self.conv_proj = tnn.Conv2d(channels, d, patch, stride=patch)
        self.class_token = tnn.Parameter(torch.randn(1, 1, d))
        self.encoder = _TorchEncoder((image // patch) ** 2 + 1, layers, heads, d, m)
        self.heads = tnn.Sequential(OrderedDict(head=tnn.Linear(d, classes)))

    def forward(self, x):
        n = x.shape[0]
        x = self.conv_proj(x).reshape(n, self.d, -1).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        return self.heads(self.encoder(x)[:, 0])


def test_torchvision_state_dict_loads_and_matches():
    torch.manual_seed(0)
    args = dict(image=12, patch=4, layers=2, heads=3, d=24, m=40, classes=7, channels=2)
    ref = _TorchViT(**args).double()
    model = ViT(image_size=12, patch_size=4, num_layers=2, num_heads=3, hidden_dim=24,
                mlp_dim=40, num_classes=7, in_channels=2).to(dtype=np.float64)
    ours, theirs = model.state_dict(), ref.state_dict()
    assert sorted(ours) == sorted(theirs)
    model.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.items()})
    x = np.random.default_rng(0).standard_normal((3, 2, 12, 12))
    fx = fastdl.tensor(x)
    out = model(fx)
    tx = torch.tensor(x)
    tout = ref(tx)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-9,
                               atol=1e-10)
    g = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(fastdl.tensor(g))
    tout.backward(torch.tensor(g))
    tgrads = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tgrads[name].grad.numpy(), rtol=1e-7,
                                   atol=1e-10, err_msg=name)


def test_bad_input_and_shapes():
    with pytest.raises(ValueError, match="multiple of patch_size"):
        ViT(image_size=10, patch_size=4)
    model = ViT(image_size=8, patch_size=4, num_layers=1, num_heads=2, hidden_dim=8, mlp_dim=16,
                num_classes=3, in_channels=1)
    with pytest.raises(ValueError, match=r"8x8 images.*\(2, 1, 12, 12\)"):
        model(fastdl.randn(2, 1, 12, 12))
    with pytest.raises(ValueError, match="expected"):
        model(fastdl.randn(1, 8, 8))
    # torchvision's initialization: zero class token and head, so the logits start at 0
    assert not model(fastdl.randn(2, 1, 8, 8)).detach().numpy().any()


def test_training_lowers_the_loss():
    fastdl.manual_seed(0)
    model = ViT(image_size=8, patch_size=4, num_layers=1, num_heads=2, hidden_dim=16,
                mlp_dim=32, num_classes=3, in_channels=1)
    opt = fastdl.optim.AdamW(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 24)
    x = (rng.standard_normal((24, 1, 8, 8)) * 0.3 + y[:, None, None, None]).astype(np.float32)
    losses = []
    for _ in range(30):
        loss = fastdl.nn.functional.cross_entropy(model(fastdl.tensor(x)), fastdl.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("module", ["fastdl.models.vit", "fastdl.models.t5"])
def test_docstring_examples_run(module):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(module), extraglobs={"fastdl": fastdl},
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 6
