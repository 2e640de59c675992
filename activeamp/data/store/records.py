"""Records the store hands out: unlabelled points, training arrays, summaries, validation reports, point ids."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from activeamp.data.store.errors import StoreInputError

__all__ = ["PointSet", "LabelledArrays", "StoreSummary", "ValidationReport", "make_point_ids"]

_ID_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True)
class PointSet:
    """Phase-space points without a usable label, as returned by :meth:`ShardStore.unlabelled`.

    Attributes
    ----------
    ids : numpy.ndarray
        Shape ``(N,)`` object array of point-id strings.
    momenta : numpy.ndarray
        Shape ``(N, n_particles, 4)`` float64, (E, px, py, pz) in GeV.
    split : numpy.ndarray
        Shape ``(N,)`` object array of split names.
    round : numpy.ndarray
        Shape ``(N,)`` int64, active-learning round in which the point was generated.
    batch : numpy.ndarray
        Shape ``(N,)`` int64, batch within the round.
    """

    ids: np.ndarray
    momenta: np.ndarray
    split: np.ndarray
    round: np.ndarray
    batch: np.ndarray

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def take(self, rows: np.ndarray) -> PointSet:
        """The points at ``rows`` (int indices or a bool mask of length N), in that order."""
        return PointSet(self.ids[rows], self.momenta[rows], self.split[rows], self.round[rows], self.batch[rows])


@dataclass(frozen=True)
class LabelledArrays:
    """Training arrays of labelled points, as returned by :meth:`ShardStore.arrays`, sorted by point id.

    Attributes
    ----------
    ids : numpy.ndarray
        Shape ``(N,)`` object array of point-id strings.
    momenta : numpy.ndarray
        Shape ``(N, n_particles, 4)`` float64, (E, px, py, pz) in GeV.
    amplitude : numpy.ndarray
        Shape ``(N,)`` float64, squared matrix elements in the units of the process (all NaN for a vector store).
    values : numpy.ndarray or None
        Shape ``(N, K)`` float64, the vector labels (columns in the order of :attr:`ShardStore.outputs`) of a
        vector store; None for a scalar store.
    """

    ids: np.ndarray
    momenta: np.ndarray
    amplitude: np.ndarray
    values: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def targets(self) -> np.ndarray:
        """The labels: :attr:`values` ``(N, K)`` for a vector store, else :attr:`amplitude` ``(N,)``."""
        return self.values if self.values is not None else self.amplitude


@dataclass(frozen=True)
class StoreSummary:
    """Counts and amplitude range of a store (resolved view: one entry per point id).

    Attributes
    ----------
    process : str
        Process name of the store.
    n_shards : int
        Readable shards.
    n_records : int
        Records over all readable shards (a point has one record per append that touched it).
    n_points : int
        Distinct point ids.
    counts : dict
        ``counts[split][status]`` = number of points.
    amplitude_min, amplitude_max, amplitude_median : float or None
        Over ``ok`` points, in the units of the process; None without ok points and for vector stores.
    n_duplicates : int
        Point ids with more than one ``ok`` label.
    bad_shards : tuple of str
        Files skipped as unreadable (only with ``on_bad_shard="skip"``).
    outputs : tuple of str or None
        Names of the ``K`` outputs of a vector store; None for a scalar store.
    values_min, values_max : tuple of float or None
        Vector stores: per output (length ``K``), the smallest and largest value over ``ok`` points; None
        without ok points and for scalar stores.
    """

    process: str
    n_shards: int
    n_records: int
    n_points: int
    counts: dict[str, dict[str, int]]
    amplitude_min: float | None
    amplitude_max: float | None
    amplitude_median: float | None
    n_duplicates: int
    bad_shards: tuple[str, ...] = ()
    outputs: tuple[str, ...] | None = None
    values_min: tuple[float, ...] | None = None
    values_max: tuple[float, ...] | None = None

    def count(self, split: str | None = None, status: str | None = None) -> int:
        """Number of points with the given split and/or status (None: any)."""
        return sum(
            n
            for sp, by_status in self.counts.items()
            if split is None or sp == split
            for st, n in by_status.items()
            if status is None or st == status
        )


@dataclass(frozen=True)
class ValidationReport:
    """Outcome of :meth:`ShardStore.validate`.

    Attributes
    ----------
    n_shards : int
        Shards that could be read.
    n_records : int
        Records in those shards.
    n_points : int
        Distinct point ids.
    bad_shards : tuple of (str, str)
        ``(file, message)`` for every unreadable or mismatching file.
    issues : tuple of str
        Content problems (duplicate labels, conflicting momenta, invalid values), one line each.
    tmp_files : tuple of str
        Leftover ``.tmp-`` files of interrupted writes (harmless; removed by :meth:`ShardStore.cleanup`).
    """

    n_shards: int
    n_records: int
    n_points: int
    bad_shards: tuple[tuple[str, str], ...]
    issues: tuple[str, ...]
    tmp_files: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when there are neither bad shards nor issues."""
        return not self.bad_shards and not self.issues

    def message(self) -> str:
        """All problems, one per line."""
        lines = [m for _, m in self.bad_shards] + list(self.issues)
        return "\n".join(lines) if lines else "store is valid"


def make_point_ids(prefix: str | int, round: int, batch: int, n: int, start: int = 0) -> np.ndarray:
    """Deterministic, unique and sortable point ids for one batch of generated points.

    Parameters
    ----------
    prefix : str or int
        Run identifier. An int is taken as the run seed and becomes ``"s<seed>"``; a string must
        consist of letters, digits, ``_``, ``.`` and ``-``.
    round : int
        Active-learning round (>= 0).
    batch : int
        Batch within the round (>= 0).
    n : int
        Number of ids.
    start : int
        Index of the first point within the batch.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)`` object array of strings ``"<prefix>/r<round:05>/b<batch:06>/<index:08>"``; the same
        arguments always give the same ids, and ids of different (prefix, round, batch, index) never coincide.
    """
    if isinstance(prefix, (int, np.integer)) and not isinstance(prefix, bool):
        if prefix < 0:
            raise StoreInputError(f"make_point_ids: seed must be >= 0, got {prefix}")
        prefix = f"s{int(prefix)}"
    if not isinstance(prefix, str) or not _ID_PREFIX_RE.match(prefix):
        raise StoreInputError(f"make_point_ids: prefix must match [A-Za-z0-9_.-]+, got {prefix!r}")
    for name, value in (("round", round), ("batch", batch), ("n", n), ("start", start)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise StoreInputError(f"make_point_ids: {name} must be an int >= 0, got {value!r}")
    head = f"{prefix}/r{int(round):05d}/b{int(batch):06d}/"
    return np.array([f"{head}{i:08d}" for i in range(int(start), int(start) + int(n))], dtype=object)
