"""Exit behaviour: traces from a real evaluation, or a stated parametric model.

Why traces: whether a sample leaves at exit 1 and whether it would have left at
exit 2 are strongly correlated (easy samples are easy everywhere).  A trace
keeps, per held-out sample and per exit, the max-softmax confidence and whether
the exit's prediction was right; the engine draws one sample per request, so
that correlation survives into the simulation (DESIGN.md §5).

Traces need trained weights and a dataset that ships inside a package:
scikit-learn's 8×8 digits (1,797 images, 10 classes) is offline and small
enough that an early-exit net trains in seconds on a CPU.  Zoo models without
trained weights (the ImageNet and CIFAR ones) get parametric exits whose
accuracies are *assumptions*, and the profile's ``provenance`` says so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from profiles.sparsity import LayerMask, apply_masks
from profiles.zoo import EarlyExitNet

__all__ = ["DigitsSplit", "ExitTraining", "digits_split", "parametric_exits",
           "published_top1", "train_and_trace"]

TRACE_SAMPLES = 500
"""Held-out digits kept for the trace (files stay small: ≤ 500 rows)."""


@dataclass(frozen=True)
class DigitsSplit:
    """scikit-learn digits, features scaled to [0, 1], a fixed stratified split."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def digits_split(seed: int = 0, test_size: int = TRACE_SAMPLES) -> DigitsSplit:
    """Load digits (shipped with scikit-learn, no download) and split train/test."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_size, random_state=seed,
                                              stratify=y)
    return DigitsSplit(x_tr, y_tr, x_te, y_te)


@dataclass(frozen=True)
class ExitTraining:
    """The outcome of training an early-exit net: its trace and how it was made."""

    exit_blocks: tuple[str, ...]
    confidence: list[list[float]]
    correct: list[list[int]]
    accuracy: list[float]  # per exit, last = final layer, on the held-out samples
    source: str
    seconds: float


def train_and_trace(net: EarlyExitNet, masks: Mapping[str, LayerMask] | None = None, *,
                    epochs: int = 20, lr: float = 1e-2, batch: int = 128, seed: int = 0,
                    samples: int = TRACE_SAMPLES) -> ExitTraining:
    """Train ``net`` jointly at every exit on digits, then record its exit trace.

    BranchyNet training (Teerapittayanon et al. ICPR 2016): the loss is the sum
    of the cross-entropies of all exits and the final layer.  Predefined-sparse
    masks are applied before training and kept by gradient masking.
    Confidence = max softmax probability, rounded to 4 decimals.  Runs on one
    CPU thread: for a net this small, thread hand-offs cost more than they save
    (and the result does not depend on the machine's core count).
    """
    if net.dataset != "digits":
        raise ValueError(f"{net.model_name}: no shipped dataset to train on")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(net, masks, epochs=epochs, lr=lr, batch=batch, seed=seed,
                      samples=samples)
    finally:
        torch.set_num_threads(threads)


def _train(net: EarlyExitNet, masks: Mapping[str, LayerMask] | None, *, epochs: int,
           lr: float, batch: int, seed: int, samples: int) -> ExitTraining:
    torch.manual_seed(seed)
    data = digits_split(seed=seed, test_size=samples)
    shape = (-1, *net.input_shape)
    x_tr = torch.from_numpy(data.x_train).reshape(shape)
    y_tr = torch.from_numpy(data.y_train)
    x_te = torch.from_numpy(data.x_test).reshape(shape)
    y_te = torch.from_numpy(data.y_test)
    handles = apply_masks(net.blocks, dict(masks or {}))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x_tr), generator=gen)
        for i in range(0, len(perm), batch):
            idx = perm[i:i + batch]
            outs = net.forward_all(x_tr[idx])
            loss = sum(loss_fn(o, y_tr[idx]) for o in outs)
            opt.zero_grad()
            loss.backward()  # type: ignore[union-attr]
            opt.step()
    seconds = time.perf_counter() - start
    for h in handles:
        h.remove()  # type: ignore[attr-defined]
    net.eval()
    with torch.no_grad():
        probs = [torch.softmax(o, dim=1) for o in net.forward_all(x_te)]
    conf = torch.stack([p.max(dim=1).values for p in probs], dim=1).numpy()
    right = torch.stack([(p.argmax(dim=1) == y_te) for p in probs], dim=1).numpy()
    conf = np.round(conf.astype(np.float64), 4)
    source = (f"trained {epochs} epochs (Adam lr={lr}, batch {batch}, seed {seed}, joint "
              f"BranchyNet loss) on {len(x_tr)} scikit-learn digits; evaluated on "
              f"{len(x_te)} held-out digits")
    return ExitTraining(exit_blocks=tuple(net.exits.keys()),
                        confidence=conf.tolist(), correct=right.astype(int).tolist(),
                        accuracy=[round(float(a), 4) for a in right.mean(axis=0)],
                        source=source, seconds=seconds)


PUBLISHED_TOP1: dict[str, tuple[float, str]] = {
    "alexnet": (0.5652, "torchvision model card, IMAGENET1K_V1 top-1 56.52%"),
    "vgg16": (0.7159, "torchvision model card, IMAGENET1K_V1 top-1 71.59%"),
    "resnet18": (0.6976, "torchvision model card, IMAGENET1K_V1 top-1 69.76%"),
    "resnet50": (0.7613, "torchvision model card, IMAGENET1K_V1 top-1 76.13%"),
    "mobilenet_v2": (0.7188, "torchvision model card, IMAGENET1K_V1 top-1 71.88%"),
    "efficientnet_b0": (0.7769, "torchvision model card, IMAGENET1K_V1 top-1 77.69%"),
    "resnet18-cifar10": (0.95, "assumed 0.95: the usual CIFAR-10 test accuracy of a "
                               "trained ResNet-18; not measured here"),
}
"""Final-layer accuracy assumed for models profiled without trained weights."""


def published_top1(name: str) -> tuple[float, str]:
    """(accuracy, source) for the final layer of an untrained zoo model."""
    return PUBLISHED_TOP1.get(name, (0.9, "assumed 0.9 (no published figure for this model)"))


def parametric_exits(exit_fraction: Sequence[float], final_accuracy: float,
                     num_classes: int, concentration: float = 6.0) -> list[dict[str, Any]]:
    """Assumed accuracy at each exit from how much of the backbone it has seen.

    ``exit_fraction`` is the share of the backbone's MACs done before each exit.
    Assumption (stated in provenance, not measured): accuracy rises from chance
    ``1/num_classes`` to ``final_accuracy`` as the square root of that share —
    early exits gain fast, as the BranchyNet/SDN papers show qualitatively.
    """
    chance = 1.0 / max(num_classes, 1)
    out = []
    for f in exit_fraction:
        acc = chance + (final_accuracy - chance) * math.sqrt(min(max(f, 0.0), 1.0))
        out.append({"kind": "parametric", "accuracy": round(acc, 4),
                    "concentration": concentration})
    return out
