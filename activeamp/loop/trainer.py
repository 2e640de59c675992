"""The trainer: holds the surrogate between rounds (warm start), trains on the current data, scores points.

:class:`SurrogateTrainer` is plain Python (usable and testable without a cluster); :func:`trainer_actor`
wraps it as a Ray actor placed by resources (``num_gpus=1`` when the cluster has GPUs).
"""

from __future__ import annotations

import dataclasses
import io
import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from activeamp.config import ConfigError
from activeamp.surrogate.boosting import BoostingSchedule, run_boosting
from activeamp.surrogate.prediction import Prediction
from activeamp.surrogate.surrogate import Surrogate, SurrogateConfig

__all__ = ["TrainerConfig", "TrainOutcome", "SurrogateTrainer", "trainer_actor", "state_to_bytes", "state_from_bytes"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainerConfig:
    """Where and how the surrogate trains.

    Attributes
    ----------
    num_gpus : "auto" or float
        GPUs for the trainer actor: ``"auto"`` requests one when the cluster reports GPUs (a request
        without GPUs would pend forever), else none.
    num_cpus : float
        CPUs reserved for the trainer actor.
    resources : dict
        Custom resources, e.g. ``{"trainer": 1}`` to land on the GPU node type of a real cluster.
    torch_threads : int
        Torch intra-op threads inside the trainer (0: torch's default; the trainer actor then uses ``num_cpus``,
        at least 1).
    round_epochs, round_steps, round_seconds : int, int, float
        Limits of the warm-start training stage of each round after round 0 (0 steps or seconds: the
        surrogate's ``max_steps`` / ``max_seconds``); the first one reached ends the stage.
    startup_timeout : float
        Seconds to wait for the actor to be placed before failing with a message naming the resources.
    data_parallel_workers : int
        0: train inside the actor. > 0: the actor trains through Ray Train on this many data-parallel
        workers (:mod:`activeamp.loop.distributed`), which then hold the GPUs.
    """

    num_gpus: Literal["auto"] | float = "auto"
    num_cpus: float = 1.0
    resources: dict[str, float] = field(default_factory=dict)
    torch_threads: int = 0
    round_epochs: int = 100
    round_steps: int = 0
    round_seconds: float = 0.0
    startup_timeout: float = 600.0
    data_parallel_workers: int = 0

    def __post_init__(self) -> None:
        if self.num_gpus != "auto" and (not isinstance(self.num_gpus, (int, float)) or self.num_gpus < 0):
            raise ConfigError(f"trainer.num_gpus: expected 'auto' or a number >= 0, got {self.num_gpus!r}")
        counts = (self.num_cpus, self.torch_threads, self.data_parallel_workers, self.round_steps, self.round_seconds)
        if min(counts) < 0 or self.round_epochs < 1:
            raise ConfigError(
                "trainer.num_cpus, trainer.torch_threads, trainer.data_parallel_workers, trainer.round_steps and "
                "trainer.round_seconds must be >= 0, trainer.round_epochs >= 1"
            )


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
        Torch device used.
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


def state_to_bytes(surrogate: Surrogate) -> bytes:
    """Serialise a surrogate's full state (the checkpoint format of :meth:`Surrogate.save`)."""
    buffer = io.BytesIO()
    torch.save(surrogate.state_dict(), buffer)
    return buffer.getvalue()


def state_from_bytes(data: bytes, device: str | None = None) -> Surrogate:
    """Rebuild a surrogate from :func:`state_to_bytes` output."""
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    config = SurrogateConfig.from_dict(state["config"])
    if device is not None:
        config = SurrogateConfig.from_dict({**config.to_dict(), "device": device})
    surrogate = Surrogate(config)
    surrogate.load_state_dict(state)
    return surrogate


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
    """

    def __init__(
        self,
        surrogate: SurrogateConfig | Mapping[str, Any],
        boosting: BoostingSchedule | None = None,
        config: TrainerConfig | None = None,
        log_progress: bool = False,
    ) -> None:
        self.config = config or TrainerConfig()
        if log_progress:
            _log_progress_to_stderr()
        if self.config.torch_threads:
            torch.set_num_threads(self.config.torch_threads)
        cfg = surrogate if isinstance(surrogate, SurrogateConfig) else SurrogateConfig.from_dict(surrogate)
        self.surrogate = Surrogate(cfg)
        self.boosting = boosting
        self.multiplicity: dict[str, int] = {}

    def load(self, state: bytes, multiplicity: Mapping[str, int] | None = None) -> None:
        """Resume from a checkpoint (bytes of :func:`state_to_bytes`) and the saved multiplicities."""
        self.surrogate = state_from_bytes(state, device=self.surrogate.config.device)
        self.multiplicity = dict(multiplicity or {})

    def device(self) -> str:
        """The torch device the surrogate trains on."""
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
        """
        start = time.perf_counter()
        first_epoch = self.surrogate.epoch
        n = self._multiplicities(ids)
        warm = self.surrogate.is_fitted
        self.surrogate.fit(
            x,
            amplitudes,
            weights=n,
            x_val=x_val,
            a_val=a_val,
            new_stage=True,
            max_epochs=self.config.round_epochs if warm else None,
            max_steps=self.config.round_steps or None if warm else None,
            max_seconds=self.config.round_seconds or None if warm else None,
            progress=progress,
        )
        records: tuple[dict[str, Any], ...] = ()
        if self.boosting is not None and self.boosting.steps:
            result = run_boosting(
                self.surrogate,
                x,
                amplitudes,
                self.boosting,
                multiplicities=n,
                x_val=x_val,
                a_val=a_val,
                progress=progress,
            )
            n = result.multiplicities
            records = result.history
        return self._outcome(ids, n, first_epoch, start, self.device(), records)

    def _multiplicities(self, ids: np.ndarray) -> np.ndarray:
        """Boosting multiplicities ``n_j`` ``(N,)`` of the points ``ids`` (1 unless boosted)."""
        return np.array([self.multiplicity.get(str(i), 1) for i in ids], dtype=np.int64)

    def _outcome(
        self,
        ids: np.ndarray,
        n: np.ndarray,
        first_epoch: int,
        start: float,
        device: str,
        boosting: tuple[dict[str, Any], ...],
    ) -> TrainOutcome:
        """Keep the new multiplicities ``n`` and summarise the training that began at ``start``."""
        self.multiplicity = {str(i): int(m) for i, m in zip(ids, n, strict=True) if m != 1}
        last = self.surrogate.history[-1] if self.surrogate.history else {}
        return TrainOutcome(
            n_train=len(ids),
            n_eff=float(n.sum()),
            epochs=self.surrogate.epoch - first_epoch,
            epoch=self.surrogate.epoch,
            train_loss=last.get("train_loss"),
            val_loss=last.get("val_loss"),
            seconds=time.perf_counter() - start,
            device=device,
            boosting=boosting,
        )

    def predict(self, x: np.ndarray, n_samples: int | None = None, *, seed: int | None = None) -> Prediction:
        """Prediction with uncertainties for momenta ``(N, n, 4)`` (see :meth:`Surrogate.predict`)."""
        return self.surrogate.predict(x, n_samples, seed=seed)

    def predict_with_samples(self, x: np.ndarray, n_samples: int | None = None) -> Prediction:
        """Prediction with the ``(M, N)`` weight samples attached (for σ_h,pred bands)."""
        return self.surrogate.predict(x, n_samples, return_samples=True)

    def progress(self) -> str | None:
        """The training state in one line (:meth:`Surrogate.progress_line`), callable while :meth:`train` runs
        (the actor is threaded)."""
        return self.surrogate.progress_line()

    def history(self) -> list[dict[str, Any]]:
        """Per-epoch learning curve over all rounds."""
        return [dict(h) for h in self.surrogate.history]

    def checkpoint(self) -> tuple[bytes, dict[str, int]]:
        """The surrogate's state (bytes) and the boosting multiplicities."""
        return state_to_bytes(self.surrogate), dict(self.multiplicity)


def trainer_actor(
    surrogate: SurrogateConfig,
    boosting: BoostingSchedule | None,
    config: TrainerConfig,
) -> Any:
    """Start :class:`SurrogateTrainer` as a Ray actor placed by ``config`` (Ray must be initialised)."""
    import ray

    from activeamp.loop.distributed import DataParallelTrainer

    gpus = config.num_gpus
    if gpus == "auto":
        gpus = 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0
    body = DataParallelTrainer if config.data_parallel_workers else SurrogateTrainer
    gpus = 0.0 if config.data_parallel_workers else gpus  # the Ray Train workers hold the GPUs
    actor_cls = ray.remote(body).options(
        num_cpus=config.num_cpus,
        num_gpus=float(gpus),
        resources=dict(config.resources) or None,
        max_restarts=0,
        max_concurrency=2,  # progress() answers while train() runs
    )
    from activeamp.loop.cluster import check_resources, wait_ready

    request = {"CPU": config.num_cpus, "GPU": float(gpus), **config.resources}
    check_resources(request, "the trainer")
    logger.info("starting trainer actor (num_gpus=%g, resources=%s)", gpus, dict(config.resources))
    if not config.torch_threads:  # an actor's torch would use one thread, whatever it reserved
        config = dataclasses.replace(config, torch_threads=max(1, int(config.num_cpus)))
    extra = {} if config.data_parallel_workers else {"log_progress": True}
    actor = actor_cls.remote(surrogate, boosting, config, **extra)
    wait_ready([actor.device.remote()], request, "the trainer actor", config.startup_timeout)
    return actor
