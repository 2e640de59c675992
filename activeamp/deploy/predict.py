"""Predictions of a trained surrogate for a file of points: streamed in chunks, written to HDF5.

Input: an HDF5 file with a ``/momenta`` dataset (as :func:`activeamp.data.interchange.export_hdf5` writes it), a
``.npy`` array of momenta, or a shard store (one split). Output: an HDF5 file with ``mean``, ``sigma_model``,
``sigma_pred`` and ``sigma_tot`` per point, ``(N,)`` for an amplitude model or ``(N, K)`` for a vector model, in
the units of the oracle the model learned (e.g. GeV⁻² for g g → γ γ g), written atomically.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from activeamp.atomic import atomic_open
from activeamp.physics.checks import check_momenta
from activeamp.physics.process import Process, get_process

__all__ = ["PREDICTIONS", "PredictionReport", "PointSource", "open_points", "predict_file"]

logger = logging.getLogger(__name__)

#: Datasets of the output file, each ``(N,)`` or ``(N, K)`` float64 in the oracle's units.
PREDICTIONS: tuple[str, ...] = ("mean", "sigma_model", "sigma_pred", "sigma_tot")


class PredictError(ValueError):
    """The input does not fit the model (file, field and value named)."""


@dataclass(frozen=True)
class PointSource:
    """Momenta to predict, readable in chunks.

    Attributes
    ----------
    name : str
        What the points are called in messages (file and dataset).
    n_points : int
        N.
    shape : tuple of int
        ``(n_particles, 4)`` of one point.
    read : callable
        ``read(start, stop)`` → momenta ``(stop − start, n_particles, 4)`` float64 [GeV].
    """

    name: str
    n_points: int
    shape: tuple[int, ...]
    read: Callable[[int, int], np.ndarray]

    def chunks(self, size: int) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, momenta)`` of consecutive chunks of at most ``size`` points."""
        for start in range(0, self.n_points, size):
            yield start, np.ascontiguousarray(self.read(start, min(start + size, self.n_points)), dtype=np.float64)


@dataclass(frozen=True)
class PredictionReport:
    """What :func:`predict_file` did: points, seconds, points per second, output path."""

    n_points: int
    seconds: float
    path: Path

    @property
    def points_per_second(self) -> float:
        return self.n_points / self.seconds if self.seconds > 0 else float("inf")


def open_points(
    h5: str | os.PathLike[str] | None = None,
    npy: str | os.PathLike[str] | None = None,
    store: str | os.PathLike[str] | None = None,
    split: str = "test",
    dataset: str = "momenta",
) -> tuple[PointSource, Any]:
    """The points of exactly one of ``h5`` (dataset ``dataset``), ``npy`` or ``store`` (its ``split``).

    Returns the source and an object to keep open while reading (an h5py file, or None).
    """
    given = [name for name, value in (("h5", h5), ("npy", npy), ("store", store)) if value is not None]
    if len(given) != 1:
        raise PredictError(f"give exactly one input of --h5, --npy, --store (got {', '.join(given) or 'none'})")
    if h5 is not None:
        f = h5py.File(h5, "r")
        if dataset not in f:
            f.close()
            raise PredictError(f"{h5}: no dataset /{dataset} (the momenta, shape (N, n, 4))")
        data = f[dataset]
        return PointSource(f"{h5}:/{dataset}", int(data.shape[0]), tuple(data.shape[1:]), lambda a, b: data[a:b]), f
    if npy is not None:
        try:
            arr = np.load(npy, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise PredictError(f"{npy}: not a .npy array of momenta ({exc})") from None
        n = int(arr.shape[0]) if arr.ndim else 0
        return PointSource(str(npy), n, tuple(arr.shape[1:]), lambda a, b: arr[a:b]), None
    from activeamp.data.store import ShardStore

    momenta = ShardStore.open(store).arrays(split).momenta
    name = f"{store} (split {split!r})"
    return PointSource(name, len(momenta), tuple(momenta.shape[1:]), lambda a, b: momenta[a:b]), None


def _model_process(surrogate: Any, source: PointSource) -> Process:
    """The model's process, checked against the points' shape."""
    name = surrogate.config.process
    if name is None:
        raise PredictError("the model does not record its process (trained before processes were stored); retrain it")
    process = get_process(name)
    if source.shape != process.momentum_shape:
        raise PredictError(
            f"{source.name}: points have shape (N, {', '.join(map(str, source.shape))}) but the model learned "
            f"{process.name} ({process.description}), shape (N, {process.momentum_shape[0]}, 4)"
        )
    return process


def predict_file(
    model: str | os.PathLike[str],
    out: str | os.PathLike[str],
    source: PointSource,
    *,
    chunk: int = 100_000,
    n_samples: int | None = None,
    progress: bool = True,
) -> PredictionReport:
    """Predict ⟨A⟩, σ_model, σ_pred, σ_tot for every point of ``source`` with the surrogate in ``model``.

    Parameters
    ----------
    model : path-like
        A checkpoint written by ``activeamp train`` or ``activeamp run`` (``model.pt``).
    out : path-like
        HDF5 file to write (replaced atomically): datasets :data:`PREDICTIONS` and the attributes ``model``,
        ``process``, ``n_points``, ``n_samples``, ``units``.
    source : PointSource
        The points (:func:`open_points`); each chunk is checked as the oracles check points (conservation,
        on-shell, positive energies), errors name the rows.
    chunk : int
        Points per chunk (memory ≈ chunk × weight samples × 8 bytes per output).
    n_samples : int, optional
        Weight samples for σ_pred (default: the model's ``n_weight_samples``).
    progress : bool
        Show a progress bar.
    """
    from tqdm.auto import tqdm

    from activeamp.surrogate.committee import load_model

    if chunk < 1:
        raise PredictError(f"chunk: must be >= 1, got {chunk}")
    surrogate = load_model(model)
    process = _model_process(surrogate, source)
    k = surrogate.n_outputs
    shape = (source.n_points,) if k is None else (source.n_points, k)
    t0 = time.perf_counter()
    with atomic_open(out, "w+b") as fh, h5py.File(fh, "w") as f:
        sets = {name: f.create_dataset(name, shape=shape, dtype="f8") for name in PREDICTIONS}
        bar = tqdm(total=source.n_points, unit="pt", desc="predict", disable=not progress)
        for start, momenta in source.chunks(chunk):
            try:
                check_momenta(momenta, process, what=source.name, error=PredictError)
            except PredictError as exc:  # rows of the chunk → rows of the file
                raise PredictError(f"{exc} (rows counted from {start})") from None
            pred = surrogate.predict(momenta, n_samples)
            stop = start + len(momenta)
            for name, values in zip(
                PREDICTIONS, (pred.mean, pred.sigma_model, pred.sigma_pred, pred.sigma_tot), strict=True
            ):
                sets[name][start:stop] = values
            bar.update(len(momenta))
        bar.close()
        f.attrs.update(
            model=str(Path(model).resolve()),
            process=process.name,
            n_points=source.n_points,
            n_samples=int(n_samples or surrogate.config.n_weight_samples),
            units=process.amplitude_units,
        )
    seconds = time.perf_counter() - t0
    logger.info(
        "predicted %d points in %.1f s (%.3g points/s): %s",
        source.n_points,
        seconds,
        source.n_points / max(seconds, 1e-9),
        out,
    )
    return PredictionReport(source.n_points, seconds, Path(out))
