"""Your own network, ready for ``splitsim profile tiny_net:build``.

The profiler imports ``module:function``, calls the function with no
arguments and reads what it returns (see profiles/zoo.py):

* ``blocks``: an ``nn.Sequential`` whose named children are the blocks, in
  order.  Every block boundary is a candidate split point, so make a block of
  whatever should stay together on one side of a cut.
* ``exits`` (optional): an ``nn.ModuleDict`` from a block's name to an
  early-exit head that runs on that block's output.
* ``input_shape``: one input without the batch dimension.
* ``num_classes`` (optional): used for the assumed accuracy of the exits.

A plain ``nn.Sequential`` with an ``input_shape`` attribute, or a function
returning ``(module, input_shape)``, works too.  Weights do not matter for the
counts; the profiler never trains a user's network.
"""

from __future__ import annotations

from torch import nn


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2))


class TinyNet(nn.Module):
    """A 3-block CNN for 32×32 RGB images with one early exit after block 2."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.blocks = nn.Sequential()
        self.blocks.add_module("conv1", _conv(3, 16))    # → 16×16×16: 16 KiB at float32
        self.blocks.add_module("conv2", _conv(16, 32))   # → 32×8×8: 8 KiB, below the input
        self.blocks.add_module("conv3", _conv(32, 64))   # → 64×4×4: 4 KiB
        self.blocks.add_module("head", nn.Sequential(nn.Flatten(),
                                                     nn.Linear(64 * 4 * 4, num_classes)))
        self.exits = nn.ModuleDict({"conv2": nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, num_classes))})
        self.input_shape = (3, 32, 32)
        self.num_classes = num_classes

    def forward(self, x):
        return self.blocks(x)


def build() -> TinyNet:
    """What ``splitsim profile tiny_net:build`` calls."""
    return TinyNet()
