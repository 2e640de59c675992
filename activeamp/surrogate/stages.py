"""Training stages of a surrogate: limits, the plateau rule, the learning rate per step, validation cadence, progress.

A stage is a plain ``dict`` (it is part of checkpoints): ``index``, ``start`` and ``target`` (epochs), ``best``
(monitored loss), ``bad`` (epochs without improvement), ``done``, ``converged``, ``seconds``, ``max_seconds``
and ``calibrated``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from activeamp.surrogate.config import SurrogateConfig
from activeamp.surrogate.optim import warmup_cosine

__all__ = [
    "format_progress_line",
    "lr_function",
    "start_stage",
    "step_schedule",
    "steps_per_epoch",
    "update_stage",
    "validate_now",
]

_VALIDATE_EVERY_STEPS = 500  # optimiser steps between validations in cosine stages


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Optimiser steps per epoch over ``n`` training points (global batches in data-parallel training)."""
    return max(-(-n // batch_size), 1)


def start_stage(
    config: SurrogateConfig,
    previous: dict[str, Any] | None,
    epoch: int,
    n_train: int,
    max_epochs: int | None = None,
    max_steps: int | None = None,
    max_seconds: float | None = None,
) -> dict[str, Any]:
    """A new stage after ``previous`` (None: the first), starting at ``epoch`` over ``n_train`` training points.

    Its epoch limit is ``max_epochs`` (default ``config.max_epochs``), lowered to the epochs that
    ``max_steps`` optimiser steps take (default ``config.max_steps``; 0: no step limit); ``max_seconds``
    (default ``config.max_seconds``; 0: none) limits its training time.
    """
    limit = config.max_epochs if max_epochs is None else int(max_epochs)
    if limit < 1:
        raise ValueError(f"max_epochs: must be >= 1, got {max_epochs}")
    steps = config.max_steps if max_steps is None else int(max_steps)
    if steps > 0:
        limit = min(limit, -(-steps // steps_per_epoch(n_train, config.batch_size)))
    index = 0 if previous is None else previous["index"] + 1
    stage = {"index": index, "start": epoch, "target": epoch + limit, "best": math.inf, "bad": 0}
    seconds = config.max_seconds if max_seconds is None else float(max_seconds)
    stage.update(done=False, converged=False, seconds=0.0, max_seconds=seconds, calibrated=False)
    return stage


def lr_function(
    config: SurrogateConfig, stage: dict[str, Any], epoch: int, n: int, t0: float
) -> Callable[[int], float] | None:
    """Learning rate per step of the coming epoch (cosine schedule), or None for per-epoch schedules.

    ``epoch``: completed epochs; ``n``: training points; ``t0``: :func:`time.perf_counter` at the epoch's start
    (a time-limited stage decays by the larger of its step and time fractions).
    """
    if config.lr_schedule != "cosine":
        return None
    per_epoch = steps_per_epoch(n, config.batch_size)
    total = max((stage["target"] - stage["start"]) * per_epoch, 1)
    done = (epoch - stage["start"]) * per_epoch
    max_seconds = stage.get("max_seconds", 0.0)
    before = stage.get("seconds", 0.0)

    def lr_at(step: int) -> float:
        progress = (done + step) / total
        if max_seconds > 0:
            progress = max(progress, (before + time.perf_counter() - t0) / max_seconds)
        return warmup_cosine(progress, config.lr, config.lr_min, config.warmup)

    return lr_at


def step_schedule(scheduler: Any, monitored: float) -> None:
    """Advance a per-epoch learning-rate ``scheduler`` (None: nothing to do); a plateau scheduler sees ``monitored``."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(monitored)
    elif scheduler is not None:
        scheduler.step()


def validate_now(config: SurrogateConfig, stage: dict[str, Any], epoch: int, n: int, epoch_seconds: float) -> bool:
    """Whether to evaluate the validation set after the epoch that follows ``epoch`` completed ones.

    Every epoch, except in cosine stages (no plateau rule): there once per ``_VALIDATE_EVERY_STEPS``
    optimiser steps, and after the stage's last epoch, so that small data sets do not spend their time
    validating.
    """
    if config.lr_schedule != "cosine":
        return True
    per_epoch = steps_per_epoch(n, config.batch_size)
    every = max(-(-_VALIDATE_EVERY_STEPS // per_epoch), 1)
    done = epoch + 1 - stage["start"]
    last = epoch + 1 >= stage["target"] or (
        stage.get("max_seconds", 0.0) > 0 and stage.get("seconds", 0.0) + epoch_seconds >= stage["max_seconds"]
    )
    return last or done % every == 0


def update_stage(config: SurrogateConfig, stage: dict[str, Any], epoch: int, monitored: float) -> None:
    """Plateau rule: improvement means ``monitored < best − tol · max(|best|, 1)``; epoch and time limits.

    Updates ``stage`` in place after an epoch (``epoch``: completed epochs, that one included). A cosine stage
    runs to its epoch or time limit (its learning rate only gets small at the end).
    """
    best = stage["best"]
    if not math.isfinite(best) or monitored < best - config.tol * max(abs(best), 1.0):
        stage["best"], stage["bad"] = monitored, 0
    else:
        stage["bad"] += 1
    if stage["bad"] >= config.patience and config.lr_schedule != "cosine":
        stage["converged"] = stage["done"] = True
    if epoch >= stage["target"]:
        stage["done"] = True
    if stage.get("max_seconds", 0.0) > 0 and stage.get("seconds", 0.0) >= stage["max_seconds"]:
        stage["done"] = True


def format_progress_line(stage: dict[str, Any] | None, history: Sequence[dict[str, Any]]) -> str | None:
    """The training state in one line: stage, epoch, losses, validation precision, learning rate, time.

    None before the first epoch (no ``stage`` or empty ``history``).
    """
    if stage is None or not history:
        return None
    last = history[-1]
    parts = [f"stage {stage['index']}: epoch {last['epoch'] - stage['start']}/{stage['target'] - stage['start']}"]
    parts.append(f"loss {last['train_loss']:.4g}")
    if "val_loss" in last:
        parts.append(f"val loss {last['val_loss']:.4g}")
    if "val_delta68" in last:
        parts.append(f"val |Δ| 68% {last['val_delta68']:.3g}")
    parts.append(f"lr {last['lr']:.2g}")
    parts.append(f"{stage.get('seconds', 0.0):.0f} s")
    return ", ".join(parts)
