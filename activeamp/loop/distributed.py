"""Data-parallel surrogate training on Ray Train: ``TorchTrainer`` workers whose gradients are all-reduced.

Every worker receives the full training set through the object store, builds the same :class:`Surrogate`
(same seed, same preprocessing fitted on all points, or the same warm-start state) and trains on its part of
every global batch (:class:`activeamp.surrogate.surrogate.DataParallel`): gradients are summed with
``torch.distributed`` (gloo on CPU, NCCL on GPU; Ray Train sets up the process group), so the workers take
identical optimiser steps and stop at the same epoch. Rank 0 reports per-epoch metrics and, at the end, a
checkpoint (the :meth:`Surrogate.save` file) that the driver reads back in the format of
:func:`activeamp.loop.trainer.state_to_bytes`.

:class:`DataParallelTrainer` has the interface of :class:`activeamp.loop.trainer.SurrogateTrainer` used by
:class:`activeamp.loop.active.ActiveLearner`; it trains through Ray Train and keeps the result for predictions.

``storage_path`` must be reachable from every node that runs a worker and from the driver (a shared file
system or a cloud URI on a real cluster; any local directory on a single machine).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from activeamp.loop.trainer import SurrogateTrainer, TrainerConfig, TrainOutcome, state_from_bytes, state_to_bytes
from activeamp.surrogate.boosting import BoostingSchedule, run_boosting
from activeamp.surrogate.surrogate import Callback, DataParallel, Surrogate, SurrogateConfig

__all__ = [
    "CHECKPOINT_FILE",
    "DataParallelResult",
    "DataParallelTrainer",
    "fit_on_worker",
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
        The trained surrogate (:func:`activeamp.loop.trainer.state_to_bytes` format, loadable with
        :func:`activeamp.loop.trainer.state_from_bytes`; the same bytes as a :meth:`Surrogate.save` file).
    metrics : dict
        Rank 0's final metrics: ``epoch`` (total), ``epochs`` (this run), ``train_loss``, ``val_loss``
        (with a validation set), ``converged``, ``n_train``, ``n_eff``, ``n_workers``, ``device``, ``seconds``.
    multiplicities : numpy.ndarray
        Shape ``(N,)`` int64: boosting multiplicities after the run (the input weights without boosting).
    boosting : tuple of dict
        Boosting-round records (see :func:`activeamp.surrogate.boosting.run_boosting`).
    checkpoint_path : str
        Where Ray Train stored the checkpoint (under ``storage_path``).
    """

    state: bytes
    metrics: dict[str, Any]
    multiplicities: np.ndarray
    boosting: tuple[dict[str, Any], ...]
    checkpoint_path: str


def torch_all_reduce(tensor: torch.Tensor) -> None:
    """Sum ``tensor`` in place over the ranks of the default ``torch.distributed`` process group."""
    torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.SUM)


