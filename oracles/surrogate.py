"""The hybrid oracle ``surrogate``: a trained surrogate answers where it is precise enough, a wrapped oracle elsewhere.

A point is answered by the surrogate when its relative uncertainty σ_tot/⟨A⟩ is at most ``threshold`` (and ⟨A⟩ is
finite and positive); every other point goes to the wrapped oracle (by default the exact oracle of the model's
process), in one call per batch. The result (:class:`HybridResult`) says which of the two answered each point.
Optionally the wrapped oracle's labels, and only those, are appended to a shard store for the next active run.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from oracles.base import Oracle, OracleResult, classify_values, code_versions
from oracles.registry import EXACT, get

if TYPE_CHECKING:
    from activeamp.data.store import ShardStore
    from activeamp.physics.process import Process
    from activeamp.surrogate.committee import Model

__all__ = ["SURROGATE", "HybridResult", "SurrogateOracle", "point_ids"]

logger = logging.getLogger(__name__)

#: What :attr:`HybridResult.answered_by` says for the points answered by the surrogate.
SURROGATE = "surrogate"

#: Prefix of the ids of the points the hybrid oracle appends to a store (a content hash follows).
ID_PREFIX = "hybrid"


@dataclass(frozen=True)
class HybridResult(OracleResult):
    """An :class:`OracleResult` that also says, per point, who answered it.

    Attributes
    ----------
    answered_by : tuple of str
        Length ``N``: :data:`SURROGATE` for points answered by the surrogate, the wrapped oracle's name for the
        others (also when the wrapped oracle failed on them).
    relative_sigma : numpy.ndarray or None
        Shape ``(N,)`` float64: the surrogate's σ_tot/⟨A⟩ of every point (NaN where ⟨A⟩ ≤ 0 or not finite), the
        number compared with the threshold.
    """

    answered_by: tuple[str, ...] = ()
    relative_sigma: np.ndarray | None = None

    @property
    def by_surrogate(self) -> np.ndarray:
        """Shape ``(N,)`` bool: True where the surrogate answered."""
        return np.array([who == SURROGATE for who in self.answered_by], dtype=bool)


def point_ids(momenta: np.ndarray) -> np.ndarray:
    """Store ids of points from their content: ``"hybrid/<blake2b of the momenta bytes>"``.

    Parameters
    ----------
    momenta : numpy.ndarray
        Shape ``(N, n, 4)`` float64 [GeV].

    Returns
    -------
    numpy.ndarray
        Shape ``(N,)`` object array of strings; equal points (bit for bit) get equal ids, whatever the batch.
    """
    rows = np.ascontiguousarray(momenta, dtype=np.float64).reshape(len(momenta), -1)
    return np.array(
        [f"{ID_PREFIX}/{hashlib.blake2b(row.tobytes(), digest_size=16).hexdigest()}" for row in rows], dtype=object
    )


class SurrogateOracle(Oracle):
    """Scalar |M|² ``(N,)`` from a trained surrogate where σ_tot/⟨A⟩ ≤ ``threshold``, else from a wrapped oracle.

    :meth:`evaluate` returns a :class:`HybridResult` (``answered_by`` per point); ``oracle(x)`` the values.

    Parameters
    ----------
    model : path-like
        A scalar surrogate checkpoint (``model.pt`` of ``activeamp train`` or ``activeamp run``); it fixes the
        process.
    oracle : str or Oracle
        The wrapped oracle: a registry name (default ``"exact"``: the built-in exact oracle of the model's
        process), built with ``oracle_options`` and the process, or an oracle instance of that process.
    oracle_options : mapping, optional
        Keyword options of the wrapped oracle (a registry name only).
    threshold : float
        The largest σ_tot/⟨A⟩ answered by the surrogate, finite and > 0 (default 1e-3).
    store : path-like, optional
        Store directory to which the wrapped oracle's labels (ok and failed, with reasons) are appended: created
        for the model's process if missing, else it must be a scalar store of that process. The surrogate's
        answers are never stored. Points get content ids (:func:`point_ids`), split ``store_split``, round 0,
        batch 0; a point with an ok label (or a failed one, when it fails again) is not appended again.
    store_split : str
        Split of the appended points (default ``"train"``: training data for the next run).
    n_samples : int, optional
        Weight samples of the surrogate's prediction (default: the model's ``n_weight_samples``).
    device : str, optional
        Torch device of the surrogate (default: the model's configured one).
    process : str, optional
        Checked against the model's process (as :func:`oracles.get` and ``activeamp label`` pass it).

    Attributes
    ----------
    surrogate : Surrogate or SurrogateCommittee
        The loaded model.
    oracle : Oracle
        The wrapped oracle.
    n_surrogate, n_oracle : int
        Points answered so far by the surrogate / sent to the wrapped oracle.
    n_oracle_calls : int
        Calls made to the wrapped oracle (one per batch that has points the surrogate does not answer).
    n_stored : int
        Labels appended to the store so far.

    Raises
    ------
    ValueError
        If the model is a vector model, records no process (and none is given) or another process than
        ``process``; if ``threshold`` is not finite and > 0; if the wrapped oracle is vector-valued or computes
        another process; if ``store`` holds another process or vector labels, or ``store_split`` is unknown.

    Notes
    -----
    Appends to ``store`` are deduplicated against the labels it held when this oracle was built and those appended
    by it since; another process appending the same points meanwhile can still add a second record (the store
    resolves it: the latest ok label wins, :meth:`ShardStore.validate` reports it).
    """

    name = "surrogate"

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        oracle: str | Oracle = EXACT,
        oracle_options: dict[str, Any] | None = None,
        threshold: float = 1e-3,
        store: str | os.PathLike[str] | None = None,
        store_split: str = "train",
        n_samples: int | None = None,
        device: str | None = None,
        process: str | Process | None = None,
    ) -> None:
        from activeamp.physics.process import get_process
        from activeamp.surrogate.checkpoint import checkpoint_sha256
        from activeamp.surrogate.committee import load_model

        try:
            threshold = float(threshold)
        except (TypeError, ValueError):
            raise ValueError(f"surrogate oracle: threshold must be a number > 0, got {threshold!r}") from None
        if not (math.isfinite(threshold) and threshold > 0):
            raise ValueError(f"surrogate oracle: threshold (largest σ_tot/⟨A⟩) must be finite and > 0, got {threshold}")
        if n_samples is not None and int(n_samples) < 1:
            raise ValueError(f"surrogate oracle: n_samples must be >= 1, got {n_samples!r}")
        path = Path(model).expanduser().resolve()
        if not path.is_file():
            raise ValueError(f"surrogate oracle: model {str(model)!r} is not a file (expected a model.pt checkpoint)")
        surrogate: Model = load_model(path, device=device)
        if surrogate.n_outputs is not None:
            raise ValueError(
                f"surrogate oracle: {path} is a vector model with {surrogate.n_outputs} outputs; only scalar |M|² "
                "surrogates can stand in for an oracle"
            )
        wanted = None if process is None else (process if isinstance(process, str) else process.name)
        learned = surrogate.config.process
        if learned is None and wanted is None:
            raise ValueError(f"surrogate oracle: {path} does not record its process; give process=...")
        if learned is not None and wanted is not None and learned != wanted:
            raise ValueError(f"surrogate oracle: {path} learned process {learned}, not {wanted}")
        super().__init__(get_process(learned or wanted))
        self.model_path = path
        self.model_sha256 = checkpoint_sha256(path)
        self.surrogate = surrogate
        self.threshold = threshold
        self.n_samples = None if n_samples is None else int(n_samples)
        self.device = device
        self.oracle = self._wrap(oracle, dict(oracle_options or {}))
        self.cost_hint = self.oracle.cost_hint
        self.n_surrogate = self.n_oracle = self.n_oracle_calls = self.n_stored = 0
        self.store_split = store_split
        self.store: ShardStore | None = None
        self._stored_ok: set[str] = set()
        self._stored_any: set[str] = set()
        if store is not None:
            self._open_store(store)

    def _wrap(self, oracle: str | Oracle, options: dict[str, Any]) -> Oracle:
        """The wrapped oracle for :attr:`process`, checked to be scalar."""
        if isinstance(oracle, Oracle):
            if options:
                raise ValueError("surrogate oracle: oracle_options apply to an oracle given by name only")
            wrapped = oracle
        else:
            given = options.pop("process", self.process.name)
            if given != self.process.name:
                raise ValueError(
                    f"surrogate oracle: oracle_options.process is {given!r}, the model learned {self.process.name}"
                )
            wrapped = get(oracle, process=self.process.name, **options)
        if wrapped.process.name != self.process.name:
            raise ValueError(
                f"surrogate oracle: wrapped oracle {wrapped.name!r} computes {wrapped.process.name}, the model "
                f"learned {self.process.name}"
            )
        if wrapped.outputs is not None:
            raise ValueError(
                f"surrogate oracle: wrapped oracle {wrapped.name!r} is vector-valued; a scalar one is needed"
            )
        return wrapped

    def _open_store(self, path: str | os.PathLike[str]) -> None:
        """Open (or create) the store of the wrapped oracle's labels and note the points it labels already."""
        from activeamp.data.store import SPLITS, ShardStore, StoreError

        if self.store_split not in SPLITS:
            raise ValueError(f"surrogate oracle: store_split {self.store_split!r} is not one of {', '.join(SPLITS)}")
        try:
            store = ShardStore.create(path, self.process, exist_ok=True)  # checks the process and scalar labels
        except StoreError as exc:
            raise ValueError(f"surrogate oracle: store: {exc}") from exc
        table = store.read(status=["ok", "failed"], columns=["point_id", "status"], on_duplicate="ignore")
        for pid, status in zip(table["point_id"].to_pylist(), table["status"].to_pylist(), strict=True):
            self._stored_any.add(pid)
            if status == "ok":
                self._stored_ok.add(pid)
        self.store = store

    def options(self) -> dict[str, Any]:
        """Constructor options (JSON-serialisable), with the model's sha256."""
        return {
            "model": str(self.model_path),
            "model_sha256": self.model_sha256,
            "process": self.process.name,
            "oracle": self.oracle.name,
            "oracle_options": self.oracle.options(),  # the wrapped oracle's own, complete
            "threshold": self.threshold,
            "store": None if self.store is None else str(self.store.path),
            "store_split": self.store_split,
            "n_samples": self.n_samples,
            "device": self.device,
        }

    def versions(self) -> dict[str, str]:
        """Code versions and torch's."""
        import torch

        return {**code_versions(), "torch": torch.__version__}

    def provenance(self) -> dict[str, Any]:
        """The base provenance plus ``wrapped`` (the wrapped oracle's provenance) and ``answered`` (counters now)."""
        return {
            **super().provenance(),
            "wrapped": self.oracle.provenance(),
            "answered": {
                "surrogate": self.n_surrogate,
                "oracle": self.n_oracle,
                "oracle_calls": self.n_oracle_calls,
                "stored": self.n_stored,
            },
        }

    def evaluate(self, x: Any) -> HybridResult:
        """Validate momenta ``(N, n, 4)`` [GeV] and answer every point; values ``(N,)`` in the process's units.

        Raises what the wrapped oracle's :meth:`Oracle.evaluate` raises for a batch it rejects as a whole (nothing
        is stored then).
        """
        return self._answer(self.validate(x))

    def _evaluate(self, x: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
        result = self._answer(x)
        return result.values, result.reasons

    def _answer(self, x: np.ndarray) -> HybridResult:
        """Surrogate where σ_tot/⟨A⟩ ≤ threshold, the wrapped oracle (one call) on the rest; validated ``x``."""
        n = x.shape[0]
        relative = np.full(n, np.nan)
        mean = np.full(n, np.nan)
        if n:
            pred = self.surrogate.predict(x, self.n_samples)
            mean = np.asarray(pred.mean, dtype=np.float64)
            sigma = np.asarray(pred.sigma_tot, dtype=np.float64)
            usable = np.isfinite(mean) & np.isfinite(sigma) & (mean > 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                relative = np.where(usable, sigma / np.where(usable, mean, 1.0), np.nan)
        mine = relative <= self.threshold  # False where NaN
        values = np.where(mine, mean, np.nan)
        reasons = np.full(n, "", dtype=object)
        rest = np.flatnonzero(~mine)
        if rest.size:
            self.n_oracle_calls += 1
            wrapped = self.oracle.evaluate(x[rest])
            values[rest] = wrapped.values
            reasons[rest] = list(wrapped.reasons)
            if self.store is not None:
                self._append(x[rest], wrapped)
        self.n_surrogate += int(mine.sum())
        self.n_oracle += int(rest.size)
        result = classify_values(values, reasons.tolist())
        answered_by = tuple(SURROGATE if m else self.oracle.name for m in mine.tolist())
        logger.debug("%d points: %d by the surrogate, %d by %s", n, int(mine.sum()), rest.size, self.oracle.name)
        return HybridResult(result.values, result.ok, result.reasons, answered_by, relative)

    def _append(self, x: np.ndarray, result: OracleResult) -> None:
        """Append the wrapped oracle's labels of ``x`` ``(M, n, 4)`` [GeV], each point at most once.

        One :meth:`ShardStore.append_labels` call writes points and labels together (a record holds its momenta),
        as one atomic shard: a crash leaves all of them or none. Points repeated in the batch, points with an ok
        label in the store and points that failed before and fail again are left out.
        """
        assert self.store is not None
        ids = point_ids(x)
        _, first = np.unique(ids.astype(str), return_index=True)
        keep = [
            int(i)
            for i in np.sort(first)
            if ids[i] not in self._stored_ok and (result.ok[i] or ids[i] not in self._stored_any)
        ]
        if not keep:
            return
        rows = np.asarray(keep, dtype=np.int64)
        self.store.append_labels(
            ids[rows],
            x[rows],
            result.values[rows],
            ok=result.ok[rows],
            reasons=[result.reasons[i] for i in keep],
            oracle=self.oracle.name,
            provenance=self.oracle.provenance(),
            split=self.store_split,
            round=0,
            batch=0,
            on_duplicate="warn",  # an ok label appended meanwhile by another process: keep both, the latest wins
        )
        for i in keep:
            self._stored_any.add(ids[i])
            if result.ok[i]:
                self._stored_ok.add(ids[i])
        self.n_stored += len(keep)
