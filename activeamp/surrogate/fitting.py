"""Fit then boost: the one training procedure of ``activeamp train``, the trainer actor and the Ray Train workers.

:func:`fit_and_boost` trains one new stage of a :class:`~activeamp.surrogate.surrogate.Surrogate` with the current
multiplicities n_j, then runs a boosting schedule (:func:`activeamp.surrogate.boosting.run_boosting`). It is pure
torch / numpy: where it runs (this process, a Ray actor, every worker of a data-parallel group) is the caller's
choice. :func:`state_to_bytes` / :func:`state_from_bytes` move a surrogate between those processes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from activeamp.surrogate.boosting import BoostingSchedule, run_boosting
from activeamp.surrogate.checkpoint import dump_state, load_state
from activeamp.surrogate.surrogate import Callback, DataParallel, Surrogate

__all__ = ["FitOutcome", "FitTask", "fit_and_boost", "state_from_bytes", "state_to_bytes"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitOutcome:
    """What one :func:`fit_and_boost` call did.

    Attributes
    ----------
    multiplicities : numpy.ndarray
        Shape ``(N,)``: the multiplicities n_j after the call (the starting ones when no boosting round ran).
    boosting : tuple of dict
        One record per boosting round (:class:`~activeamp.surrogate.boosting.BoostingResult` ``history``);
        empty without boosting.
    epochs : int
        Epochs trained by the call, over all its stages.
    seconds : float
        Wall time of the call (s).
    device : str
        Where it trained: the torch device, or a description such as ``"ray-train:2xcuda"``.
    """

    multiplicities: np.ndarray
    boosting: tuple[dict[str, Any], ...]
    epochs: int
    seconds: float
    device: str

    @property
    def n_eff(self) -> float:
        """N_eff = Σ_j n_j."""
        return float(np.sum(self.multiplicities))


def fit_and_boost(
    surrogate: Surrogate,
    x: np.ndarray,
    targets: np.ndarray,
    *,
    multiplicities: np.ndarray | None = None,
    x_val: np.ndarray | None = None,
    a_val: np.ndarray | None = None,
    boosting: BoostingSchedule | None = None,
    max_epochs: int | None = None,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    callback: Callback | None = None,
    progress: bool | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every_s: float = 60.0,
    data_parallel: DataParallel | None = None,
) -> FitOutcome:
    """Train one new stage, then run the boosting rounds of ``boosting``; ``surrogate`` is trained in place.

    The stage (:meth:`Surrogate.fit` with ``new_stage=True``) is a first training of a fresh surrogate or a
    warm-start stage of a trained one (optimiser state kept, plateau rule and learning-rate schedule restarted);
    its NLL is weighted by ``multiplicities``. Each boosting round then raises n_j from the pulls or σ_tot of the
    current network and trains a further stage (:func:`activeamp.surrogate.boosting.run_boosting`). The same
    arguments and seeds give the same network, in any process.

    Parameters
    ----------
    surrogate : Surrogate
        Fresh or trained; modified in place.
    x : numpy.ndarray
        Training inputs: ``(N, n, 4)`` momenta [GeV] or ``(N, d)`` features.
    targets : numpy.ndarray
        Shape ``(N,)`` squared matrix elements, or ``(N, K)`` outputs of a vector model.
    multiplicities : numpy.ndarray, optional
        Shape ``(N,)``: starting n_j (default all 1).
    x_val, a_val : numpy.ndarray, optional
        Validation set (its NLL is the convergence monitor), shaped like ``x`` / ``targets``.
    boosting : BoostingSchedule, optional
        Rounds run after the stage; None or a schedule without steps trains the stage only.
    max_epochs, max_steps, max_seconds : optional
        Limits of the first stage (defaults: the surrogate config's); the first one reached ends it. The
        boosting stages follow the schedule's ``max_epochs``.
    callback : callable, optional
        ``callback(epoch, metrics)`` after every epoch of every stage.
    progress : bool, optional
        tqdm bars (None: only on a terminal).
    checkpoint : path, optional
        During the first stage, save the best model so far there every ``checkpoint_every_s`` seconds
        (:meth:`Surrogate.fit`); the caller saves the final model.
    checkpoint_every_s : float
        Seconds between checkpoint checks.
    data_parallel : DataParallel, optional
        This worker's place in a data-parallel group: every worker calls :func:`fit_and_boost` with an
        identical surrogate and the same arguments apart from ``data_parallel.rank``; gradients are all-reduced,
        so all workers take the same steps and raise the same n_j. Unset again on return.

    Returns
    -------
    FitOutcome

    Raises
    ------
    ValueError
        For a wall-time limit (``max_seconds`` or ``surrogate.config.max_seconds``) with ``data_parallel``: each
        worker's clock would set its own schedule; limit the stage by steps or epochs.
    """
    n = np.ones(len(targets), dtype=np.int64) if multiplicities is None else np.asarray(multiplicities)
    if data_parallel is not None and (surrogate.config.max_seconds > 0 or max_seconds):
        raise ValueError(
            "surrogate.max_seconds: data-parallel workers cannot share a wall-time schedule; "
            "limit the stage by max_steps or max_epochs"
        )
    start, first_epoch = time.perf_counter(), surrogate.epoch
    if data_parallel is not None:
        surrogate.data_parallel = data_parallel
    try:
        surrogate.fit(
            x,
            targets,
            weights=n,
            x_val=x_val,
            a_val=a_val,
            callback=callback,
            progress=progress,
            new_stage=True,
            max_epochs=max_epochs,
            max_steps=max_steps,
            max_seconds=max_seconds,
            checkpoint=checkpoint,
            checkpoint_every_s=checkpoint_every_s,
        )
        records: tuple[dict[str, Any], ...] = ()
        if boosting is not None and boosting.steps:
            result = run_boosting(
                surrogate,
                x,
                targets,
                boosting,
                multiplicities=n,
                x_val=x_val,
                a_val=a_val,
                callback=callback,
                progress=progress,
            )
            n, records = result.multiplicities, result.history
    finally:
        if data_parallel is not None:
            surrogate.data_parallel = None
    return FitOutcome(
        multiplicities=n,
        boosting=records,
        epochs=surrogate.epoch - first_epoch,
        seconds=time.perf_counter() - start,
        device=str(surrogate.device),
    )


@dataclass(frozen=True)
class FitTask:
    """The data and limits of one :func:`fit_and_boost` call: what a trainer hands to its training strategy.

    Attributes
    ----------
    x, targets : numpy.ndarray
        Training inputs ``(N, n, 4)`` momenta [GeV] or ``(N, d)`` features, and targets ``(N,)`` or ``(N, K)``.
    multiplicities : numpy.ndarray, optional
        Shape ``(N,)``: starting n_j (default all 1).
    x_val, a_val : numpy.ndarray, optional
        Validation set.
    boosting : BoostingSchedule, optional
        Boosting rounds after the stage.
    max_epochs, max_steps, max_seconds : optional
        Limits of the first stage (None: the surrogate config's).
    """

    x: np.ndarray
    targets: np.ndarray
    multiplicities: np.ndarray | None = None
    x_val: np.ndarray | None = None
    a_val: np.ndarray | None = None
    boosting: BoostingSchedule | None = None
    max_epochs: int | None = None
    max_steps: int | None = None
    max_seconds: float | None = None

    def run(
        self,
        surrogate: Surrogate,
        *,
        callback: Callback | None = None,
        progress: bool | None = None,
        data_parallel: DataParallel | None = None,
    ) -> FitOutcome:
        """:func:`fit_and_boost` of ``surrogate`` (trained in place) on this task."""
        return fit_and_boost(
            surrogate,
            self.x,
            self.targets,
            multiplicities=self.multiplicities,
            x_val=self.x_val,
            a_val=self.a_val,
            boosting=self.boosting,
            max_epochs=self.max_epochs,
            max_steps=self.max_steps,
            max_seconds=self.max_seconds,
            callback=callback,
            progress=progress,
            data_parallel=data_parallel,
        )


def state_to_bytes(surrogate: Surrogate) -> bytes:
    """Serialise a surrogate's full state (the checkpoint format of :meth:`Surrogate.save`)."""
    return dump_state(surrogate.state_dict())


def state_from_bytes(data: bytes, device: str | None = None) -> Surrogate:
    """Rebuild a surrogate from :func:`state_to_bytes` output (or the bytes of a :meth:`Surrogate.save` file).

    Parameters
    ----------
    data : bytes
        The serialised state.
    device : str, optional
        Torch device of the rebuilt surrogate (default: the one its config names).
    """
    return Surrogate.from_state(load_state(data), device)
