"""The frozen train/validation arrays of a search, read once from the store by the driver and fingerprinted."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from activeamp.config import ConfigError
from activeamp.data.store import ShardStore
from activeamp.loop.tuning.config import SearchConfig, TuningError
from activeamp.surrogate.metrics import normalised_residual, validate_truth

__all__ = ["MIN_TOP1_VALIDATION", "SearchData", "load_search_data"]

logger = logging.getLogger(__name__)

#: Fewest validation points for the ``val_top1`` objective (10 points in the top 1 %).
MIN_TOP1_VALIDATION = 1000


@dataclass(frozen=True)
class SearchData:
    """The frozen arrays every trial trains and validates on (read once from the store by the driver).

    Attributes
    ----------
    x, amplitude : numpy.ndarray
        Training momenta ``(N, n, 4)`` [GeV] and labels: amplitudes ``(N,)``, or for a vector store the values
        ``(N, K)`` (columns as ``outputs``).
    x_val, a_val : numpy.ndarray
        Validation momenta ``(M, n, 4)`` and labels ``(M,)`` / ``(M, K)``: the objective's points.
    fingerprint : dict
        Point counts and a SHA-256 of the ids and labels (amplitudes, or a vector store's values) of both
        splits, plus a vector store's ``outputs`` (checked on resume).
    outputs : tuple of str or None
        Output names of a vector store; None for amplitudes.
    process : str or None
        The store's process (the trials' ``surrogate.process``, for symmetry).
    """

    x: np.ndarray
    amplitude: np.ndarray
    x_val: np.ndarray
    a_val: np.ndarray
    fingerprint: dict[str, Any]
    outputs: tuple[str, ...] | None = None
    process: str | None = None

    def arrays(self) -> dict[str, np.ndarray]:
        """The four arrays by name (what the trainable receives)."""
        return {"x": self.x, "amplitude": self.amplitude, "x_val": self.x_val, "a_val": self.a_val}


def _check_target_transform(store: ShardStore, config: SearchConfig) -> None:
    """A vector store's signed outputs need ``target_transform: signed`` in ``base`` and in every trial."""
    outputs = store.outputs
    if outputs is None:
        return
    names = ", ".join(outputs[:6]) + (f", ... ({len(outputs)} in all)" if len(outputs) > 6 else "")
    held = f"{config.store} holds {len(outputs)} signed outputs per point ({names})"
    sampled = config.space.get("target_transform")
    if sampled is not None:
        bad = sorted({str(v) for v in sampled.extremes()} - {"signed"})
        if bad:
            raise ConfigError(
                f"space.target_transform: {held}, which the {', '.join(map(repr, bad))} map cannot learn; "
                "search only target_transform=signed (or drop it from the space and set base.target_transform=signed)"
            )
    elif config.base.target_transform != "signed":
        raise ConfigError(
            f"base.target_transform: {held}, which the {config.base.target_transform!r} map cannot learn; "
            "set base.target_transform=signed"
        )


def load_search_data(config: SearchConfig) -> SearchData:
    """Read the ``ok`` points of the train and validation splits of ``config.store``.

    A vector store (several signed outputs per point) gives its values ``(N, K)`` as labels; the surrogate
    must then use the signed target map.

    Raises
    ------
    activeamp.data.store.StoreError
        If the store is missing or unreadable.
    activeamp.config.ConfigError
        A vector store with ``base.target_transform`` (or a sampled ``space.target_transform``) other than
        ``"signed"``.
    TuningError
        If a split has no labelled points, or validation amplitudes are zero or not finite (Δ is undefined);
        for a vector store, validation values that are not finite or an output that is zero at every point.
    """
    store = ShardStore.open(config.store)
    _check_target_transform(store, config)
    outputs = store.outputs
    digest = hashlib.sha256()
    parts = {}
    for role, split in (("train", config.train_split), ("validation", config.validation_split)):
        arrays = store.arrays(split)
        if len(arrays) == 0:
            raise TuningError(
                f"{config.store}: no labelled points in split {split!r} ({role}_split); a search needs both "
                "a training and a validation split (e.g. `activeamp dataset --set n_validation=2000`)"
            )
        if role == "validation":
            where = f"{config.store}: split {split!r} (the objective's points)"
            try:
                if outputs is None:
                    validate_truth(arrays.amplitude, where)
                else:
                    normalised_residual(arrays.targets, arrays.targets)  # finite, no output zero everywhere
            except ValueError as err:
                raise TuningError(str(err) if outputs is None else f"{where}: {err}") from None
        digest.update("\n".join(arrays.ids.tolist()).encode())
        digest.update(np.ascontiguousarray(arrays.targets).tobytes())
        parts[role] = arrays
    n_val = len(parts["validation"])
    if config.metric == "val_top1" and n_val < MIN_TOP1_VALIDATION:
        raise TuningError(
            f"{config.store}: metric 'val_top1' ranks trials by the top 1 % of the validation split, but split "
            f"{config.validation_split!r} has {n_val} labelled points ({n_val // 100} in its top 1 %); it needs at "
            f"least {MIN_TOP1_VALIDATION}, or use metric 'val_delta68' / 'val_nll'"
        )
    fingerprint: dict[str, Any] = {
        "store": config.store,
        "n_train": len(parts["train"]),
        "n_validation": n_val,
        "sha256": digest.hexdigest(),
    }
    if outputs is not None:
        fingerprint["outputs"] = list(outputs)
    logger.info("search data: %d training and %d validation points from %s", len(parts["train"]), n_val, config.store)
    return SearchData(
        parts["train"].momenta,
        parts["train"].targets,
        parts["validation"].momenta,
        parts["validation"].targets,
        fingerprint,
        outputs,
        store.process.name,
    )
