"""The precision surrogate: configuration, training to convergence, uncertainty-aware prediction, checkpoints.

This module sets the surrogate up and runs its training stages; the pieces live in their own modules:
:mod:`.networks` (the family's network, derived seeds), :mod:`.stages` (stage limits, plateau rule, learning rate
per step, progress line), :mod:`.epochs` (an epoch, a validation pass, data parallelism), :mod:`.inference`
(prediction: ``predict``, ``predict_mean``, ``weight_pulls``) and :mod:`.checkpoint` (``state_dict``, ``save``,
``load`` and the checkpoint files).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from activeamp.surrogate.checkpoint import CheckpointMixin
from activeamp.surrogate.config import FAMILIES, PAPER_HIDDEN, SurrogateConfig, resolve_device
from activeamp.surrogate.epochs import DataParallel, train_epoch, validation_metrics
from activeamp.surrogate.inference import PredictionMixin
from activeamp.surrogate.laplace import LastLayerNet, calibrate
from activeamp.surrogate.models import SurrogateNet
from activeamp.surrogate.networks import build_network, derive_seed
from activeamp.surrogate.optim import build_optimizer
from activeamp.surrogate.pipeline import Pipeline
from activeamp.surrogate.preprocessing import AnyTargetTransform, InputTransform, PerOutputTransform, check_targets
from activeamp.surrogate.stages import (
    format_progress_line,
    lr_function,
    start_stage,
    step_schedule,
    update_stage,
    validate_now,
)
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

_LOG_EVERY_S = 10.0  # seconds between progress lines of a training stage


class Surrogate(PredictionMixin, CheckpointMixin):
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
            stage = start_stage(cfg, stage, self.epoch, int(keep.sum()), max_epochs, max_steps, max_seconds)
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
                lr_at = lr_function(cfg, stage, self.epoch, x_t.shape[1], t0)
                train_loss, train_nll, penalty = train_epoch(
                    net,
                    self.optimizer,
                    cfg,
                    x_t,
                    y_t,
                    w_t,
                    n_eff,
                    lr_at,
                    shuffle_gen=self._shuffle_gen,
                    noise_gen=self._noise_gen,
                    device=self.device,
                    data_parallel=self.data_parallel,
                )
                metrics: dict[str, Any] = {"train_loss": train_loss, "train_nll": train_nll, "penalty": penalty}
                if val is not None:
                    if validate_now(cfg, stage, self.epoch, x_t.shape[1], time.perf_counter() - t0) or not last_val:
                        last_val = validation_metrics(
                            net, *val, cfg, self.target_transform, self.device, self.data_parallel
                        )
                    metrics.update(last_val)
                monitored = metrics.get("val_loss", train_loss)
                if not math.isfinite(monitored):
                    raise RuntimeError(f"training diverged at epoch {self.epoch + 1}: monitored loss is {monitored}")
                step_schedule(self.scheduler, monitored)
                self.epoch += 1
                stage["seconds"] += time.perf_counter() - t0
                update_stage(cfg, stage, self.epoch, monitored)
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

    def _log_progress(self, stage: dict[str, Any], metrics: dict[str, Any]) -> None:
        """Log :meth:`progress_line` at INFO."""
        logger.info(self.progress_line())

    def progress_line(self) -> str | None:
        """The training state in one line: stage, epoch, losses, validation precision, learning rate, time.

        None before the first epoch. Safe to call from another thread while :meth:`fit` runs (a threaded actor).
        """
        return format_progress_line(self.stage, self.history)

    def _calibrate(
        self, net: SurrogateNet, x: Tensor, y: Tensor, w: Tensor, val: tuple[Tensor, Tensor] | None
    ) -> None:
        """The closed-form Bayesian part of a finished ``"laplace"`` stage (:func:`.laplace.calibrate`)."""
        if isinstance(net, LastLayerNet):
            calibrate(net, x, y, w, val, self.config.prior_width)
