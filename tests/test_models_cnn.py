"""fastdl.models CNNs against PyTorch references written with torchvision's module names
(torchvision's wheel needs a CUDA torch here; the references below, and the ResNet in
fastdl.bench.resnet that the benchmark also runs, follow its source).

A reference with random weights gives its state_dict to the fastdl model: the keys, shapes and
dtypes must be the same, and after load_state_dict the outputs (train and eval mode), the
running statistics and every gradient must match (float64, so the comparison is tight)."""
from __future__ import annotations

import numpy as np
import pytest

import fastdl
from fastdl import models
from fastdl.bench.resnet import torch_resnet

torch = pytest.importorskip("torch")
tnn = torch.nn


@pytest.fixture(autouse=True)
def _one_thread():
    """Small float64 convolutions: one thread (a second one only waits on a shared host)."""
    before = fastdl.get_num_threads()
    fastdl.set_num_threads(1)
    yield
    fastdl.set_num_threads(before)


# ---- torch references (torchvision's structure and names) ---------------------------------
def _make_divisible(v, divisor=8):
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class TConvBNAct(tnn.Sequential):
    def __init__(self, cin, cout, k=3, stride=1, groups=1):
        super().__init__(tnn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups,
                                    bias=False),
                         tnn.BatchNorm2d(cout), tnn.ReLU6(inplace=True))


