"""One training epoch and one validation pass of a surrogate network, in one process or data-parallel."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from activeamp.surrogate.config import SurrogateConfig
from activeamp.surrogate.inference import chunk_size, image_outputs
from activeamp.surrogate.models import SurrogateNet, heteroscedastic_nll, squared_error
from activeamp.surrogate.networks import derive_seed
from activeamp.surrogate.preprocessing import AnyTargetTransform

__all__ = ["DataParallel", "reduce_gradients", "train_epoch", "validation_metrics"]


@dataclass(frozen=True)
class DataParallel:
    """One worker's place in data-parallel training (:attr:`.surrogate.Surrogate.data_parallel` of each worker).

    Every worker holds the full data, the same initial state and the same seeds. Each global batch of
    ``config.batch_size`` points (the same shuffled order on every worker) is split ``batch[rank::world_size]``;
    every worker weights its part's loss by its share of the batch's multiplicity, so the summed gradient is
    the single-process gradient of the whole batch, with the regulariser still normalised to the GLOBAL
    ``N_eff = Σ_j n_j``. Gradients, the epoch's loss sums and the validation NLL are summed over workers,
    so all workers take identical steps and stop at the same epoch.

    Attributes
    ----------
    rank : int
        This worker's index, ``0 <= rank < world_size``.
    world_size : int
        Number of workers.
    all_reduce : callable
        ``all_reduce(tensor)``: sum a tensor over all workers in place (e.g. ``torch.distributed.all_reduce``
        under an initialised process group). Every worker calls it equally often with equally shaped tensors.
    """

    rank: int
    world_size: int
    all_reduce: Callable[[Tensor], Any]

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(
                f"data parallel: need 0 <= rank < world_size, got rank={self.rank}, world_size={self.world_size}"
            )


def train_epoch(
    net: SurrogateNet,
    optimizer: torch.optim.Optimizer,
    config: SurrogateConfig,
    x: Tensor,
    y: Tensor,
    w: Tensor,
    n_eff: float,
    lr_at: Callable[[int], float] | None,
    *,
    shuffle_gen: torch.Generator,
    noise_gen: torch.Generator,
    device: torch.device,
    data_parallel: DataParallel | None = None,
) -> tuple[float, ...]:
    """One pass over shuffled batches; returns the batch-weight-averaged loss, NLL and normalised penalty.

    ``x`` has shape ``(G, N, d)``: each point enters each batch as one random image of its symmetry group; ``y``
    the preprocessed targets, ``w`` the multiplicities, ``n_eff`` what the regulariser is normalised to;
    ``lr_at(step)``: the learning rate per step (None: leave it). Batches and images are drawn from
    ``shuffle_gen``, weight noise from ``noise_gen``.
    """
    dp = data_parallel
    net.train()
    n_images, n = x.shape[0], x.shape[1]
    perm = torch.randperm(n, generator=shuffle_gen).to(device)
    sums = torch.zeros(4, dtype=torch.float64, device=device)
    for step, start in enumerate(range(0, n, config.batch_size)):
        idx = perm[start : start + config.batch_size]
        image = None
        if n_images > 1:  # drawn before the data-parallel split: the same on every worker
            image = torch.randint(n_images, (idx.numel(),), generator=shuffle_gen).to(device)
        batch_weight = w[idx].sum() if dp is not None else None
        if dp is not None:
            idx = idx[dp.rank :: dp.world_size]
            image = None if image is None else image[dp.rank :: dp.world_size]
        wb = w[idx]
        if lr_at is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
        optimizer.zero_grad(set_to_none=True)
        if idx.numel():
            xb = x[0, idx] if image is None else x[image, idx]
            mean, sigma = net(xb, config.n_train_samples, noise_gen)
            if config.training_loss == "mse":
                nll = squared_error(mean, y[idx], wb)
            else:
                nll = heteroscedastic_nll(mean, sigma, y[idx], wb)
            penalty = net.penalty(mean) / n_eff
            loss = nll + penalty
            # data parallel: this worker's share of the batch objective, so that the sum over workers is it
            (loss if dp is None else loss * (wb.sum() / batch_weight)).backward()
            terms = torch.stack([loss.detach(), nll.detach(), penalty.detach(), torch.ones_like(loss)])
            sums += terms.double() * wb.sum().double()
        if dp is not None:
            reduce_gradients(net, dp)
        if config.grad_clip > 0:
            nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
        optimizer.step()
    if dp is not None:
        dp.all_reduce(sums)
    sums = sums.cpu().numpy()
    return float(sums[0] / sums[3]), float(sums[1] / sums[3]), float(sums[2] / sums[3])


def reduce_gradients(net: SurrogateNet, dp: DataParallel) -> None:
    """Sum the gradients over the workers in one flat buffer (a missing gradient counts as zero)."""
    params = [p for p in net.parameters() if p.requires_grad]
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
    dp.all_reduce(flat)
    offset = 0
    for p in params:
        p.grad = flat[offset : offset + p.numel()].view_as(p)
        offset += p.numel()


@torch.no_grad()
def validation_metrics(
    net: SurrogateNet,
    x: Tensor,
    y: Tensor,
    config: SurrogateConfig,
    target_transform: AnyTargetTransform | None,
    device: torch.device,
    data_parallel: DataParallel | None = None,
) -> dict[str, float]:
    """Held-out loss (``val_loss``) with 4 weight draws from a fixed seed (common random numbers across epochs).

    The loss is the training loss without regulariser: the NLL of Eq. (14), or half the squared error for
    ``loss="mse"``. For the ``pure_log`` target, also ``val_delta68``: the 68 % quantile of
    ``|Δ| = |exp(s (ȳ − y)) − 1|``, the relative error of the weight-averaged prediction.
    Data parallel: each worker evaluates ``[rank::world_size]`` of the set and the sums are all-reduced.
    """
    net.eval()
    dp = data_parallel
    if dp is not None:
        x, y = x[:, dp.rank :: dp.world_size], y[dp.rank :: dp.world_size]
    gen = torch.Generator(device).manual_seed(derive_seed(config.seed, "validation"))
    params = net.draw(max(config.n_train_samples, 4), gen)
    total = 0.0
    chunk = chunk_size(net, None, params)
    residuals = []
    for start in range(0, x.shape[1], chunk):
        mean, sigma = image_outputs(net, x[:, start : start + chunk], params)
        yc = y[start : start + chunk].to(mean.dtype)
        if config.training_loss == "mse":
            total += float(squared_error(mean, yc)) * yc.shape[0]
        else:
            total += float(heteroscedastic_nll(mean, sigma, yc)) * yc.shape[0]
        residuals.append((mean.mean(dim=0) - yc).double())
    out: dict[str, float] = {}
    if dp is None:
        out["val_loss"] = total / x.shape[1]
    else:
        sums = torch.tensor([total, float(x.shape[1])], dtype=torch.float64, device=device)
        dp.all_reduce(sums)
        out["val_loss"] = float(sums[0] / sums[1])
    scale = getattr(target_transform, "scale", None)
    if config.target_transform == "pure_log" and scale is not None and dp is None and residuals:
        delta = torch.expm1(torch.cat(residuals) * scale).abs()
        out["val_delta68"] = float(torch.quantile(delta.float(), 0.68)) if delta.numel() else math.nan
    return out
