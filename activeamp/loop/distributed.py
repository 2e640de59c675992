"""Data-parallel surrogate training on Ray Train: ``TorchTrainer`` workers whose gradients are all-reduced.

Every worker receives the full training set through the object store, builds the same :class:`Surrogate`
(same seed, same preprocessing fitted on all points, or the same warm-start state) and runs
:func:`activeamp.surrogate.fitting.fit_and_boost` on its part of every global batch
(:class:`activeamp.surrogate.surrogate.DataParallel`): gradients are summed with ``torch.distributed`` (gloo on
CPU, NCCL on GPU; Ray Train sets up the process group), so the workers take identical optimiser steps and stop
at the same epoch. Rank 0 reports per-epoch metrics and, at the end, a checkpoint (the :meth:`Surrogate.save`
file) that the driver reads back in the format of :func:`activeamp.surrogate.fitting.state_to_bytes`.

:class:`DataParallelTraining` is the data-parallel training strategy of the trainer
(:class:`activeamp.loop.trainer.SurrogateTrainer`, chosen by ``trainer.data_parallel_workers``); this module
imports nothing from the trainer.

``storage_path`` must be reachable from every node that runs a worker and from the driver (a shared file
system or a cloud URI on a real cluster; any local directory on a single machine).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from activeamp.jsonio import dumps, plain
from activeamp.surrogate.boosting import BoostingSchedule
from activeamp.surrogate.fitting import FitOutcome, FitTask, fit_and_boost, state_from_bytes, state_to_bytes
from activeamp.surrogate.surrogate import DataParallel, Surrogate, SurrogateConfig

__all__ = [
    "CHECKPOINT_FILE",
    "DataParallelResult",
    "DataParallelTraining",
    "run_data_parallel",
    "train_data_parallel",
    "torch_all_reduce",
]

logger = logging.getLogger(__name__)

#: Name of the :meth:`Surrogate.save` file inside the reported Ray Train checkpoint directory.
CHECKPOINT_FILE = "surrogate.pt"
_MULTIPLICITY_FILE = "multiplicities.npy"
_BOOSTING_FILE = "boosting.json"


@dataclass(frozen=True)
class DataParallelResult:
    """What one data-parallel training run produced.

    Attributes
    ----------
    state : bytes
        The trained surrogate (:func:`activeamp.surrogate.fitting.state_to_bytes` format, loadable with
        :func:`activeamp.surrogate.fitting.state_from_bytes`; the same bytes as a :meth:`Surrogate.save` file).
    metrics : dict
        Rank 0's final metrics: ``epoch`` (total), ``epochs`` (this run), ``train_loss``, ``val_loss``
        (with a validation set), ``converged``, ``n_train``, ``n_eff``, ``n_workers``, ``device``, ``seconds``.
    multiplicities : numpy.ndarray
        Shape ``(N,)`` int64: boosting multiplicities after the run (the input weights without boosting).
    boosting : tuple of dict
        Boosting-round records (see :func:`activeamp.surrogate.boosting.run_boosting`).
    seconds : float
        Wall time of the run seen by the driver (s), Ray Train start-up included.
    checkpoint_path : str
        Where Ray Train stored the checkpoint (under ``storage_path``).
    """

    state: bytes
    metrics: dict[str, Any]
    multiplicities: np.ndarray
    boosting: tuple[dict[str, Any], ...]
    seconds: float
    checkpoint_path: str


def torch_all_reduce(tensor: torch.Tensor) -> None:
    """Sum ``tensor`` in place over the ranks of the default ``torch.distributed`` process group."""
    torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.SUM)


def _train_loop_per_worker(config: dict[str, Any]) -> None:
    """Body of every Ray Train worker: :func:`~activeamp.surrogate.fitting.fit_and_boost` in the worker group,
    then rank 0 reports the checkpoint."""
    import ray
    import ray.train
    import ray.train.torch

    start = time.perf_counter()
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    if config["torch_threads"]:
        torch.set_num_threads(config["torch_threads"])
    x, a, weights, x_val, a_val = ray.get(config["data"])
    device = str(ray.train.torch.get_device()) if config["use_gpu"] else "cpu"
    if config["initial_state"] is not None:
        surrogate = state_from_bytes(ray.get(config["initial_state"]), device=device)
    else:
        surrogate = Surrogate(replace(config["surrogate"], device=device))
    interval = config["report_interval_s"]
    last_report = [time.monotonic()]

    def report(epoch: int, metrics: dict[str, Any]) -> None:
        # ray.train.report is a barrier that every worker must reach equally often, and each report can wait
        # for the controller's poll (~2 s): rank 0's clock decides, the decision is all-reduced.
        if interval > 0:
            due = torch.tensor([float(rank == 0 and time.monotonic() - last_report[0] >= interval)], device=device)
            torch_all_reduce(due)
            if not due.item():
                return
        last_report[0] = time.monotonic()
        ray.train.report(plain({"epoch": epoch, **metrics}))

    fitted = fit_and_boost(
        surrogate,
        x,
        a,
        multiplicities=weights,
        x_val=x_val,
        a_val=a_val,
        boosting=config["boosting"],
        max_epochs=config["max_epochs"],
        max_steps=config["max_steps"],
        callback=report,
        progress=False,
        data_parallel=DataParallel(rank, world, torch_all_reduce),
    )
    last = surrogate.history[-1] if surrogate.history else {}
    final = {
        "epoch": surrogate.epoch,
        "epochs": fitted.epochs,
        "train_loss": last.get("train_loss"),
        "val_loss": last.get("val_loss"),
        "converged": bool(surrogate.stage["converged"]) if surrogate.stage else False,
        "n_train": len(a),
        "n_eff": fitted.n_eff,
        "n_workers": world,
        "device": device,
        "seconds": time.perf_counter() - start,
    }
    with tempfile.TemporaryDirectory(prefix="activeamp-dp-") as tmp:
        checkpoint = None
        if rank == 0:
            surrogate.save(Path(tmp) / CHECKPOINT_FILE)
            np.save(Path(tmp) / _MULTIPLICITY_FILE, np.asarray(fitted.multiplicities))
            (Path(tmp) / _BOOSTING_FILE).write_text(dumps(list(fitted.boosting)))
            checkpoint = ray.train.Checkpoint.from_directory(tmp)
        ray.train.report(plain(final), checkpoint=checkpoint)


def run_data_parallel(
    surrogate: SurrogateConfig | Mapping[str, Any],
    x: np.ndarray,
    amplitudes: np.ndarray,
    x_val: np.ndarray | None = None,
    a_val: np.ndarray | None = None,
    *,
    storage_path: str | os.PathLike[str],
    n_workers: int = 2,
    use_gpu: bool = False,
    initial_state: bytes | None = None,
    weights: np.ndarray | None = None,
    max_epochs: int | None = None,
    max_steps: int | None = None,
    boosting: BoostingSchedule | None = None,
    resources_per_worker: Mapping[str, float] | None = None,
    report_interval_s: float = 10.0,
    torch_threads: int = 0,
    name: str | None = None,
) -> DataParallelResult:
    """Train a surrogate data-parallel with Ray Train's ``TorchTrainer`` (Ray must be initialised).

    Parameters
    ----------
    surrogate : SurrogateConfig or mapping
        Architecture and training settings (ignored apart from the device when ``initial_state`` is given:
        the state carries its own config). Its ``batch_size`` (points per optimiser step) is the GLOBAL batch:
        each worker takes ``batch_size / n_workers`` points of every step.
    x : numpy.ndarray
        Training inputs: ``(N, n, 4)`` momenta [GeV] or ``(N, d)`` features.
    amplitudes : numpy.ndarray
        Shape ``(N,)``: targets ≥ 0.
    x_val, a_val : numpy.ndarray, optional
        Validation set (convergence monitor), shapes as ``x`` / ``amplitudes``.
    storage_path : str or path-like
        Absolute local path or URI where Ray Train keeps the run (shared by all nodes on a real cluster).
    n_workers : int
        Training workers (processes), e.g. one per GPU.
    use_gpu : bool
        One GPU per worker (NCCL) instead of CPU workers (gloo).
    initial_state : bytes, optional
        Warm start from :func:`activeamp.surrogate.fitting.state_to_bytes` output (network, optimiser,
        preprocessing).
    weights : numpy.ndarray, optional
        Shape ``(N,)``: multiplicities ``n_j`` (default all 1); the KL is normalised to the global Σ n_j.
    max_epochs, max_steps : int, optional
        Epoch and optimiser-step limits of this training stage (defaults ``config.max_epochs`` / ``.max_steps``).
    boosting : BoostingSchedule, optional
        Boosting rounds to run after the stage, inside the same workers.
    resources_per_worker : mapping, optional
        Ray resources of each worker (default ``{"CPU": 1}``, plus ``{"GPU": 1}`` with ``use_gpu``), e.g.
        ``{"CPU": 0.5}`` on a small machine or ``{"CPU": 4, "GPU": 1, "trainer": 1}`` on a cluster.
    report_interval_s : float
        Report the latest epoch's metrics to Ray Train at most this often (seconds; 0: every epoch). Each
        report is a barrier across the workers and may wait for the controller's poll (about 2 s), so
        per-epoch reports would dominate small models; the full learning curve is the surrogate's
        ``history`` in the checkpoint.
    torch_threads : int
        Torch intra-op threads per worker (0: torch's default).
    name : str, optional
        Ray Train run name (default: unique per call).

    Returns
    -------
    DataParallelResult
        Trained state, final metrics, multiplicities and boosting records.
    """
    import ray
    from ray.train import CheckpointConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    if not ray.is_initialized():
        raise RuntimeError(
            "run_data_parallel needs a running Ray (call ray.init or activeamp.loop.cluster.connect first)"
        )
    if n_workers < 1:
        raise ValueError(f"n_workers: must be >= 1, got {n_workers}")
    if report_interval_s < 0:
        raise ValueError(f"report_interval_s: must be >= 0, got {report_interval_s}")
    storage = str(storage_path)
    if "://" not in storage and not os.path.isabs(storage):
        raise ValueError(f"storage_path: Ray Train needs an absolute path or a URI, got {storage!r}")
    cfg = surrogate if isinstance(surrogate, SurrogateConfig) else SurrogateConfig.from_dict(surrogate)
    a = np.asarray(amplitudes, dtype=np.float64)
    if len(x) != len(a):
        raise ValueError(f"x has {len(x)} points but amplitudes has {len(a)}")
    w = np.ones(len(a), dtype=np.int64) if weights is None else np.asarray(weights)
    if w.shape != a.shape:
        raise ValueError(f"weights: expected shape {a.shape}, got {w.shape}")
    if (x_val is None) != (a_val is None):
        raise ValueError("give both x_val and a_val, or neither")

    resources = dict(resources_per_worker) if resources_per_worker is not None else {"CPU": 1.0}
    if use_gpu:
        resources.setdefault("GPU", 1.0)
    loop_config = {
        "data": ray.put((np.asarray(x), a, w, x_val, a_val)),
        "initial_state": ray.put(initial_state) if initial_state is not None else None,
        "surrogate": cfg,
        "use_gpu": bool(use_gpu),
        "max_epochs": max_epochs,
        "max_steps": max_steps,
        "boosting": boosting,
        "report_interval_s": float(report_interval_s),
        "torch_threads": int(torch_threads),
    }
    run_name = name or f"surrogate-dp-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    trainer = TorchTrainer(
        _train_loop_per_worker,
        train_loop_config=loop_config,
        scaling_config=ScalingConfig(num_workers=n_workers, use_gpu=use_gpu, resources_per_worker=resources),
        run_config=RunConfig(name=run_name, storage_path=storage, checkpoint_config=CheckpointConfig(num_to_keep=1)),
    )
    logger.info("data-parallel training on %d %s workers (%s)", n_workers, "GPU" if use_gpu else "CPU", run_name)
    start = time.perf_counter()
    result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError(f"Ray Train run {run_name!r} finished without a checkpoint (see {storage})")
    with result.checkpoint.as_directory() as folder:
        state = (Path(folder) / CHECKPOINT_FILE).read_bytes()
        multiplicities = np.load(Path(folder) / _MULTIPLICITY_FILE)
        records = tuple(json.loads((Path(folder) / _BOOSTING_FILE).read_text()))
    metrics = dict(result.metrics or {})
    logger.info(
        "data-parallel training: %s epochs, train loss %s, in %.1f s",
        metrics.get("epochs"),
        metrics.get("train_loss"),
        metrics.get("seconds", float("nan")),
    )
    seconds = time.perf_counter() - start
    return DataParallelResult(state, metrics, multiplicities, records, seconds, result.checkpoint.path)


def train_data_parallel(
    surrogate: SurrogateConfig | Mapping[str, Any],
    x: np.ndarray,
    amplitudes: np.ndarray,
    x_val: np.ndarray | None = None,
    a_val: np.ndarray | None = None,
    *,
    storage_path: str | os.PathLike[str],
    n_workers: int = 2,
    use_gpu: bool = False,
    initial_state: bytes | None = None,
    weights: np.ndarray | None = None,
    max_epochs: int | None = None,
    **options: Any,
) -> tuple[bytes, dict[str, Any]]:
    """Data-parallel training; returns the trained state (bytes) and rank 0's final metrics.

    The bytes are the checkpoint format of :func:`activeamp.surrogate.fitting.state_to_bytes` (load with
    :func:`activeamp.surrogate.fitting.state_from_bytes`, or write them to a file and use :meth:`Surrogate.load`).
    Parameters as in :func:`run_data_parallel` (``options``: its remaining keyword arguments).
    """
    result = run_data_parallel(
        surrogate,
        x,
        amplitudes,
        x_val,
        a_val,
        storage_path=storage_path,
        n_workers=n_workers,
        use_gpu=use_gpu,
        initial_state=initial_state,
        weights=weights,
        max_epochs=max_epochs,
        **options,
    )
    return result.state, result.metrics


class DataParallelTraining:
    """Training strategy of the trainer: :func:`~activeamp.surrogate.fitting.fit_and_boost` on Ray Train workers.

    :class:`activeamp.loop.trainer.SurrogateTrainer` uses it when ``trainer.data_parallel_workers > 0``. Each
    :meth:`train` call runs one ``TorchTrainer`` (the stage and the boosting rounds inside the same workers,
    :func:`run_data_parallel`) and returns the surrogate rebuilt from rank 0's checkpoint.

    Parameters
    ----------
    n_workers : int
        Ray Train workers (processes), e.g. one per GPU.
    use_gpu : bool or "auto"
        GPU workers; ``"auto"``: when the cluster has a GPU per worker.
    storage_path : str or path-like, optional
        Ray Train storage (default: a temporary directory made at the first :meth:`train`; on a multi-node
        cluster give shared storage).
    resources_per_worker : mapping, optional
        See :func:`run_data_parallel`.
    torch_threads : int
        Torch intra-op threads per worker (0: torch's default).
    """

    #: The trainer's own surrogate is idle while the workers train: no progress lines.
    live_progress = False

    def __init__(
        self,
        n_workers: int = 2,
        *,
        use_gpu: bool | Literal["auto"] = "auto",
        storage_path: str | os.PathLike[str] | None = None,
        resources_per_worker: Mapping[str, float] | None = None,
        torch_threads: int = 0,
    ) -> None:
        if n_workers < 1:
            raise ValueError(f"n_workers: must be >= 1, got {n_workers}")
        self.n_workers = int(n_workers)
        self.use_gpu = use_gpu
        self.storage_path = str(storage_path) if storage_path is not None else None
        self.resources_per_worker = dict(resources_per_worker) if resources_per_worker is not None else None
        self.torch_threads = int(torch_threads)
        self.last_result: DataParallelResult | None = None

    def _gpu_workers(self) -> bool:
        if self.use_gpu != "auto":
            return bool(self.use_gpu)
        import ray

        return ray.cluster_resources().get("GPU", 0.0) >= self.n_workers

    def train(self, surrogate: Surrogate, task: FitTask, *, progress: bool = False) -> tuple[Surrogate, FitOutcome]:
        """Fit and boost on the workers, warm-starting them from ``surrogate`` when it is trained.

        ``progress`` is unused (per-epoch metrics go to Ray Train). Returns a new surrogate, on ``surrogate``'s
        device, and the outcome (``device`` ``"ray-train:<workers>x<cpu|cuda>"``).

        Raises
        ------
        ValueError
            For a wall-time limit ``task.max_seconds``: the workers cannot share one.
        """
        if task.max_seconds:
            raise ValueError(
                f"max_seconds: {task.max_seconds:g} s; data-parallel workers cannot share a wall-time limit, "
                "limit the stage by max_steps or max_epochs"
            )
        if self.storage_path is None:
            self.storage_path = tempfile.mkdtemp(prefix="activeamp-dp-")
        use_gpu = self._gpu_workers()
        result = run_data_parallel(
            surrogate.config,
            task.x,
            task.targets,
            task.x_val,
            task.a_val,
            storage_path=self.storage_path,
            n_workers=self.n_workers,
            use_gpu=use_gpu,
            initial_state=state_to_bytes(surrogate) if surrogate.is_fitted else None,
            weights=task.multiplicities,
            max_epochs=task.max_epochs,
            max_steps=task.max_steps,
            boosting=task.boosting,
            resources_per_worker=self.resources_per_worker,
            torch_threads=self.torch_threads,
        )
        self.last_result = result
        trained = state_from_bytes(result.state, device=surrogate.config.device)
        outcome = FitOutcome(
            multiplicities=result.multiplicities,
            boosting=result.boosting,
            epochs=int(result.metrics.get("epochs", trained.epoch - surrogate.epoch)),
            seconds=result.seconds,
            device=f"ray-train:{self.n_workers}x{'cuda' if use_gpu else 'cpu'}",
        )
        return trained, outcome
