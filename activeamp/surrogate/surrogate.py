"""The precision surrogate: configuration, training to convergence, uncertainty-aware prediction, checkpoints."""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from activeamp.atomic import atomic_open
from activeamp.surrogate.bnn import BayesianNet
from activeamp.surrogate.config import FAMILIES, PAPER_HIDDEN, SurrogateConfig, resolve_device
from activeamp.surrogate.laplace import LastLayerNet, calibrate
from activeamp.surrogate.models import (
    EnsembleNet,
    Params,
    RepulsiveEnsembleNet,
    SurrogateNet,
    heteroscedastic_nll,
    squared_error,
)
from activeamp.surrogate.optim import build_optimizer, warmup_cosine
from activeamp.surrogate.pipeline import Pipeline
from activeamp.surrogate.prediction import Prediction
from activeamp.surrogate.preprocessing import AnyTargetTransform, InputTransform, PerOutputTransform, check_targets
from activeamp.surrogate.uncertainty import (
    stratified_normal_nodes,
    summarise_samples,
    t_model,
    t_model_weights,
    t_pred,
    t_tot,
)

__all__ = [
    "FAMILIES",
    "PAPER_HIDDEN",
    "Callback",
    "DataParallel",
    "SurrogateConfig",
    "Surrogate",
    "build_network",
    "derive_seed",
    "stratified_normal_nodes",
    "summarise_samples",
    "t_model",
    "t_pred",
    "t_tot",
    "t_model_weights",
]

logger = logging.getLogger(__name__)

#: Per-epoch hook: ``callback(epoch, metrics)`` with the 1-based epoch counter (continuing across stages).
Callback = Callable[[int, dict[str, Any]], None]