def _json_safe(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value


def fit_on_worker(
    surrogate: Surrogate,
    x: np.ndarray,
    amplitudes: np.ndarray,
    x_val: np.ndarray | None = None,
    a_val: np.ndarray | None = None,
    *,
    data_parallel: DataParallel,
    weights: np.ndarray | None = None,
    max_epochs: int | None = None,
    max_steps: int | None = None,
    boosting: BoostingSchedule | None = None,
    callback: Callback | None = None,
) -> tuple[np.ndarray, tuple[dict[str, Any], ...]]:
    """What every worker of a data-parallel run does, under any process group (Ray Train, torchrun, ...).

    Trains one stage with :class:`~activeamp.surrogate.surrogate.DataParallel` set, then runs the boosting rounds.
    Every worker must call it with an identical surrogate and the same arguments apart from
    ``data_parallel.rank``.

    Parameters
    ----------
    surrogate : Surrogate
        Trained in place: a fresh one built from the same config on every worker (same seed: identical
        initialisation; the preprocessing is fitted on all points) or one warm-started from the same state.
    x, amplitudes : numpy.ndarray
        ALL training points, ``(N, n, 4)`` momenta [GeV] or ``(N, d)`` features, and ``(N,)`` targets.
    x_val, a_val : numpy.ndarray, optional
        Validation set (every worker evaluates its share).
    data_parallel : DataParallel
        This worker's rank, the world size and the all-reduce.
    weights : numpy.ndarray, optional
        ``(N,)`` multiplicities (default all 1).
    max_epochs, max_steps : int, optional
        Epoch and optimiser-step limits of the stage (default ``config.max_epochs`` / ``config.max_steps``). A
        wall-time limit (``config.max_seconds``) is refused: each worker's clock would set its own schedule.
    boosting : BoostingSchedule, optional
        Boosting rounds after the stage; the pulls are computed on every worker with the same network and
        seeds, so all workers raise the same multiplicities.
    callback : callable, optional
        ``callback(epoch, metrics)`` after every epoch, on every worker.

    Returns
    -------
    tuple
        The final ``(N,)`` multiplicities and the boosting records (``surrogate.data_parallel`` is unset again).
    """
    n = np.ones(len(amplitudes), dtype=np.int64) if weights is None else np.asarray(weights)
    if surrogate.config.max_seconds > 0:
        raise ValueError(
            "surrogate.max_seconds: data-parallel workers cannot share a wall-time schedule; "
            "limit the stage by max_steps or max_epochs"
        )
    surrogate.data_parallel = data_parallel
    try:
        surrogate.fit(
            x,
            amplitudes,
            weights=n,
            x_val=x_val,
            a_val=a_val,
            callback=callback,
            progress=False,
            new_stage=True,
            max_epochs=max_epochs,
            max_steps=max_steps,
        )
        records: tuple[dict[str, Any], ...] = ()
        if boosting is not None and boosting.steps:
            result = run_boosting(
                surrogate,
                x,
                amplitudes,
                boosting,
                multiplicities=n,
                x_val=x_val,
                a_val=a_val,
                callback=callback,
                progress=False,
            )
            n, records = result.multiplicities, result.history
    finally:
        surrogate.data_parallel = None
    return n, records


def _train_loop_per_worker(config: dict[str, Any]) -> None:
    """Body of every Ray Train worker: :func:`fit_on_worker`, then rank 0 reports the checkpoint."""
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
        surrogate = Surrogate(dataclasses.replace(config["surrogate"], device=device))
    first_epoch = surrogate.epoch
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
        ray.train.report({"epoch": epoch, **{k: _json_safe(v) for k, v in metrics.items()}})

    n, records = fit_on_worker(
        surrogate,
        x,
        a,
        x_val,
        a_val,
        data_parallel=DataParallel(rank, world, torch_all_reduce),
        weights=weights,
        max_epochs=config["max_epochs"],
        max_steps=config.get("max_steps"),
        boosting=config["boosting"],
        callback=report,
    )
    last = surrogate.history[-1] if surrogate.history else {}
    final = {
        "epoch": surrogate.epoch,
        "epochs": surrogate.epoch - first_epoch,
        "train_loss": last.get("train_loss"),
        "val_loss": last.get("val_loss"),
        "converged": bool(surrogate.stage["converged"]) if surrogate.stage else False,
        "n_train": len(a),
        "n_eff": float(np.sum(n)),
        "n_workers": world,
        "device": device,
        "seconds": time.perf_counter() - start,
    }
    with tempfile.TemporaryDirectory(prefix="activeamp-dp-") as tmp:
        checkpoint = None
        if rank == 0:
            surrogate.save(Path(tmp) / CHECKPOINT_FILE)
            np.save(Path(tmp) / _MULTIPLICITY_FILE, np.asarray(n))
            (Path(tmp) / _BOOSTING_FILE).write_text(json.dumps([dict(r) for r in records], default=_json_safe))
            checkpoint = ray.train.Checkpoint.from_directory(tmp)
        ray.train.report(final, checkpoint=checkpoint)


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
        the state carries its own config). ``batch_size`` is the GLOBAL batch, split over the workers.
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
        Warm start from :func:`activeamp.loop.trainer.state_to_bytes` output (network, optimiser, preprocessing).
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
    return DataParallelResult(state, metrics, multiplicities, records, result.checkpoint.path)


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

    The bytes are the checkpoint format of :func:`activeamp.loop.trainer.state_to_bytes` (load with
    :func:`activeamp.loop.trainer.state_from_bytes`, or write them to a file and use :meth:`Surrogate.load`).
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


