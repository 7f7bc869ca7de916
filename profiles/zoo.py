"""Model zoo: own definitions of standard networks, cut into blocks, with exit heads.

Why our own definitions: the profiler needs every network as an ordered list
of *blocks* (the candidate split points of DESIGN.md §9) plus BranchyNet-style
early-exit heads at named blocks; torchvision's models are neither cut that way
nor allowed here (no torchvision, no downloaded weights).  The architectures
follow the published papers layer for layer (and torchvision's reference
implementations where the papers leave a detail open), so that MAC and
parameter counts match the published ones; ``tests/test_profiles_zoo.py`` checks
them.

A model is an :class:`EarlyExitNet`: ``blocks`` (an ``nn.Sequential`` whose
named children are the blocks, in order), ``exits`` (an ``nn.ModuleDict`` from
block name to head), ``input_shape`` (without the batch dimension) and
``num_classes``.

Users bring their own network as ``"package.module:function"``: the function
takes no arguments and returns either an :class:`EarlyExitNet`, or any
``nn.Module`` that has

* ``blocks``: an ``nn.Sequential`` (its named children are the blocks), and
  optionally ``exits``: an ``nn.ModuleDict`` keyed by block name, and
  ``input_shape``: a tuple without the batch dimension;

or a plain ``nn.Sequential`` (each child is a block) with an ``input_shape``
attribute.  It may also return ``(module, input_shape)``.
"""

from __future__ import annotations

import importlib
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from profiles.model import ProfileError

__all__ = [
    "ZOO",
    "EarlyExitNet",
    "build",
    "exit_head",
    "mlp",
    "zoo_names",
]