class TInvertedResidual(tnn.Module):
    def __init__(self, inp, oup, stride, t):
        super().__init__()
        hidden = int(round(inp * t))
        self.use_res_connect = stride == 1 and inp == oup
        layers = [TConvBNAct(inp, hidden, 1)] if t != 1 else []
        layers += [TConvBNAct(hidden, hidden, stride=stride, groups=hidden),
                   tnn.Conv2d(hidden, oup, 1, 1, 0, bias=False), tnn.BatchNorm2d(oup)]
        self.conv = tnn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class TMobileNetV2(tnn.Module):
    def __init__(self, num_classes=1000, width_mult=1.0):
        super().__init__()
        cin = _make_divisible(32 * width_mult)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult))
        feats = [TConvBNAct(3, cin, stride=2)]
        for t, c, n, s in [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                           [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]:
            cout = _make_divisible(c * width_mult)
            for i in range(n):
                feats.append(TInvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        feats.append(TConvBNAct(cin, self.last_channel, 1))
        self.features = tnn.Sequential(*feats)
        self.classifier = tnn.Sequential(tnn.Dropout(0.2), tnn.Linear(self.last_channel,
                                                                      num_classes))

    def forward(self, x):
        x = tnn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


class TVGG(tnn.Module):
    def __init__(self, num_classes, in_channels, batch_norm, pool_size, hidden):
        super().__init__()
        layers, c = [], in_channels
        for v in [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]:
            if v == "M":
                layers.append(tnn.MaxPool2d(2, 2))
            else:
                conv = tnn.Conv2d(c, v, 3, padding=1)
                layers += [conv, tnn.BatchNorm2d(v), tnn.ReLU(True)] if batch_norm else \
                    [conv, tnn.ReLU(True)]
                c = v
        self.features = tnn.Sequential(*layers)
        self.avgpool = tnn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = tnn.Sequential(
            tnn.Linear(512 * pool_size * pool_size, hidden), tnn.ReLU(True), tnn.Dropout(),
            tnn.Linear(hidden, hidden), tnn.ReLU(True), tnn.Dropout(),
            tnn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class TLeNet5(tnn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = tnn.Conv2d(6, 16, 5)
        self.fc1 = tnn.Linear(400, 120)
        self.fc2 = tnn.Linear(120, 84)
        self.fc3 = tnn.Linear(84, num_classes)

    def forward(self, x):
        f = tnn.functional
        x = f.max_pool2d(f.relu(self.conv1(x)), 2)
        x = f.max_pool2d(f.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(f.relu(self.fc2(f.relu(self.fc1(x)))))


# ---- comparison ----------------------------------------------------------------------------
def _randomize(module):
    """Random BatchNorm affine parameters and running statistics (fresh ones are 1/0)."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, tnn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.uniform_(-0.5, 0.5, generator=g)
                m.running_mean.uniform_(-0.2, 0.2, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)


def _load(f_model, t_model):
    t_state = t_model.state_dict()
    f_state = f_model.state_dict()
    assert list(f_state) == list(t_state)
    for key, value in t_state.items():
        assert tuple(f_state[key].shape) == tuple(value.shape), key
    f_model.load_state_dict({k: v.numpy().copy() for k, v in t_state.items()})


def compare(f_model, t_model, shape, train_modes=(True, False), rtol=1e-9, atol=1e-10):
    torch.manual_seed(0)
    t_model = t_model.double()
    _randomize(t_model)
    f_model.to(np.float64)
    _load(f_model, t_model)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    for training in train_modes:
        t_model.train(training)
        f_model.train(training)
        xt = torch.tensor(x, requires_grad=True)
        xf = fastdl.Tensor(x.copy(), requires_grad=True)
        yt, yf = t_model(xt), f_model(xf)
        np.testing.assert_allclose(yf.detach().numpy(), yt.detach().numpy(), rtol=rtol,
                                   atol=atol, err_msg=f"output (train={training})")
        g = rng.standard_normal(tuple(yt.shape))
        (yt * torch.tensor(g)).sum().backward()
        (yf * fastdl.Tensor(g)).sum().backward()
        np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg="input gradient")
        f_params = dict(f_model.named_parameters())
        for name, p in t_model.named_parameters():
            np.testing.assert_allclose(f_params[name].grad.numpy(), p.grad.numpy(), rtol=rtol,
                                       atol=atol, err_msg=f"gradient of {name}")
        t_model.zero_grad()
        f_model.zero_grad()
        f_state = f_model.state_dict()
        for key, value in t_model.state_dict().items():
            np.testing.assert_allclose(f_state[key].numpy(), value.numpy(), rtol=rtol,
                                       atol=atol, err_msg=key)


def test_resnet18_matches_torchvision_reference():
    compare(models.resnet18(num_classes=10), torch_resnet("resnet18", 10), (2, 3, 40, 40))


def test_resnet18_small_input_and_channels():
    compare(models.resnet18(num_classes=7, in_channels=1, small_input=True),
            torch_resnet("resnet18", 7, in_channels=1, small_input=True),
            (2, 1, 12, 12), train_modes=(True,))


def test_resnet50_matches_torchvision_reference():
    compare(models.resnet50(num_classes=5), torch_resnet("resnet50", 5), (1, 3, 32, 32),
            train_modes=(False,))


def test_resnet34_structure():
    f, t = models.resnet34(), torch_resnet("resnet34", 1000)
    assert [(k, tuple(v.shape)) for k, v in f.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in t.state_dict().items()]
    assert sum(int(np.prod(p.shape)) for p in f.parameters()) == 21797672


def test_mobilenet_v2_matches_torchvision_reference():
    f = models.mobilenet_v2(num_classes=10, dropout=0.0, width_mult=0.5)
    t = TMobileNetV2(10, width_mult=0.5)
    t.classifier[0].p = 0.0
    # eval mode only: torch's float64 depthwise convolution is a slow path (~30 s for a 64x64
    # train+eval comparison), and at 32x32 the last blocks' batch statistics would be over 2
    # values per channel (ill-conditioned); training-mode BatchNorm is compared on the ResNets
    compare(f, t, (1, 3, 32, 32), train_modes=(False,))
    assert sum(int(np.prod(p.shape)) for p in models.mobilenet_v2().parameters()) == 3504872


def test_vgg11_matches_torchvision_reference():
    kw = dict(in_channels=1, pool_size=1, hidden=32, dropout=0.0)
    compare(models.vgg11(10, **kw), TVGG(10, 1, False, 1, 32).eval(), (2, 1, 32, 32),
            train_modes=(False,))
    compare(models.vgg11_bn(10, **kw), TVGG(10, 1, True, 1, 32), (2, 1, 32, 32),
            train_modes=(False,))
    # torchvision's vgg11 has 132,863,336 parameters: the same formula on our layer shapes
    convs = [m for m in models.vgg11(10, **kw).features if isinstance(m, fastdl.nn.Conv2d)]
    conv_params = sum(m.weight.numel() + m.bias.numel() for m in convs) - 64 * 9  # 1 channel in
    assert conv_params + 3 * 64 * 9 + (25088 * 4096 + 4096) + (4096 * 4096 + 4096) + \
        (4096 * 1000 + 1000) == 132863336


def test_lenet5_matches_reference():
    compare(models.LeNet5(), TLeNet5(), (3, 1, 28, 28), train_modes=(True,))
    with pytest.raises(ValueError, match="too small"):
        models.LeNet5(input_size=8)


def test_models_train_a_step():
    """One SGD step on resnet18 (small input) lowers the loss on a fixed batch."""
    fastdl.manual_seed(0)
    m = models.resnet18(num_classes=3, small_input=True)
    opt = fastdl.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    x = fastdl.randn(8, 3, 8, 8)
    y = fastdl.Tensor(np.array([0, 1, 2, 0, 1, 2, 0, 1]))
    losses = []
    for _ in range(4):
        loss = fastdl.nn.functional.cross_entropy(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[-1] < losses[0]
