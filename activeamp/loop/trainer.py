"""The trainer: holds the surrogate between rounds (warm start), trains on the current data, scores points.

:class:`SurrogateTrainer` is plain Python (usable and testable without a cluster); in a run it
runs in Ray actors placed by resources (:class:`activeamp.loop.committee.TrainerCommittee`: one per member,
``num_gpus=1`` each when the cluster has the GPUs). Every round runs
:func:`activeamp.surrogate.fitting.fit_and_boost` through the trainer's strategy: :class:`LocalTraining` (in the
trainer's own process) or, with ``trainer.data_parallel_workers > 0``,
:class:`activeamp.loop.distributed.DataParallelTraining` (on Ray Train workers).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from activeamp.loop.distributed import DataParallelTraining
from activeamp.loop.settings import TrainerConfig
from activeamp.surrogate.boosting import BoostingSchedule
from activeamp.surrogate.fitting import FitOutcome, FitTask, state_from_bytes, state_to_bytes
from activeamp.surrogate.prediction import Prediction
from activeamp.surrogate.surrogate import Surrogate, SurrogateConfig

__all__ = [
    "LocalTraining",
    "SurrogateTrainer",
    "TrainOutcome",
    "TrainerConfig",
    "TrainingStrategy",
    "training_strategy",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOutcome:
    """Result of one training round.

    Attributes
    ----------
    n_train : int
        Training points used.
    n_eff : float
        Σ n_j after boosting.
    epochs : int
        Epochs trained this round.
    epoch : int
        Total epochs so far.
    train_loss, val_loss : float or None
        Last epoch's losses (preprocessed space).
    seconds : float
        Wall time of the round's training.
    device : str
        Where it trained: the torch device, or ``"ray-train:<workers>x<cpu|cuda>"``.
    boosting : tuple of dict
        Boosting-round records (see :class:`activeamp.surrogate.boosting.BoostingResult`).
    """

    n_train: int
    n_eff: float
    epochs: int
    epoch: int
    train_loss: float | None
    val_loss: float | None
    seconds: float
    device: str
    boosting: tuple[dict[str, Any], ...] = ()


class TrainingStrategy(Protocol):
    """Where :class:`SurrogateTrainer` runs :func:`~activeamp.surrogate.fitting.fit_and_boost`.

    Attributes
    ----------
    live_progress : bool
        Whether the trainer's own surrogate shows the training while :meth:`train` runs (its progress lines).
    """

    live_progress: bool

    def train(self, surrogate: Surrogate, task: FitTask, *, progress: bool = False) -> tuple[Surrogate, FitOutcome]:
        """Fit and boost ``surrogate`` on ``task``; return the trained surrogate (``surrogate`` itself, or one
        rebuilt from the workers' state) and the outcome."""
        ...


class LocalTraining:
    """Training strategy: :func:`~activeamp.surrogate.fitting.fit_and_boost` in this process (the trainer actor)."""

    live_progress = True

    def train(self, surrogate: Surrogate, task: FitTask, *, progress: bool = False) -> tuple[Surrogate, FitOutcome]:
        """Train ``surrogate`` in place (see :meth:`TrainingStrategy.train`)."""
        return surrogate, task.run(surrogate, progress=progress)


def training_strategy(config: TrainerConfig) -> TrainingStrategy:
    """The strategy ``config`` asks for: :class:`LocalTraining`, or with ``data_parallel_workers > 0``
    :class:`~activeamp.loop.distributed.DataParallelTraining` on that many workers (GPU workers when
    ``num_gpus`` is ``"auto"`` and the cluster has a GPU per worker, or when ``num_gpus > 0``)."""
    if not config.data_parallel_workers:
        return LocalTraining()
    return DataParallelTraining(
        config.data_parallel_workers,
        use_gpu="auto" if config.num_gpus == "auto" else bool(config.num_gpus),
        torch_threads=config.torch_threads,
    )


def _log_progress_to_stderr() -> None:
    """Inside an actor: send the surrogate's progress lines (every few seconds of training) to stderr at INFO,
    which Ray forwards to the driver's terminal, prefixed with the actor's name."""
    log = logging.getLogger("activeamp.surrogate.surrogate")
    if not any(getattr(h, "_activeamp_progress", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s training: %(message)s", datefmt="%H:%M:%S"))
        handler._activeamp_progress = True  # type: ignore[attr-defined]
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


class SurrogateTrainer:
    """Keeps one surrogate across rounds and trains it warm on the growing data set.

    Boosting multiplicities are remembered per point id, so a point boosted in one round keeps its
    multiplicity in the next; new points start at 1.

    Parameters
    ----------
    surrogate : SurrogateConfig or mapping
        The surrogate; its ``device`` is where this trainer trains (locally) and predicts.
    boosting : BoostingSchedule, optional
        Boosting schedule run after each round's training stage.
    config : TrainerConfig, optional
        Round limits, torch threads and the choice of strategy (``data_parallel_workers``).
    log_progress : bool
        Send the surrogate's progress lines to stderr (inside an actor; only when training locally).
    strategy : TrainingStrategy, optional
        Where rounds train (default: :func:`training_strategy` of ``config``), e.g. a
        :class:`~activeamp.loop.distributed.DataParallelTraining` with its own storage or worker resources.
    """

    def __init__(
        self,
        surrogate: SurrogateConfig | Mapping[str, Any],
        boosting: BoostingSchedule | None = None,
        config: TrainerConfig | None = None,
        log_progress: bool = False,
        *,
        strategy: TrainingStrategy | None = None,
    ) -> None:
        self.config = config or TrainerConfig()
        self.strategy: TrainingStrategy = strategy if strategy is not None else training_strategy(self.config)
        if log_progress and self.strategy.live_progress:
            _log_progress_to_stderr()
        if self.config.torch_threads:
            torch.set_num_threads(self.config.torch_threads)
        cfg = surrogate if isinstance(surrogate, SurrogateConfig) else SurrogateConfig.from_dict(surrogate)
        self.surrogate = Surrogate(cfg)
        self.boosting = boosting
        self.multiplicity: dict[str, int] = {}

    def load(self, state: bytes, multiplicity: Mapping[str, int] | None = None) -> None:
        """Resume from a checkpoint (bytes of :func:`~activeamp.surrogate.fitting.state_to_bytes`) and the saved
        multiplicities."""
        self.surrogate = state_from_bytes(state, device=self.surrogate.config.device)
        self.multiplicity = dict(multiplicity or {})

    def device(self) -> str:
        """The torch device the surrogate trains on (locally) and predicts on."""
        return str(self.surrogate.device)

    def node_id(self) -> str:
        """The Ray node this trainer runs on (when it is an actor)."""
        import ray

        return ray.get_runtime_context().get_node_id()

    def train(
        self,
        ids: np.ndarray,
        x: np.ndarray,
        amplitudes: np.ndarray,
        x_val: np.ndarray | None = None,
        a_val: np.ndarray | None = None,
        *,
        progress: bool = False,
    ) -> TrainOutcome:
        """Train on all current points: a first full training, or a warm-start stage plus boosting.

        The strategy runs :func:`~activeamp.surrogate.fitting.fit_and_boost`; a warm round's stage is limited by
        ``config.round_epochs`` / ``round_steps`` / ``round_seconds``, the first one by the surrogate's limits.

        Parameters
        ----------
        ids : numpy.ndarray
            Shape ``(N,)`` point ids (keys of the boosting multiplicities).
        x : numpy.ndarray
            Shape ``(N, n, 4)`` momenta [GeV].
        amplitudes : numpy.ndarray
            Shape ``(N,)`` squared matrix elements, or ``(N, K)`` outputs of a vector oracle.
        x_val, a_val : numpy.ndarray, optional
            Validation set (convergence monitor).
        progress : bool
            tqdm bars (local training only).
        """
        start = time.perf_counter()
        first_epoch = self.surrogate.epoch
        warm = self.surrogate.is_fitted
        task = FitTask(
            x,
            amplitudes,
            multiplicities=self._multiplicities(ids),
            x_val=x_val,
            a_val=a_val,
            boosting=self.boosting,
            max_epochs=self.config.round_epochs if warm else None,
            max_steps=self.config.round_steps or None if warm else None,
            max_seconds=self.config.round_seconds or None if warm else None,
        )
        self.surrogate, fitted = self.strategy.train(self.surrogate, task, progress=progress)
        n = fitted.multiplicities
        self.multiplicity = {str(i): int(m) for i, m in zip(ids, n, strict=True) if m != 1}
        last = self.surrogate.history[-1] if self.surrogate.history else {}
        return TrainOutcome(
            n_train=len(ids),
            n_eff=fitted.n_eff,
            epochs=self.surrogate.epoch - first_epoch,
            epoch=self.surrogate.epoch,
            train_loss=last.get("train_loss"),
            val_loss=last.get("val_loss"),
            seconds=time.perf_counter() - start,
            device=fitted.device,
            boosting=fitted.boosting,
        )

    def _multiplicities(self, ids: np.ndarray) -> np.ndarray:
        """Boosting multiplicities ``n_j`` ``(N,)`` of the points ``ids`` (1 unless boosted)."""
        return np.array([self.multiplicity.get(str(i), 1) for i in ids], dtype=np.int64)

    def predict(self, x: np.ndarray, n_samples: int | None = None, *, seed: int | None = None) -> Prediction:
        """Prediction with uncertainties for momenta ``(N, n, 4)`` (see :meth:`Surrogate.predict`)."""
        return self.surrogate.predict(x, n_samples, seed=seed)

    def predict_with_samples(self, x: np.ndarray, n_samples: int | None = None) -> Prediction:
        """Prediction with the ``(M, N)`` weight samples attached (for σ_h,pred bands)."""
        return self.surrogate.predict(x, n_samples, return_samples=True)

    def progress(self) -> str | None:
        """The training state in one line (:meth:`Surrogate.progress_line`), callable while :meth:`train` runs
        (the actor is threaded); None when the strategy trains elsewhere (Ray Train workers)."""
        return self.surrogate.progress_line() if self.strategy.live_progress else None

    def history(self) -> list[dict[str, Any]]:
        """Per-epoch learning curve over all rounds."""
        return [dict(h) for h in self.surrogate.history]

    def checkpoint(self) -> tuple[bytes, dict[str, int]]:
        """The surrogate's state (bytes) and the boosting multiplicities."""
        return state_to_bytes(self.surrogate), dict(self.multiplicity)
