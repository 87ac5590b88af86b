"""`fastdl bench resnet18`: one ResNet training step (forward, cross-entropy, backward, SGD with
momentum) at batch 16 x 3 x 64 x 64, fastdl vs PyTorch (the same architecture with
torchvision's module names, the same weights) in this process, at 1 and 2 threads.

Both libraries' steps are timed interleaved, call by call (medians of `--repeats`); each row
shows ms per step, the ratio torch / fastdl (> 1: fastdl is faster) and GFLOP/s and % of the
fp32 FMA peak measured in this run at that thread count. FLOPs: the convolutions' and the
classifier's forward (2 * N * K * C/groups * kernel volume * output plane, counted on the
model's real shapes) times 3 for forward + backward; the element-wise work is not counted.
`--profile` adds fastdl's step under cProfile (where the time goes besides the convolutions).
`--quick` shrinks the step (batch 2, 32 x 32) so the command can run in a test.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats

import numpy as np

from fastdl.bench.common import interleaved_seconds, markdown_table, peak_gflops

MODELS = {"resnet18": ("basic", [2, 2, 2, 2]), "resnet34": ("basic", [3, 4, 6, 3]),
          "resnet50": ("bottleneck", [3, 4, 6, 3])}


def torch_resnet(name, num_classes=10, in_channels=3, small_input=False):
    """torchvision's ResNet (v1.5) in plain torch with its module names (torchvision's wheel needs
    a CUDA torch here): a state_dict of it loads into fastdl.models.<name> built with the same
    arguments (``small_input``: fastdl's 3x3 stride-1 stem without the max pool)."""
    import torch
    from torch import nn

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = downsample

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            out += identity
            return self.relu(out)

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * 4)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            out += identity
            return self.relu(out)

    class ResNet(nn.Module):
        def __init__(self, block, layers):
            super().__init__()
            self.inplanes = 64
            self.conv1 = (nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False) if small_input
                          else nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False))
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.Identity() if small_input else nn.MaxPool2d(3, 2, 1)
            self.layer1 = self._make_layer(block, 64, layers[0])
            self.layer2 = self._make_layer(block, 128, layers[1], 2)
            self.layer3 = self._make_layer(block, 256, layers[2], 2)
            self.layer4 = self._make_layer(block, 512, layers[3], 2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512 * block.expansion, num_classes)

        def _make_layer(self, block, planes, blocks, stride=1):
            downsample = None
            if stride != 1 or self.inplanes != planes * block.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                    nn.BatchNorm2d(planes * block.expansion))
            layers = [block(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes * block.expansion
            layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    kind, layers = MODELS[name]
    return ResNet(BasicBlock if kind == "basic" else Bottleneck, layers)


def forward_flops(model, x) -> float:
    """Convolution and Linear FLOPs of one forward of the fastdl ``model`` on ``x``, from the
    output shapes its layers produce."""
    import fastdl
    from fastdl import nn
    total = [0.0]

    def conv_hook(m, inputs, out):
        k = float(np.prod(m.kernel_size))
        total[0] += 2.0 * out.numel() * (m.in_channels // m.groups) * k

    def linear_hook(m, inputs, out):
        total[0] += 2.0 * out.numel() * m.in_features

    handles = [m.register_forward_hook(conv_hook if isinstance(m, nn.Conv2d) else linear_hook)
               for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with fastdl.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return total[0]


def make_steps(name, batch, size, seed=0):
    """(fastdl step, torch step, fastdl model, input): the same weights and batch on both."""
    import torch

    import fastdl
    from fastdl import models
    from fastdl.nn import functional as F
    t_model = torch_resnet(name)
    f_model = getattr(models, name)(num_classes=10)
    f_model.load_state_dict({k: v.detach().numpy().copy()
                             for k, v in t_model.state_dict().items()})
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 3, size, size), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    fx, fy = fastdl.tensor(x), fastdl.tensor(y)
    tx, ty = torch.tensor(x), torch.tensor(y)
    f_opt = fastdl.optim.SGD(f_model.parameters(), lr=0.01, momentum=0.9)
    t_opt = torch.optim.SGD(t_model.parameters(), lr=0.01, momentum=0.9)
    f_model.train()
    t_model.train()

    def f_step():
        loss = F.cross_entropy(f_model(fx), fy)
        f_opt.zero_grad()
        loss.backward()
        f_opt.step()

    def t_step():
        loss = torch.nn.functional.cross_entropy(t_model(tx), ty)
        t_opt.zero_grad()
        loss.backward()
        t_opt.step()

    return f_step, t_step, f_model, fx


def measure(name, threads_list, repeats, quick=False):
    """[(threads, {library: seconds}, GFLOP per step, peak GFLOP/s)]."""
    import torch

    import fastdl
    batch, size = (2, 32) if quick else (16, 64)
    results = []
    before = (fastdl.get_num_threads(), torch.get_num_threads())
    try:
        for threads in threads_list:
            fastdl.set_num_threads(threads)
            torch.set_num_threads(threads)
            peak = peak_gflops(threads)
            f_step, t_step, f_model, fx = make_steps(name, batch, size)
            gflop = 3 * forward_flops(f_model, fx) * 1e-9
            secs = interleaved_seconds({"fastdl": f_step, "torch": t_step}, repeats,
                                       0.25 if threads > 1 else 0.0)
            results.append((threads, secs, gflop, peak))
    finally:
        fastdl.set_num_threads(before[0])
        torch.set_num_threads(before[1])
    return results


def table(results):
    headers = ["threads", "fastdl ms", "torch ms", "torch / fastdl", "fastdl GFLOP/s",
               "fastdl % peak", "torch % peak"]
    rows = []
    for threads, secs, gflop, peak in results:
        f, t = secs["fastdl"], secs["torch"]
        rows.append([threads, f * 1e3, t * 1e3, t / f, gflop / f, 100 * gflop / f / peak,
                     100 * gflop / t / peak])
    return markdown_table(headers, rows)


def profile(name, threads, quick=False, top=18):
    """fastdl's step under cProfile: the functions with the most time of their own."""
    import fastdl
    batch, size = (2, 32) if quick else (16, 64)
    before = fastdl.get_num_threads()
    fastdl.set_num_threads(threads)
    try:
        f_step = make_steps(name, batch, size)[0]
        f_step()
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(3):
            f_step()
        prof.disable()
    finally:
        fastdl.set_num_threads(before)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv=None, default_model="resnet18"):
    parser = argparse.ArgumentParser(prog=f"fastdl bench {default_model}", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=default_model, choices=sorted(MODELS))
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--repeats", type=int, default=7, help="timed steps per library (median)")
    parser.add_argument("--quick", action="store_true", help="batch 2 at 32x32 (for tests)")
    parser.add_argument("--profile", action="store_true",
                        help="also print fastdl's step under cProfile (3 steps, top functions)")
    args = parser.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]
    import fastdl
    from fastdl import _C
    shape = "2x3x32x32" if args.quick else "16x3x64x64"
    print(f"# fastdl bench {args.model}: one training step (forward, cross-entropy, backward, "
          f"SGD momentum 0.9) at {shape}, float32, {_C.simd_path()} kernels; fastdl "
          f"{fastdl.__version__}; medians of {args.repeats} interleaved steps")
    results = measure(args.model, threads, args.repeats, args.quick)
    for threads_, _, gflop, peak in results:
        print(f"# {threads_} thread(s): peak {peak:.0f} GFLOP/s measured now; {gflop:.2f} GFLOP "
              f"per step (convolutions + classifier, fwd + bwd)")
    print(table(results))
    if args.profile:
        print(profile(args.model, threads[-1], args.quick))
    return results


if __name__ == "__main__":
    main()