@dataclass(frozen=True)
class DataParallel:
    """One worker's place in data-parallel training (set as :attr:`Surrogate.data_parallel`).

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


_SEED_PURPOSES = {"init": 0, "shuffle": 1, "noise": 2, "validation": 3, "predict": 4}
_CHUNK_ELEMENTS = 2**20  # activations per prediction chunk: M × B × widest layer (4 MiB in float32, cache-sized)
_FORMAT_VERSION = 1
_LOG_EVERY_S = 10.0  # seconds between progress lines of a training stage
_VALIDATE_EVERY_STEPS = 500  # optimiser steps between validations in cosine stages


def derive_seed(seed: int, purpose: str) -> int:
    """Independent 32-bit seed for one ``purpose`` (init, shuffle, noise, validation, predict) of run ``seed``."""
    return int(np.random.SeedSequence([int(seed), _SEED_PURPOSES[purpose]]).generate_state(1)[0])


def build_network(
    config: SurrogateConfig, n_inputs: int, n_outputs: int | None = None, sigma_inputs: bool = True
) -> SurrogateNet:
    """Fresh network of ``config.family`` for ``n_inputs`` inputs, initialised from the config's init seed.

    ``n_outputs``: K outputs per point (a vector model), or None for the scalar model. ``sigma_inputs``: whether
    the σ head of the ``laplace`` family sees the inputs besides the features (False for older checkpoints).
    """
    gen = torch.Generator().manual_seed(derive_seed(config.seed, "init"))
    common = {"n_inputs": n_inputs, "hidden": config.hidden, "activation": config.activation, "n_outputs": n_outputs}
    if config.family == "bnn":
        return BayesianNet(
            **common,
            prior_width=config.prior_width,
            local_reparam=config.local_reparam,
            last_layer_only=config.bayesian_last_layer_only,
            sigma_floor=config.sigma_floor,
            init_log_var=config.init_log_var,
            generator=gen,
        )
    if config.family == "laplace":
        return LastLayerNet(**common, sigma_floor=config.sigma_floor, generator=gen, sigma_inputs=sigma_inputs)
    if config.family == "repulsive":
        return RepulsiveEnsembleNet(
            **common,
            n_members=config.n_members,
            sigma_floor=config.sigma_floor,
            prior_width=config.prior_width,
            repulsion=config.repulsion,
            generator=gen,
        )
    members = 1 if config.family == "deterministic" else config.n_members
    return EnsembleNet(**common, n_members=members, sigma_floor=config.sigma_floor, generator=gen)


def _to_torch_state(state: dict[str, Any]) -> dict[str, Any]:
    return {k: torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray) else v for k, v in state.items()}


def _to_numpy_state(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v.numpy() if isinstance(v, Tensor) else v for k, v in state.items()}


class Surrogate:
    """A trainable amplitude surrogate with the uncertainty decomposition of arXiv:2206.14831.

    Inputs are momenta ``(N, n, 4)`` (GeV, float64) or plain features ``(N, d)``; targets are amplitudes
    ``(N,)`` in the oracle's units (the scalar model), or ``(N, K)`` with K ≥ 1 outputs per point (a vector
    model, e.g. signed form-factor coefficients with ``config.target_transform="signed"``). The input and
    target preprocessing and the number of outputs are fixed by the first :meth:`fit` call and frozen
    afterwards (they are part of the model and of its checkpoints).

    Parameters
    ----------
    config : SurrogateConfig or mapping, optional
        Settings; a mapping is validated with :meth:`SurrogateConfig.from_dict`.

    Attributes
    ----------
    net : SurrogateNet or None
        The network (float32, on ``device``); None before the first fit.
    pipeline : Pipeline or None
        The frozen preprocessing: symmetry images, envelope, input standardisation and target map
        (:class:`activeamp.surrogate.pipeline.Pipeline`).
    epoch : int
        Completed epochs over all stages.
    history : list of dict
        One record per epoch: ``epoch``, ``train_loss``, ``train_nll``, ``penalty`` (regulariser / N_eff),
        ``val_loss`` (with a validation set), ``lr``, ``epoch_time_s``, ``converged``, ``stage``.
    stage : dict or None
        The current training stage: ``index``, ``start``, ``target`` (epoch limit), ``best``, ``bad``
        (epochs without improvement), ``converged``, ``done``.
    data_parallel : DataParallel or None
        Set on every worker of a data-parallel run (:mod:`activeamp.loop.distributed`) before :meth:`fit`; a
        runtime setting, not part of checkpoints. None (default): ordinary single-process training.
    """

    def __init__(self, config: SurrogateConfig | Mapping[str, Any] | None = None) -> None:
        if not isinstance(config, SurrogateConfig):
            config = SurrogateConfig.from_dict(config or {})
        self.config = config
        self.device = resolve_device(config.device)
        self.net: SurrogateNet | None = None
        self.pipeline: Pipeline | None = None
        self._n_outputs: int | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: Any = None
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.stage: dict[str, Any] | None = None
        self.data_parallel: DataParallel | None = None
        self._shuffle_gen = torch.Generator().manual_seed(derive_seed(config.seed, "shuffle"))
        self._noise_gen = torch.Generator(self.device).manual_seed(derive_seed(config.seed, "noise"))

    def __repr__(self) -> str:
        size = f", {self.n_parameters} parameters" if self.net is not None else ", untrained"
        return f"Surrogate(family={self.config.family!r}, hidden={self.config.hidden}{size}, epoch={self.epoch})"

    # ------------------------------------------------------------------ set-up and data
    @property
    def is_fitted(self) -> bool:
        """Whether preprocessing and network exist (after the first :meth:`fit` or a :meth:`load`)."""
        return self.net is not None

    @property
    def input_transform(self) -> InputTransform | None:
        """The frozen input standardisation (None before fitting)."""
        return None if self.pipeline is None else self.pipeline.inputs

    @property
    def target_transform(self) -> AnyTargetTransform | None:
        """The frozen target map ``T`` (None before fitting); the network learns ``T(A / E(x))``."""
        return None if self.pipeline is None else self.pipeline.target

    @property
    def n_outputs(self) -> int | None:
        """K for a vector model (fitted on ``(N, K)`` targets), None for a scalar model or before fitting."""
        return self._n_outputs

    @property
    def output_scales(self) -> np.ndarray | None:
        """Shape ``(K,)``: the per-output scales ``c_k`` of the target map (target units); None for a scalar model."""
        if self._n_outputs is None or not isinstance(self.target_transform, PerOutputTransform):
            return None
        return self.target_transform.c.copy()

    @property
    def n_parameters(self) -> int:
        """Number of trainable parameters (a BNN counts means and log-variances)."""
        return sum(p.numel() for p in self._require_net().parameters())

    def _require_net(self) -> SurrogateNet:
        if self.net is None:
            raise RuntimeError("the surrogate is not trained yet: call fit() or Surrogate.load() first")
        return self.net

    def _build(self, n_inputs: int, sigma_inputs: bool = True) -> None:
        cfg = self.config
        self.net = build_network(cfg, n_inputs, self._n_outputs, sigma_inputs).to(self.device)
        if isinstance(self.net, LastLayerNet):
            self.net.train_sigma = cfg.training_loss == "nll"
        self.optimizer = build_optimizer(self.net, cfg.optimizer, cfg.lr, cfg.weight_decay)
        if cfg.lr_schedule == "exponential":
            self.scheduler = torch.optim.lr_scheduler.ExponentialLR(self.optimizer, gamma=cfg.lr_decay)
        elif cfg.lr_schedule == "plateau" and cfg.lr_decay < 1:
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer, factor=cfg.lr_decay, patience=max(cfg.patience // 4, 1), threshold=cfg.tol
            )
        else:
            self.scheduler = None

    def _setup(self, x: np.ndarray, amplitudes: np.ndarray) -> None:
        cfg = self.config
        self.pipeline = Pipeline.fit(
            x,
            amplitudes,
            inputs=cfg.inputs,
            target=cfg.target_transform,
            sigma_a=cfg.sigma_a,
            envelope=cfg.envelope,
            symmetry=cfg.symmetry,
            process=cfg.process,
        )
        self._n_outputs = None if amplitudes.ndim == 1 else int(amplitudes.shape[1])
        self._build(self.pipeline.inputs.dim)
        outputs = "" if self._n_outputs is None else f", {self._n_outputs} outputs"
        logger.info("built %r on %s (%d inputs%s)", self, self.device, self.input_transform.dim, outputs)

    def _check_targets(self, values: np.ndarray, name: str = "amplitudes") -> np.ndarray:
        """Targets as float64 ``(N,)`` / ``(N, K)``; once fitted, their shape must match the model's outputs."""
        v = check_targets(values, name, signed=self.config.target_transform == "signed")
        if self.is_fitted:
            k = None if v.ndim == 1 else int(v.shape[1])
            if k != self._n_outputs:
                expected = "(N,) (a scalar model)" if self._n_outputs is None else f"(N, {self._n_outputs})"
                raise ValueError(
                    f"{name}: shape {v.shape} does not match the fitted surrogate, which expects {expected}; "
                    "a model's number of outputs is fixed by its first fit"
                )
        return v

    def _require_pipeline(self) -> Pipeline:
        if self.pipeline is None:
            raise RuntimeError("the surrogate is not trained yet: call fit() or Surrogate.load() first")
        return self.pipeline

    def transform_inputs(self, x: np.ndarray) -> np.ndarray:
        """Standardised network inputs ``(N, d)`` float64 of the points themselves (the identity image)."""
        return self._require_pipeline().inputs(x)

    def transform_targets(self, amplitudes: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
        """Preprocessed targets ``T(A / E(x))`` of amplitudes, float64, same shape; ``x`` is needed with an envelope."""
        pipeline = self._require_pipeline()
        if pipeline.envelope is not None:
            if x is None:
                raise ValueError("this surrogate divides by an envelope E(x): transform_targets needs the points x")
            return pipeline.targets(x, amplitudes)
        return pipeline.target(amplitudes)

    def _inputs_tensor(self, x: np.ndarray) -> Tensor:
        """Features of every symmetry image, ``(G, N, d)`` float32 on the device."""
        return torch.as_tensor(self._require_pipeline().features(x), dtype=torch.float32, device=self.device)

    def _training_tensors(self, x: np.ndarray, values: np.ndarray) -> tuple[Tensor, Tensor]:
        """Features ``(G, N, d)`` and preprocessed targets of training or validation points, float32 on the device.

        The invariants of ``x`` are computed once for both (:meth:`Pipeline.encode` also gives the envelope).
        """
        pipeline = self._require_pipeline()
        feats, scale = pipeline.encode(x)
        y = pipeline.targets(x, values, scale) if pipeline.envelope is not None else pipeline.target(values)
        as_tensor = {"dtype": torch.float32, "device": self.device}
        return torch.as_tensor(feats, **as_tensor), torch.as_tensor(y, **as_tensor)

    @staticmethod
    def _check_weights(weights: np.ndarray | None, n: int) -> np.ndarray:
        if weights is None:
            return np.ones(n)
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (n,):
            raise ValueError(f"weights: expected shape ({n},), got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("weights: multiplicities must be finite, >= 0 and not all zero")
        return w

    # ------------------------------------------------------------------ training
    def fit(
        self,
        x: np.ndarray,
        amplitudes: np.ndarray,
        *,
        weights: np.ndarray | None = None,
        x_val: np.ndarray | None = None,
        a_val: np.ndarray | None = None,
        callback: Callback | None = None,
        progress: bool | None = None,
        new_stage: bool | None = None,
        max_epochs: int | None = None,
        max_steps: int | None = None,
        max_seconds: float | None = None,
        checkpoint: str | Path | None = None,
        checkpoint_every_s: float = 60.0,
    ) -> list[dict[str, Any]]:
        """Train until the plateau rule fires or the stage's epoch limit is reached.

        One call is one *stage*. A stage that was interrupted (e.g. restored from a checkpoint written by
        the callback) is continued when ``new_stage`` is None; a finished one starts a new stage whose limit
        is the current epoch plus ``max_epochs`` (default ``config.max_epochs``).

        Parameters
        ----------
        x : numpy.ndarray
            Training inputs, ``(N, n, 4)`` momenta (GeV) or ``(N, d)`` features.
        amplitudes : numpy.ndarray
            Shape ``(N,)``: targets (amplitude units; ≥ 0 unless ``config.target_transform="signed"``) for the
            scalar model, or ``(N, K)`` for a vector model with K outputs (the network then outputs K means
            and K widths σ_model; the NLL of a point is the sum over its outputs). The first call fixes
            the shape; later calls (warm starts, boosting) must give the same one.
        weights : numpy.ndarray, optional
            Shape ``(N,)``: multiplicities ``n_j`` (Eq. 19). The NLL is weighted by them and the
            regulariser is normalised to ``N_eff = Σ_j n_j``; points with ``n_j = 0`` are left out.
        x_val, a_val : numpy.ndarray, optional
            Validation set (``a_val`` shaped like ``amplitudes``); its NLL (Eq. 14 without the regulariser,
            averaged over 4 fixed weight draws) is the convergence monitor.
        callback : callable, optional
            ``callback(epoch, metrics)`` after every epoch (metrics: ``train_loss``, ``train_nll``,
            ``penalty``, ``val_loss``, ``lr``, ``epoch_time_s``, ``converged``, ``stage``).
        progress : bool, optional
            Show a tqdm bar (None: only on a terminal).
        new_stage : bool, optional
            Force (True) or forbid (False) starting a new stage.
        max_epochs, max_steps, max_seconds : optional
            Limits of a new stage (defaults: the config's); the first one reached ends it.
        checkpoint : path, optional
            During the stage, every ``checkpoint_every_s`` seconds, save the model there (:meth:`save`, atomic,
            calibrated) when the monitored loss improved since the last save: a killed training keeps its best
            model so far. The caller saves the final model itself.
        checkpoint_every_s : float
            Seconds between checkpoint checks.

        Returns
        -------
        list of dict
            The full learning-curve history (all stages), one record per epoch.
        """
        cfg = self.config
        a = self._check_targets(amplitudes)
        n_points = len(a)
        if len(x) != n_points:
            raise ValueError(f"x has {len(x)} points but amplitudes has {n_points}")
        w = self._check_weights(weights, n_points)
        if not self.is_fitted:
            self._setup(x, a)
        net = self._require_net()
        keep = w > 0
        x_t, y_t = self._training_tensors(np.asarray(x)[keep], a[keep])
        w_t = torch.as_tensor(w[keep], dtype=torch.float32, device=self.device)
        n_eff = float(w.sum())
        val = None
        if (x_val is None) != (a_val is None):
            raise ValueError("give both x_val and a_val, or neither")
        if x_val is not None:
            av = self._check_targets(a_val, "a_val")
            val = self._training_tensors(x_val, av)

        stage = self.stage
        if new_stage or stage is None or stage["done"]:
            if new_stage is False and stage is not None and stage["done"]:
                logger.info("stage %d already finished; nothing to do", stage["index"])
                return self.history
            limit = cfg.max_epochs if max_epochs is None else int(max_epochs)
            if limit < 1:
                raise ValueError(f"max_epochs: must be >= 1, got {max_epochs}")
            steps = cfg.max_steps if max_steps is None else int(max_steps)
            if steps > 0:
                limit = min(limit, -(-steps // self._steps_per_epoch(int(keep.sum()))))
            index = 0 if stage is None else stage["index"] + 1
            stage = {"index": index, "start": self.epoch, "target": self.epoch + limit, "best": math.inf, "bad": 0}
            seconds = cfg.max_seconds if max_seconds is None else float(max_seconds)
            stage.update(done=False, converged=False, seconds=0.0, max_seconds=seconds, calibrated=False)
            self.stage = stage

        bar = tqdm(
            total=stage["target"] - stage["start"],
            initial=self.epoch - stage["start"],
            disable=(not progress) if progress is not None else None,
            desc=f"{cfg.family} stage {stage['index']}",
            unit="epoch",
            leave=False,
        )
        last_log = last_save = time.perf_counter()
        best_saved = math.inf
        last_val: dict[str, float] = {}
        try:
            while self.epoch < stage["target"] and not stage["done"]:
                t0 = time.perf_counter()
                lr_at = self._lr_function(stage, x_t.shape[1], t0)
                train_loss, train_nll, penalty = self._train_epoch(net, x_t, y_t, w_t, n_eff, lr_at)
                metrics: dict[str, Any] = {"train_loss": train_loss, "train_nll": train_nll, "penalty": penalty}
                if val is not None:
                    if self._validate_now(stage, x_t.shape[1], time.perf_counter() - t0) or not last_val:
                        last_val = self._validation_metrics(net, *val)
                    metrics.update(last_val)
                monitored = metrics.get("val_loss", train_loss)
                if not math.isfinite(monitored):
                    raise RuntimeError(f"training diverged at epoch {self.epoch + 1}: monitored loss is {monitored}")
                self._step_schedule(monitored)
                self.epoch += 1
                stage["seconds"] += time.perf_counter() - t0
                self._update_stage(monitored)
                metrics.update(
                    lr=float(self.optimizer.param_groups[0]["lr"]),
                    epoch_time_s=time.perf_counter() - t0,
                    converged=stage["converged"],
                    stage=stage["index"],
                )
                self.history.append({"epoch": self.epoch, **metrics})
                bar.update(1)
                postfix = {"loss": f"{train_loss:.4g}"}
                if val is not None:
                    postfix["val"] = f"{metrics['val_loss']:.4g}"
                if "val_delta68" in metrics:
                    postfix["val |Δ| 68%"] = f"{metrics['val_delta68']:.3g}"
                bar.set_postfix(postfix)
                if time.perf_counter() - last_log >= _LOG_EVERY_S or stage["done"]:
                    last_log = time.perf_counter()
                    self._log_progress(stage, metrics)
                if stage["done"]:
                    self._calibrate(net, x_t, y_t, w_t, val)
                    stage["calibrated"] = True
                elif checkpoint is not None and time.perf_counter() - last_save >= checkpoint_every_s:
                    if monitored < best_saved:  # the best model so far, calibrated, for a run that gets killed
                        self._calibrate(net, x_t, y_t, w_t, val)
                        self.save(checkpoint)
                        best_saved = monitored
                    last_save = time.perf_counter()
                if callback is not None:
                    callback(self.epoch, dict(metrics))
        finally:
            bar.close()
        if self.epoch >= stage["target"]:
            stage["done"] = True
        if stage["done"] and not stage.get("calibrated", True):
            self._calibrate(net, x_t, y_t, w_t, val)
            stage["calibrated"] = True
        logger.info(
            "stage %d %s after %d epochs (epoch %d, best monitored loss %.6g)",
            stage["index"],
            "converged" if stage["converged"] else "reached its limit",
            self.epoch - stage["start"],
            self.epoch,
            stage["best"],
        )
        return self.history

    def _steps_per_epoch(self, n: int) -> int:
        """Optimiser steps per epoch over ``n`` training points (global batches in data-parallel training)."""
        return max(-(-n // self.config.batch_size), 1)

    def _lr_function(self, stage: dict[str, Any], n: int, t0: float) -> Callable[[int], float] | None:
        """Learning rate per step of the coming epoch (cosine schedule), or None for per-epoch schedules."""
        cfg = self.config
        if cfg.lr_schedule != "cosine":
            return None
        per_epoch = self._steps_per_epoch(n)
        total = max((stage["target"] - stage["start"]) * per_epoch, 1)
        done = (self.epoch - stage["start"]) * per_epoch
        max_seconds = stage.get("max_seconds", 0.0)
        before = stage.get("seconds", 0.0)

        def lr_at(step: int) -> float:
            progress = (done + step) / total
            if max_seconds > 0:
                progress = max(progress, (before + time.perf_counter() - t0) / max_seconds)
            return warmup_cosine(progress, cfg.lr, cfg.lr_min, cfg.warmup)

        return lr_at

    def _train_epoch(
        self, net: SurrogateNet, x: Tensor, y: Tensor, w: Tensor, n_eff: float, lr_at: Callable[[int], float] | None
    ) -> tuple[float, ...]:
        """One pass over shuffled batches; returns the batch-weight-averaged loss, NLL and normalised penalty.

        ``x`` has shape ``(G, N, d)``: each point enters each batch as one random image of its symmetry group.
        """
        cfg = self.config
        dp = self.data_parallel
        net.train()
        n_images, n = x.shape[0], x.shape[1]
        perm = torch.randperm(n, generator=self._shuffle_gen).to(self.device)
        sums = torch.zeros(4, dtype=torch.float64, device=self.device)
        for step, start in enumerate(range(0, n, cfg.batch_size)):
            idx = perm[start : start + cfg.batch_size]
            image = None
            if n_images > 1:  # drawn before the data-parallel split: the same on every worker
                image = torch.randint(n_images, (idx.numel(),), generator=self._shuffle_gen).to(self.device)
            batch_weight = w[idx].sum() if dp is not None else None
            if dp is not None:
                idx = idx[dp.rank :: dp.world_size]
                image = None if image is None else image[dp.rank :: dp.world_size]
            wb = w[idx]
            if lr_at is not None:
                for group in self.optimizer.param_groups:
                    group["lr"] = lr_at(step)
            self.optimizer.zero_grad(set_to_none=True)
            if idx.numel():
                xb = x[0, idx] if image is None else x[image, idx]
                mean, sigma = net(xb, cfg.n_train_samples, self._noise_gen)
                if cfg.training_loss == "mse":
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
                self._reduce_gradients(net, dp)
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
            self.optimizer.step()
        if dp is not None:
            dp.all_reduce(sums)
        sums = sums.cpu().numpy()
        return float(sums[0] / sums[3]), float(sums[1] / sums[3]), float(sums[2] / sums[3])

    @staticmethod
    def _reduce_gradients(net: SurrogateNet, dp: DataParallel) -> None:
        """Sum the gradients over the workers in one flat buffer (a missing gradient counts as zero)."""
        params = [p for p in net.parameters() if p.requires_grad]
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
        dp.all_reduce(flat)
        offset = 0
        for p in params:
            p.grad = flat[offset : offset + p.numel()].view_as(p)
            offset += p.numel()

    @torch.no_grad()
    def _image_outputs(self, net: SurrogateNet, x: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        """Outputs averaged over the symmetry images: ``x`` ``(G, B, d)`` → Ā, σ_model of shape ``(M, B[, K])``."""
        g, b = x.shape[0], x.shape[1]
        mean, sigma = net.evaluate(x.reshape(g * b, -1), params)
        shape = (mean.shape[0], g, b, *mean.shape[2:])
        return mean.reshape(shape).mean(dim=1), sigma.reshape(shape).mean(dim=1)

    @torch.no_grad()
    def _validation_metrics(self, net: SurrogateNet, x: Tensor, y: Tensor) -> dict[str, float]:
        """Held-out loss (``val_loss``) with 4 weight draws from a fixed seed (common random numbers across epochs).

        The loss is the training loss without regulariser: the NLL of Eq. (14), or half the squared error for
        ``loss="mse"``. For the ``pure_log`` target, also ``val_delta68``: the 68 % quantile of
        ``|Δ| = |exp(s (ȳ − y)) − 1|``, the relative error of the weight-averaged prediction.
        Data parallel: each worker evaluates ``[rank::world_size]`` of the set and the sums are all-reduced.
        """
        net.eval()
        dp = self.data_parallel
        if dp is not None:
            x, y = x[:, dp.rank :: dp.world_size], y[dp.rank :: dp.world_size]
        gen = torch.Generator(self.device).manual_seed(derive_seed(self.config.seed, "validation"))
        params = net.draw(max(self.config.n_train_samples, 4), gen)
        total = 0.0
        chunk = self._chunk_size(None, params)
        residuals = []
        for start in range(0, x.shape[1], chunk):
            mean, sigma = self._image_outputs(net, x[:, start : start + chunk], params)
            yc = y[start : start + chunk].to(mean.dtype)
            if self.config.training_loss == "mse":
                total += float(squared_error(mean, yc)) * yc.shape[0]
            else:
                total += float(heteroscedastic_nll(mean, sigma, yc)) * yc.shape[0]
            residuals.append((mean.mean(dim=0) - yc).double())
        out: dict[str, float] = {}
        if dp is None:
            out["val_loss"] = total / x.shape[1]
        else:
            sums = torch.tensor([total, float(x.shape[1])], dtype=torch.float64, device=self.device)
            dp.all_reduce(sums)
            out["val_loss"] = float(sums[0] / sums[1])
        scale = getattr(self.target_transform, "scale", None)
        if self.config.target_transform == "pure_log" and scale is not None and dp is None and residuals:
            delta = torch.expm1(torch.cat(residuals) * scale).abs()
            out["val_delta68"] = float(torch.quantile(delta.float(), 0.68)) if delta.numel() else math.nan
        return out

    def _step_schedule(self, monitored: float) -> None:
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(monitored)
        elif self.scheduler is not None:
            self.scheduler.step()

    def _validate_now(self, stage: dict[str, Any], n: int, epoch_seconds: float) -> bool:
        """Whether to evaluate the validation set after this epoch.

        Every epoch, except in cosine stages (no plateau rule): there once per ``_VALIDATE_EVERY_STEPS``
        optimiser steps, and after the stage's last epoch, so that small data sets do not spend their time
        validating.
        """
        if self.config.lr_schedule != "cosine":
            return True
        per_epoch = self._steps_per_epoch(n)
        every = max(-(-_VALIDATE_EVERY_STEPS // per_epoch), 1)
        done = self.epoch + 1 - stage["start"]
        last = self.epoch + 1 >= stage["target"] or (
            stage.get("max_seconds", 0.0) > 0 and stage.get("seconds", 0.0) + epoch_seconds >= stage["max_seconds"]
        )
        return last or done % every == 0

    def _update_stage(self, monitored: float) -> None:
        """Plateau rule: improvement means ``monitored < best − tol · max(|best|, 1)``; epoch and time limits.

        A cosine stage runs to its epoch or time limit (its learning rate only gets small at the end).
        """
        stage = self.stage
        best = stage["best"]
        if not math.isfinite(best) or monitored < best - self.config.tol * max(abs(best), 1.0):
            stage["best"], stage["bad"] = monitored, 0
        else:
            stage["bad"] += 1
        if stage["bad"] >= self.config.patience and self.config.lr_schedule != "cosine":
            stage["converged"] = stage["done"] = True
        if self.epoch >= stage["target"]:
            stage["done"] = True
        if stage.get("max_seconds", 0.0) > 0 and stage.get("seconds", 0.0) >= stage["max_seconds"]:
            stage["done"] = True

    def _log_progress(self, stage: dict[str, Any], metrics: dict[str, Any]) -> None:
        """Log :meth:`progress_line` at INFO."""
        logger.info(self.progress_line())

    def progress_line(self) -> str | None:
        """The training state in one line: stage, epoch, losses, validation precision, learning rate, time.

        None before the first epoch. Safe to call from another thread while :meth:`fit` runs (a threaded actor).
        """
        stage, history = self.stage, self.history
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

    def _calibrate(
        self, net: SurrogateNet, x: Tensor, y: Tensor, w: Tensor, val: tuple[Tensor, Tensor] | None
    ) -> None:
        """The closed-form Bayesian part of a finished ``"laplace"`` stage (:func:`.laplace.calibrate`)."""
        if isinstance(net, LastLayerNet):
            calibrate(net, x, y, w, val, self.config.prior_width)

    # ------------------------------------------------------------------ prediction
    def _n_samples(self, n_samples: int | None) -> int:
        net = self._require_net()
        if net.fixed_samples is not None:
            if n_samples is not None and n_samples != net.fixed_samples:
                logger.debug("%d members: n_samples=%d ignored", net.fixed_samples, n_samples)
            return net.fixed_samples
        m = self.config.n_weight_samples if n_samples is None else int(n_samples)
        if m < 1:
            raise ValueError(f"n_samples: must be >= 1, got {m}")
        return m

    def _chunk_size(self, batch_size: int | None, params: Params) -> int:
        if batch_size is not None:
            if batch_size < 1:
                raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
            return int(batch_size)
        m = max(w.shape[0] for w, _ in params)
        return int(min(max(_CHUNK_ELEMENTS // (m * self._require_net().max_width), 256), 2**17))

    @torch.no_grad()
    def _sample_outputs(self, x: np.ndarray, params: Params, batch_size: int | None) -> Any:
        """Yield ``(slice, mean, sigma, scale)`` chunk by chunk.

        ``mean``, ``sigma``: ``(M, B)`` (or ``(M, B, K)``) float64 preprocessed outputs, averaged over the
        symmetry images; ``scale``: the envelope ``E(x)`` ``(B,)`` (amplitude units) or None.
        """
        net = self._require_net()
        pipeline = self._require_pipeline()
        net.eval()
        chunk = self._chunk_size(batch_size, params)
        if batch_size is None:  # every point is evaluated once per image
            chunk = max(chunk // pipeline.order, 1)
        for start in range(0, len(x), chunk):  # preprocessing per chunk too: stays in cache, bounded memory
            feats, scale = pipeline.encode(x[start : start + chunk])
            xc = torch.as_tensor(feats, dtype=torch.float32, device=self.device)
            mean, sigma = self._image_outputs(net, xc, params)
            yield slice(start, start + xc.shape[1]), mean.double().cpu().numpy(), sigma.double().cpu().numpy(), scale

    def predict(
        self,
        x: np.ndarray,
        n_samples: int | None = None,
        *,
        return_samples: bool = False,
        batch_size: int | None = None,
        space: Literal["amplitude", "preprocessed"] = "amplitude",
        seed: int | None = None,
    ) -> Prediction:
        """⟨A⟩, σ_model, σ_pred from ``M`` weight samples (Eqs. 8, 10, 11); see :func:`summarise_samples`.

        Parameters
        ----------
        x : numpy.ndarray
            ``(N, n, 4)`` momenta (GeV) or ``(N, d)`` features.
        n_samples : int, optional
            M (default ``config.n_weight_samples``; ensembles always use all members).
        return_samples : bool
            Attach ``(M, N)`` arrays Ā(ω), σ_model(ω) (``(M, N, K)`` for a vector model).
        batch_size : int, optional
            Points per chunk (default: ``M × chunk × widest layer ≈ 2²⁴`` activations). One set of M
            weight draws is used for all chunks, so each sample is one function of x.
        space : {"amplitude", "preprocessed"}
            Amplitude units (σ propagated by sampling ``config.n_noise_samples`` stratified normal nodes)
            or the standardised network space of Eq. (15).
        seed : int, optional
            Seed of the weight draws (default: derived from ``config.seed``, so predictions are reproducible).

        Returns
        -------
        Prediction
            ``mean``, ``sigma_model``, ``sigma_pred`` of shape ``(N,)`` (scalar model) or ``(N, K)``.
        """
        if space not in ("amplitude", "preprocessed"):
            raise ValueError(f"space: {space!r} is not one of 'amplitude', 'preprocessed'")
        net = self._require_net()
        m = self._n_samples(n_samples)
        seed = derive_seed(self.config.seed, "predict") if seed is None else int(seed)
        gen = torch.Generator(self.device).manual_seed(seed)
        with torch.no_grad():
            params = net.draw(m, gen)
        target = self.target_transform if space == "amplitude" else None
        nodes = stratified_normal_nodes(self.config.n_noise_samples)
        parts = [
            summarise_samples(mean, sigma, target, nodes, keep_samples=return_samples).scaled(
                scale if target is not None else None
            )
            for _, mean, sigma, scale in self._sample_outputs(x, params, batch_size)
        ]
        if not parts:
            shape = (0,) if self._n_outputs is None else (0, self._n_outputs)
            empty = np.zeros(shape)
            return Prediction(empty, empty, empty, np.zeros((m, *shape)) if return_samples else None)

        def cat(name: str, axis: int) -> np.ndarray:
            return np.concatenate([getattr(p, name) for p in parts], axis=axis)

        return Prediction(
            mean=cat("mean", 0),
            sigma_model=cat("sigma_model", 0),
            sigma_pred=cat("sigma_pred", 0),
            samples=cat("samples", 1) if return_samples else None,
            sigma_model_samples=cat("sigma_model_samples", 1) if return_samples else None,
        )

    def predict_mean(
        self,
        x: np.ndarray,
        *,
        batch_size: int | None = None,
        space: Literal["amplitude", "preprocessed"] = "amplitude",
    ) -> np.ndarray:
        """Fast point prediction ``(N,)`` (``(N, K)`` for a vector model) float64 without weight sampling.

        The BNN uses its mean weights (``T⁻¹(Ā(μ))``); ensembles average their members' ``T⁻¹(Ā)``.
        """
        if space not in ("amplitude", "preprocessed"):
            raise ValueError(f"space: {space!r} is not one of 'amplitude', 'preprocessed'")
        net = self._require_net()
        with torch.no_grad():
            params = net.draw(1, mean=True)
        out = np.empty((len(x),) if self._n_outputs is None else (len(x), self._n_outputs))
        for sl, mean, _, scale in self._sample_outputs(x, params, batch_size):
            if space == "amplitude":
                mean = self.target_transform.inverse(mean) * (1.0 if scale is None else scale)
            out[sl] = mean.mean(axis=0)
        return out

    def weight_pulls(
        self,
        x: np.ndarray,
        amplitudes: np.ndarray,
        n_samples: int | None = None,
        *,
        batch_size: int | None = None,
        seed: int | None = None,
    ) -> np.ndarray:
        """Weight-dependent pulls ``t_model(ω) = (Ā(ω) − y)/σ_model(ω)`` (Eq. 17) in the preprocessed space.

        Returns
        -------
        numpy.ndarray
            Shape ``(M, N)`` (``(M, N, K)`` for a vector model): one pull per weight sample, point (and output),
            what loss boosting needs.
        """
        y = self.transform_targets(self._check_targets(amplitudes), x)
        pred = self.predict(x, n_samples, return_samples=True, batch_size=batch_size, space="preprocessed", seed=seed)
        return t_model_weights(pred, y)

    # ------------------------------------------------------------------ state and checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: config, preprocessing (with the target map's kind), the number of outputs,
        network, optimiser, scheduler, epoch, history, stage and RNG states (plain types and tensors, loadable
        with ``torch.load(weights_only=True)``)."""
        state: dict[str, Any] = {
            "format": _FORMAT_VERSION,
            "config": self.config.to_dict(),
            "epoch": self.epoch,
            "history": [dict(h) for h in self.history],
            "stage": dict(self.stage) if self.stage is not None else None,
            "rng": {
                "shuffle": self._shuffle_gen.get_state(),
                "noise": self._noise_gen.get_state(),
                "noise_device": self.device.type,
            },
            "fitted": self.is_fitted,
            "n_outputs": self._n_outputs,
        }
        if self.is_fitted:
            state["input_transform"] = _to_torch_state(self.input_transform.state())
            state["target_transform"] = self.target_transform.state()
            envelope = self.pipeline.envelope
            state["envelope"] = None if envelope is None else _to_torch_state(envelope.state())
            state["symmetry"] = None if self.pipeline.group is None else self.pipeline.group.state()
            state["model"] = {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()}
            state["optimizer"] = self.optimizer.state_dict()
            state["scheduler"] = self.scheduler.state_dict() if self.scheduler is not None else None
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore from :meth:`state_dict` (the config must match this surrogate's, device aside).

        Checkpoints written before vector models existed (no ``n_outputs``, a target map without ``kind``)
        load as scalar models with the log map of Eq. (15).
        """
        if state.get("format") != _FORMAT_VERSION:
            raise ValueError(f"checkpoint format {state.get('format')!r} is not supported (expected {_FORMAT_VERSION})")
        self.epoch = int(state["epoch"])
        self.history = [dict(h) for h in state["history"]]
        self.stage = dict(state["stage"]) if state["stage"] is not None else None
        self._shuffle_gen.set_state(state["rng"]["shuffle"])
        if state["rng"]["noise_device"] == self.device.type:
            self._noise_gen.set_state(state["rng"]["noise"])
        else:
            logger.warning(
                "checkpoint was written on %s, loading on %s: weight-noise RNG reseeded, a resumed run "
                "will not repeat the original one bit for bit",
                state["rng"]["noise_device"],
                self.device.type,
            )
        if not state["fitted"]:
            return
        self.pipeline = Pipeline.from_state(
            {
                "input_transform": _to_numpy_state(state["input_transform"]),
                "target_transform": state["target_transform"],
                "envelope": None if state.get("envelope") is None else _to_numpy_state(state["envelope"]),
                "symmetry": state.get("symmetry"),
            }
        )
        n_outputs = state.get("n_outputs")
        self._n_outputs = None if n_outputs is None else int(n_outputs)
        sigma_in = state["model"].get("sigma_head.0.weight")  # (1, width, H) where the σ head saw φ only
        features_only = sigma_in is not None and sigma_in.shape[-1] == self.config.hidden[-1]
        self._build(self.input_transform.dim, sigma_inputs=not features_only)
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])

    def save(self, path: str | Path) -> Path:
        """Write a checkpoint atomically (temporary file, then rename) and return its path."""
        path = Path(path)
        with atomic_open(path, "wb") as fh:
            torch.save(self.state_dict(), fh)
        return path

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> Surrogate:
        """Surrogate from a :meth:`save` checkpoint, optionally on another ``device``."""
        path = Path(path)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: no such checkpoint") from None
        config = SurrogateConfig.from_dict(state["config"])
        if device is not None:
            config = dataclasses.replace(config, device=device)
        surrogate = cls(config)
        surrogate.load_state_dict(state)
        return surrogate