class DataParallelTrainer(SurrogateTrainer):
    """Drop-in for :class:`activeamp.loop.trainer.SurrogateTrainer` that trains through Ray Train.

    Each :meth:`train` call runs one ``TorchTrainer`` (the warm-start stage and the boosting rounds inside
    the same workers) and keeps the resulting surrogate here for :meth:`predict`. Boosting multiplicities
    are remembered per point id, as in :class:`~activeamp.loop.trainer.SurrogateTrainer`.

    Parameters
    ----------
    surrogate : SurrogateConfig or mapping
        The surrogate; its ``device`` is where this object predicts.
    boosting : BoostingSchedule, optional
        Boosting schedule run after each round's training.
    config : TrainerConfig, optional
        ``round_epochs`` and ``torch_threads`` are used; ``num_gpus`` ("auto" or a number) decides whether
        the workers use GPUs unless ``use_gpu`` is given; ``data_parallel_workers`` (when the lead's
        :class:`TrainerConfig` has it and it is > 0) is the default of ``n_workers``.
    n_workers : int, optional
        Ray Train workers (default: ``config.data_parallel_workers`` or 2).
    use_gpu : bool or "auto", optional
        GPU workers; "auto": when the cluster has a GPU per worker.
    storage_path : str or path-like, optional
        Ray Train storage (default: a temporary directory; on a multi-node cluster give shared storage).
    resources_per_worker : mapping, optional
        See :func:`run_data_parallel`.
    """

    def progress(self) -> str | None:
        """No line: the Ray Train workers hold the surrogate while they train."""
        return None

    def __init__(
        self,
        surrogate: SurrogateConfig | Mapping[str, Any],
        boosting: BoostingSchedule | None = None,
        config: TrainerConfig | None = None,
        *,
        n_workers: int | None = None,
        use_gpu: bool | Literal["auto"] | None = None,
        storage_path: str | os.PathLike[str] | None = None,
        resources_per_worker: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(surrogate, boosting, config)
        self.n_workers = int(n_workers or getattr(self.config, "data_parallel_workers", 0) or 2)
        if use_gpu is None:
            use_gpu = "auto" if self.config.num_gpus == "auto" else bool(self.config.num_gpus)
        self._use_gpu = use_gpu
        self.storage_path = str(storage_path) if storage_path is not None else tempfile.mkdtemp(prefix="activeamp-dp-")
        self.resources_per_worker = dict(resources_per_worker) if resources_per_worker is not None else None
        self.last_result: DataParallelResult | None = None

    def _gpu_workers(self) -> bool:
        if self._use_gpu != "auto":
            return bool(self._use_gpu)
        import ray

        return ray.cluster_resources().get("GPU", 0.0) >= self.n_workers

    def device(self) -> str:
        """The torch device this object predicts on (the workers choose their own)."""
        return str(self.surrogate.device)

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
        """Train on all current points through Ray Train (see :meth:`SurrogateTrainer.train`).

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
            Unused (per-epoch metrics go to Ray Train); accepted for interface compatibility.
        """
        start = time.perf_counter()
        first_epoch = self.surrogate.epoch
        n = self._multiplicities(ids)
        warm = self.surrogate.is_fitted
        use_gpu = self._gpu_workers()
        result = run_data_parallel(
            self.surrogate.config,
            x,
            amplitudes,
            x_val,
            a_val,
            storage_path=self.storage_path,
            n_workers=self.n_workers,
            use_gpu=use_gpu,
            initial_state=state_to_bytes(self.surrogate) if warm else None,
            weights=n,
            max_epochs=self.config.round_epochs if warm else None,
            max_steps=self.config.round_steps or None if warm else None,
            boosting=self.boosting,
            resources_per_worker=self.resources_per_worker,
            torch_threads=self.config.torch_threads,
        )
        self.last_result = result
        self.surrogate = state_from_bytes(result.state, device=self.surrogate.config.device)
        device = f"ray-train:{self.n_workers}x{'cuda' if use_gpu else 'cpu'}"
        return self._outcome(ids, result.multiplicities, first_epoch, start, device, result.boosting)