class EarlyExitNet(nn.Module):
    """A backbone cut into named blocks, with optional exit heads after some blocks.

    ``forward`` runs the backbone only (what the final classifier sees);
    ``forward_all`` also returns each exit head's logits, in block order,
    followed by the final logits: that is what training and exit traces use.
    """

    def __init__(self, blocks: Sequence[tuple[str, nn.Module]],
                 exits: dict[str, nn.Module] | None = None, *,
                 input_shape: Sequence[int], num_classes: int,
                 name: str = "model", dataset: str | None = None) -> None:
        super().__init__()
        self.blocks = nn.Sequential(OrderedDict(blocks))
        exits = exits or {}
        unknown = [k for k in exits if k not in self.blocks._modules]
        if unknown:
            raise ProfileError(f"{name}: exit heads at unknown blocks {unknown}; "
                               f"blocks are {list(self.blocks._modules)}")
        # keep exits in block order so that trace columns follow the blocks
        ordered = [(k, exits[k]) for k in self.blocks._modules if k in exits]
        self.exits = nn.ModuleDict(OrderedDict(ordered))
        self.input_shape = tuple(int(d) for d in input_shape)
        self.num_classes = int(num_classes)
        self.model_name = name
        self.dataset = dataset  # a dataset shipped in a package that it can be trained on

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)

    def forward_all(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Logits at every exit (block order), then the final logits."""
        outs = []
        for name, block in self.blocks.named_children():
            x = block(x)
            if name in self.exits:
                outs.append(self.exits[name](x))
        outs.append(x)
        return outs


def exit_head(channels: int, num_classes: int, pool: int = 1) -> nn.Module:
    """BranchyNet-style exit: adaptive average pool to ``pool``×``pool``, then linear.

    ``pool=1`` is global average pooling (the cheapest head); small feature maps
    such as the digits nets keep a little spatial detail with ``pool=2``.
    """
    return nn.Sequential(nn.AdaptiveAvgPool2d(pool), nn.Flatten(),
                         nn.Linear(channels * pool * pool, num_classes))


def _linear_exit(features: int, num_classes: int) -> nn.Module:
    """Exit head of an MLP: the hidden vector is already pooled, so just a linear layer."""
    return nn.Sequential(nn.Linear(features, num_classes))


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1,
             act: type[nn.Module] | None = nn.ReLU) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups,
                                         bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act(inplace=True) if act in (nn.ReLU, nn.ReLU6, nn.SiLU) else act())
    return layers


# --------------------------------------------------------------------------- AlexNet


def alexnet(num_classes: int = 1000) -> EarlyExitNet:
    """AlexNet, single-tower variant (Krizhevsky 2014 "one weird trick"; torchvision's).

    Blocks: the five conv layers (with their ReLU and max-pool), then fc6, fc7, fc8.
    """
    relu = nn.ReLU
    blocks = [
        ("conv1", nn.Sequential(nn.Conv2d(3, 64, 11, 4, 2), relu(inplace=True),
                                nn.MaxPool2d(3, 2))),
        ("conv2", nn.Sequential(nn.Conv2d(64, 192, 5, padding=2), relu(inplace=True),
                                nn.MaxPool2d(3, 2))),
        ("conv3", nn.Sequential(nn.Conv2d(192, 384, 3, padding=1), relu(inplace=True))),
        ("conv4", nn.Sequential(nn.Conv2d(384, 256, 3, padding=1), relu(inplace=True))),
        ("conv5", nn.Sequential(nn.Conv2d(256, 256, 3, padding=1), relu(inplace=True),
                                nn.MaxPool2d(3, 2))),
        ("fc6", nn.Sequential(nn.AdaptiveAvgPool2d(6), nn.Flatten(), nn.Dropout(0.5),
                              nn.Linear(256 * 36, 4096), relu(inplace=True))),
        ("fc7", nn.Sequential(nn.Dropout(0.5), nn.Linear(4096, 4096), relu(inplace=True))),
        ("fc8", nn.Sequential(nn.Linear(4096, num_classes))),
    ]
    exits = {"conv2": exit_head(192, num_classes), "conv5": exit_head(256, num_classes)}
    return EarlyExitNet(blocks, exits, input_shape=(3, 224, 224), num_classes=num_classes,
                        name="alexnet")


# --------------------------------------------------------------------------- VGG-16


def vgg16(num_classes: int = 1000) -> EarlyExitNet:
    """VGG-16 (configuration D of Simonyan & Zisserman 2015), no batch norm.

    Blocks: each of the 13 conv layers (a max-pool joins the conv before it),
    then fc6, fc7, fc8: 16 blocks.
    """
    cfg = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]
    blocks: list[tuple[str, nn.Module]] = []
    cin = 3
    for stage, (cout, reps) in enumerate(cfg, start=1):
        for r in range(1, reps + 1):
            layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]
            if r == reps:
                layers.append(nn.MaxPool2d(2, 2))
            blocks.append((f"conv{stage}_{r}", nn.Sequential(*layers)))
            cin = cout
    blocks += [
        ("fc6", nn.Sequential(nn.AdaptiveAvgPool2d(7), nn.Flatten(),
                              nn.Linear(512 * 49, 4096), nn.ReLU(inplace=True), nn.Dropout())),
        ("fc7", nn.Sequential(nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout())),
        ("fc8", nn.Sequential(nn.Linear(4096, num_classes))),
    ]
    exits = {"conv2_2": exit_head(128, num_classes), "conv3_3": exit_head(256, num_classes),
             "conv4_3": exit_head(512, num_classes)}
    return EarlyExitNet(blocks, exits, input_shape=(3, 224, 224), num_classes=num_classes,
                        name="vgg16")


# --------------------------------------------------------------------------- ResNets


class BasicBlock(nn.Module):
    """ResNet basic block (two 3×3 convs) with identity or 1×1 projection shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """ResNet bottleneck (1×1, 3×3, 1×1; stride on the 3×3 as in "ResNet v1.5")."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1) -> None:
        super().__init__()
        cout = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _resnet(name: str, kind: str, layers: Sequence[int], num_classes: int,
            cifar: bool = False) -> EarlyExitNet:
    """ResNet (He et al. CVPR 2016).  Blocks: stem, every residual block, head.

    ``cifar=True`` is the common CIFAR variant: 3×3 stem, stride 1, no max-pool,
    32×32 inputs.  Exit heads sit after the last residual block of stages 1–3.
    """
    if cifar:
        stem = nn.Sequential(*_conv_bn(3, 64, 3))
    else:
        stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                             nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
    blocks: list[tuple[str, nn.Module]] = [("stem", stem)]
    exits: dict[str, nn.Module] = {}
    cin = 64
    for stage, (reps, width) in enumerate(zip(layers, (64, 128, 256, 512), strict=True),
                                          start=1):
        for r in range(reps):
            stride = 2 if (r == 0 and stage > 1) else 1
            if kind == "basic":
                block: nn.Module = BasicBlock(cin, width, stride)
                cin = width
            else:
                block = Bottleneck(cin, width, stride)
                cin = width * Bottleneck.expansion
            blocks.append((f"layer{stage}_{r}", block))
        if stage < 4:
            exits[f"layer{stage}_{reps - 1}"] = exit_head(cin, num_classes)
    blocks.append(("head", nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                         nn.Linear(cin, num_classes))))
    shape = (3, 32, 32) if cifar else (3, 224, 224)
    return EarlyExitNet(blocks, exits, input_shape=shape, num_classes=num_classes, name=name)


def resnet18(num_classes: int = 1000) -> EarlyExitNet:
    """ResNet-18 for ImageNet (3×224×224)."""
    return _resnet("resnet18", "basic", (2, 2, 2, 2), num_classes)


def resnet50(num_classes: int = 1000) -> EarlyExitNet:
    """ResNet-50 for ImageNet (3×224×224)."""
    return _resnet("resnet50", "bottleneck", (3, 4, 6, 3), num_classes)


def resnet18_cifar10(num_classes: int = 10) -> EarlyExitNet:
    """ResNet-18 for CIFAR-10 (3×32×32): 3×3 stem, no max-pool."""
    return _resnet("resnet18-cifar10", "basic", (2, 2, 2, 2), num_classes, cifar=True)


# --------------------------------------------------------------------------- MobileNetV2


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1×1 expand, 3×3 depthwise, 1×1 linear projection."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += _conv_bn(cin, hidden, 1, act=nn.ReLU6)
        layers += _conv_bn(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6)
        layers += _conv_bn(hidden, cout, 1, act=None)
        self.conv = nn.Sequential(*layers)
        self.use_residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_residual:
            return x + self.conv(x)
        return self.conv(x)


def mobilenet_v2(num_classes: int = 1000) -> EarlyExitNet:
    """MobileNetV2, width 1.0 (Sandler et al. CVPR 2018, Table 2).

    Blocks: stem conv, the 17 inverted residuals, the 1×1 conv to 1280, head.
    Exit heads at the end of the 24-, 32- and 96-channel stages.
    """
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    blocks: list[tuple[str, nn.Module]] = [("stem", nn.Sequential(*_conv_bn(3, 32, 3, 2,
                                                                            act=nn.ReLU6)))]
    exits: dict[str, nn.Module] = {}
    cin, idx = 32, 0
    for t, c, n, s in settings:
        for r in range(n):
            idx += 1
            blocks.append((f"ir{idx}", InvertedResidual(cin, c, s if r == 0 else 1, t)))
            cin = c
        if c in (24, 32, 96):
            exits[f"ir{idx}"] = exit_head(c, num_classes)
    blocks.append(("conv_last", nn.Sequential(*_conv_bn(cin, 1280, 1, act=nn.ReLU6))))
    blocks.append(("head", nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                         nn.Dropout(0.2), nn.Linear(1280, num_classes))))
    return EarlyExitNet(blocks, exits, input_shape=(3, 224, 224), num_classes=num_classes,
                        name="mobilenet_v2")


# --------------------------------------------------------------------------- EfficientNet-B0


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018) as used in EfficientNet: SiLU, sigmoid gate."""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.act = nn.SiLU(inplace=True)
        self.expand = nn.Conv2d(squeeze, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.expand(self.act(self.reduce(self.pool(x)))))


class MBConv(nn.Module):
    """EfficientNet MBConv: optional 1×1 expand, k×k depthwise, SE (ratio 0.25 of the
    block's input channels), 1×1 projection; identity shortcut when shapes allow."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += _conv_bn(cin, hidden, 1, act=nn.SiLU)
        layers += _conv_bn(hidden, hidden, kernel, stride, groups=hidden, act=nn.SiLU)
        layers.append(SqueezeExcite(hidden, max(1, cin // 4)))
        layers += _conv_bn(hidden, cout, 1, act=None)
        self.block = nn.Sequential(*layers)
        self.use_residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_residual:
            return x + self.block(x)
        return self.block(x)


def efficientnet_b0(num_classes: int = 1000) -> EarlyExitNet:
    """EfficientNet-B0 (Tan & Le ICML 2019, Table 1).

    Blocks: stem, the 16 MBConv blocks, the 1×1 conv to 1280, head.
    Exit heads at the end of the 40-, 80- and 112-channel stages.
    """
    # expand, kernel, stride, out channels, repeats
    settings = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
    blocks: list[tuple[str, nn.Module]] = [("stem", nn.Sequential(*_conv_bn(3, 32, 3, 2,
                                                                            act=nn.SiLU)))]
    exits: dict[str, nn.Module] = {}
    cin, idx = 32, 0
    for e, k, s, c, n in settings:
        for r in range(n):
            idx += 1
            blocks.append((f"mb{idx}", MBConv(cin, c, k, s if r == 0 else 1, e)))
            cin = c
        if c in (40, 80, 112):
            exits[f"mb{idx}"] = exit_head(c, num_classes)
    blocks.append(("conv_last", nn.Sequential(*_conv_bn(cin, 1280, 1, act=nn.SiLU))))
    blocks.append(("head", nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                         nn.Dropout(0.2), nn.Linear(1280, num_classes))))
    return EarlyExitNet(blocks, exits, input_shape=(3, 224, 224), num_classes=num_classes,
                        name="efficientnet_b0")


# --------------------------------------------------------------------------- small nets


def digits_cnn(num_classes: int = 10) -> EarlyExitNet:
    """A small CNN for scikit-learn's 8×8 digits (1×8×8 inputs), exits after conv1, conv2.

    Small enough to train in seconds on a CPU, so its exit traces come from a real
    evaluation (``profiles.exits``).
    """
    blocks = [
        ("conv1", nn.Sequential(*_conv_bn(1, 16, 3))),
        ("conv2", nn.Sequential(*_conv_bn(16, 32, 3), nn.MaxPool2d(2))),
        ("conv3", nn.Sequential(*_conv_bn(32, 64, 3), nn.MaxPool2d(2))),
        ("classifier", nn.Sequential(nn.Flatten(), nn.Linear(64 * 2 * 2, num_classes))),
    ]
    exits = {"conv1": exit_head(16, num_classes, pool=2),
             "conv2": exit_head(32, num_classes, pool=2)}
    return EarlyExitNet(blocks, exits, input_shape=(1, 8, 8), num_classes=num_classes,
                        name="digits-cnn", dataset="digits")


_MLP_RE = re.compile(r"^mlp[:\-](\d+(?:-\d+)+)$")


def mlp(widths: Sequence[int], name: str | None = None) -> EarlyExitNet:
    """Fully connected net ``widths[0] → … → widths[-1]`` (Capogrosso et al. FDL 2024
    notation ``mlp:800-3-3-10``: input features, hidden widths, classes).

    Blocks: one per linear layer (hidden ones with their ReLU).  Exit heads (one
    linear layer) after every hidden layer but the last one.  With 64 inputs and 10
    outputs the net fits scikit-learn's digits and is trained for its exit traces.
    """
    widths = [int(w) for w in widths]
    if len(widths) < 2 or min(widths) < 1:
        raise ProfileError(f"mlp: need at least two positive widths, got {widths}")
    blocks: list[tuple[str, nn.Module]] = []
    exits: dict[str, nn.Module] = {}
    n_layers = len(widths) - 1
    for i in range(n_layers):
        layers: list[nn.Module] = [nn.Linear(widths[i], widths[i + 1])]
        if i < n_layers - 1:
            layers.append(nn.ReLU(inplace=True))
        blocks.append((f"fc{i + 1}", nn.Sequential(*layers)))
        if i < n_layers - 2:
            exits[f"fc{i + 1}"] = _linear_exit(widths[i + 1], widths[-1])
    label = name or "mlp-" + "-".join(str(w) for w in widths)
    dataset = "digits" if (widths[0] == 64 and widths[-1] == 10) else None
    return EarlyExitNet(blocks, exits, input_shape=(widths[0],), num_classes=widths[-1],
                        name=label, dataset=dataset)


def digits_mlp() -> EarlyExitNet:
    """``mlp:64-64-32-10`` on scikit-learn's digits, with an exit after the first layer."""
    return mlp([64, 64, 32, 10], name="digits-mlp")


ZOO: dict[str, Callable[[], EarlyExitNet]] = {
    "alexnet": alexnet,
    "vgg16": vgg16,
    "resnet18": resnet18,
    "resnet50": resnet50,
    "mobilenet_v2": mobilenet_v2,
    "efficientnet_b0": efficientnet_b0,
    "resnet18-cifar10": resnet18_cifar10,
    "digits-cnn": digits_cnn,
    "digits-mlp": digits_mlp,
}
"""Zoo names → constructors; ``mlp:…`` names are parsed, ``module:function`` imported."""


def zoo_names() -> list[str]:
    """Every fixed zoo name (``mlp:W0-W1-…`` is open-ended and not listed)."""
    return list(ZOO)


def _from_user(spec: str) -> EarlyExitNet:
    """Import ``module:function`` and wrap what it returns (see the module docstring)."""
    mod_name, _, fn_name = spec.partition(":")
    try:
        module = importlib.import_module(mod_name)
    except ImportError as exc:
        raise ProfileError(f"model '{spec}': cannot import module '{mod_name}': {exc}") from exc
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise ProfileError(f"model '{spec}': module '{mod_name}' has no function '{fn_name}'")
    return wrap(fn(), name=spec)


def wrap(obj: Any, name: str = "custom") -> EarlyExitNet:
    """Turn a user's model into an :class:`EarlyExitNet` without copying weights."""
    input_shape = None
    if isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], nn.Module):
        obj, input_shape = obj
    if isinstance(obj, EarlyExitNet):
        if input_shape is not None:
            obj.input_shape = tuple(int(d) for d in input_shape)
        return obj
    if not isinstance(obj, nn.Module):
        raise ProfileError(f"model '{name}': the function must return an nn.Module "
                           f"(or (module, input_shape)), got {type(obj).__name__}")
    if isinstance(obj, nn.Sequential):
        blocks_mod, exits_mod = obj, None
    elif isinstance(getattr(obj, "blocks", None), nn.Sequential):
        blocks_mod, exits_mod = obj.blocks, getattr(obj, "exits", None)
    else:
        raise ProfileError(f"model '{name}': {type(obj).__name__} needs a 'blocks' attribute "
                           f"that is an nn.Sequential (its children are the split points), "
                           f"or must itself be an nn.Sequential")
    shape = input_shape if input_shape is not None else getattr(obj, "input_shape", None)
    if shape is None:
        raise ProfileError(f"model '{name}': give the input shape (without batch) as an "
                           f"'input_shape' attribute or return (module, input_shape)")
    exits = dict(exits_mod.items()) if isinstance(exits_mod, nn.ModuleDict) else {}
    num_classes = int(getattr(obj, "num_classes", 0) or 0)
    return EarlyExitNet(list(blocks_mod.named_children()), exits, input_shape=shape,
                        num_classes=num_classes, name=name)


def build(model: str) -> EarlyExitNet:
    """Construct a zoo model by name, an ``mlp:W0-…-Wn`` net, or a user's ``module:function``.

    Weights are freshly initialised (seeded by the caller if it cares): profiles
    depend on the architecture, not on the weights.
    """
    key = model.strip()
    if key in ZOO:
        return ZOO[key]()
    match = _MLP_RE.match(key)
    if match:
        widths = [int(w) for w in match.group(1).split("-")]
        return mlp(widths, name="mlp-" + match.group(1))
    if ":" in key and not key.startswith("mlp"):
        return _from_user(key)
    raise ProfileError(f"unknown model '{model}'; zoo models: {', '.join(ZOO)}; or "
                       f"'mlp:800-3-3-10' (input-hidden…-classes), or 'package.module:function' "
                       f"returning an nn.Module with 'blocks'")
