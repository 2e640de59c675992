"""Optimiser construction and the warm-up + cosine learning-rate schedule of a training stage."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["OPTIMIZERS", "build_optimizer", "warmup_cosine"]

#: Optimisers understood by ``SurrogateConfig.optimizer``.
OPTIMIZERS: tuple[str, ...] = ("adam", "adamw")

# Parameters that weight decay acts on: weight matrices (and BNN weight means), never biases or log-variances.
_DECAYED_SUFFIXES = ("weight", "weight_mu")


def build_optimizer(net: nn.Module, name: str, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam or AdamW over ``net``'s parameters; decoupled weight decay (AdamW) on weight matrices only.

    Parameters
    ----------
    net : torch.nn.Module
        The network.
    name : {"adam", "adamw"}
        Optimiser.
    lr : float
        Initial learning rate.
    weight_decay : float
        AdamW's decoupled decay (ignored by Adam).
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer: {name!r} is not one of {', '.join(OPTIMIZERS)}")
    if name == "adam":
        return _fused(torch.optim.Adam, list(net.parameters()), lr)
    decayed, plain = [], []
    for pname, p in net.named_parameters():
        (decayed if pname.endswith(_DECAYED_SUFFIXES) else plain).append(p)
    groups = [{"params": decayed, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]
    return _fused(torch.optim.AdamW, [g for g in groups if g["params"]], lr)


def _fused(cls: type[torch.optim.Optimizer], params: list, lr: float) -> torch.optim.Optimizer:
    """The fused implementation where this torch has it for the parameters' device (CPU since torch 2.4: a
    4 × 128 step takes 4.2 instead of 6.3 ms on 2 threads, BENCHMARKS.md), else the multi-tensor one."""
    try:
        return cls(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return cls(params, lr=lr, foreach=True)


def warmup_cosine(progress: float, lr: float, lr_min: float, warmup: float) -> float:
    """Learning rate at ``progress`` ∈ [0, 1] of a stage: linear warm-up, then cosine decay to ``lr_min``.

    Parameters
    ----------
    progress : float
        Fraction of the stage done (steps or wall time); values outside [0, 1] are clipped.
    lr, lr_min : float
        Peak and final learning rate.
    warmup : float
        Fraction of the stage spent rising linearly from ``lr_min`` to ``lr``.
    """
    p = min(max(progress, 0.0), 1.0)
    if warmup > 0 and p < warmup:
        return lr_min + (lr - lr_min) * p / warmup
    q = (p - warmup) / max(1.0 - warmup, 1e-12)
    return lr_min + 0.5 * (lr - lr_min) * (1.0 + math.cos(math.pi * q))
