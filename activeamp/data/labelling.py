"""Serial labelling: run an oracle over the unlabelled points of a store, committing every batch before going on."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from activeamp.data.store import PointSet, ShardStore
from oracles.base import Oracle, OracleError, OracleInputError, OracleResult

__all__ = [
    "LabelReport",
    "check_outputs",
    "evaluate_isolating",
    "failed_result",
    "label_store",
    "make_result",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelReport:
    """What one labelling pass did.

    Attributes
    ----------
    n_points : int
        Points sent to the oracle.
    n_ok, n_failed : int
        Points stored with status ``ok`` / ``failed``.
    n_batches : int
        Oracle calls (batches) made.
    seconds : float
        Wall time of the pass.
    """

    n_points: int
    n_ok: int
    n_failed: int
    n_batches: int
    seconds: float

    @property
    def points_per_second(self) -> float:
        """Throughput of the pass (points per second of wall time)."""
        return self.n_points / self.seconds if self.seconds > 0 else float("nan")


def make_result(values: np.ndarray, ok: np.ndarray, reasons: tuple[str, ...]) -> OracleResult:
    """The result record for values ``(N,)`` (a scalar oracle) or ``(N, K)`` (a vector oracle)."""
    values = np.asarray(values, dtype=np.float64)
    return OracleResult(values=values, ok=np.asarray(ok, dtype=bool), reasons=tuple(reasons))


def failed_result(n: int, reason: str, n_outputs: int | None = None) -> OracleResult:
    """``n`` failed points with ``reason``; values ``(n,)``, or ``(n, n_outputs)`` for a vector oracle."""
    shape = (n,) if n_outputs is None else (n, n_outputs)
    return make_result(np.full(shape, np.nan), np.zeros(n, dtype=bool), (reason,) * n)


def check_outputs(store: ShardStore, outputs: tuple[str, ...] | None, oracle_name: str) -> None:
    """Raise ``ValueError`` unless the store holds the oracle's kind of label.

    ``outputs``: the oracle's output names (a vector oracle), or None for a scalar |M|² oracle.
    """
    if store.outputs != outputs:
        have = "scalar |M|²" if store.outputs is None else f"outputs {list(store.outputs)}"
        want = "scalar |M|²" if outputs is None else f"outputs {list(outputs)}"
        raise ValueError(f"store {store.path} holds {have}, but oracle {oracle_name!r} returns {want}")


def evaluate_isolating(oracle: Oracle, momenta: np.ndarray) -> OracleResult:
    """Evaluate a batch; if the oracle rejects it as a whole, retry point by point to find the culprits.

    A batch-level :class:`OracleInputError` (an unphysical point) or :class:`OracleError` (a library
    failure) does not fail the good points: each point is then evaluated on its own and only the
    points that fail again are reported as failed, with the error message as the reason.

    Parameters
    ----------
    oracle : Oracle
        The oracle.
    momenta : numpy.ndarray
        Shape ``(N, n_particles, 4)`` [GeV].

    Returns
    -------
    OracleResult
        Values ``(N,)``, or ``(N, K)`` for a vector oracle.
    """
    try:
        return oracle.evaluate(momenta)
    except (OracleInputError, OracleError) as err:
        if len(momenta) == 1:
            kind = "invalid input" if isinstance(err, OracleInputError) else "oracle error"
            return failed_result(1, f"{kind}: {err}", oracle.n_outputs)
        logger.info("batch of %d points failed (%s); evaluating point by point", len(momenta), err)
    parts = [evaluate_isolating(oracle, momenta[i : i + 1]) for i in range(len(momenta))]
    return make_result(
        np.concatenate([r.values for r in parts]),
        np.concatenate([r.ok for r in parts]),
        tuple(reason for r in parts for reason in r.reasons),
    )


def label_store(
    store: ShardStore,
    oracle: Oracle,
    *,
    split: str | None = None,
    batch_size: int = 1024,
    retry_failed: bool = False,
    limit: int | None = None,
    progress: bool = True,
) -> LabelReport:
    """Label the unlabelled points of ``store`` with ``oracle``, one committed shard per batch.

    Every batch is written to the store (atomically) before the next one is evaluated, so an
    interrupted pass loses at most the batch in flight and a rerun continues where it stopped.

    Parameters
    ----------
    store : ShardStore
        Store whose process must match the oracle's (a vector store for a vector oracle, with its outputs).
    oracle : Oracle
        The oracle (evaluated in this process), scalar or vector.
    split : str, optional
        Only label points of this split.
    batch_size : int
        Points per oracle call and per shard.
    retry_failed : bool
        Also re-evaluate points whose earlier labelling failed.
    limit : int, optional
        Label at most this many points.
    progress : bool
        Show a progress bar.
    """
    if oracle.process.name != store.process.name:
        raise ValueError(
            f"oracle {oracle.name!r} computes {oracle.process.name}, but store {store.path} holds {store.process.name}"
        )
    check_outputs(store, oracle.outputs, oracle.name)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    todo: PointSet = store.unlabelled(split, include_failed=retry_failed, limit=limit)
    provenance = oracle.provenance()
    n_ok = n_failed = n_batches = 0
    start = time.perf_counter()
    with tqdm(total=len(todo), unit="pt", desc=f"label [{oracle.name}]", disable=not progress) as bar:
        for lo in range(0, len(todo), batch_size):
            sl = slice(lo, lo + batch_size)
            result = evaluate_isolating(oracle, todo.momenta[sl])
            store.append_labels(
                todo.ids[sl],
                todo.momenta[sl],
                result.values,
                ok=result.ok,
                reasons=result.reasons,
                oracle=oracle.name,
                provenance=provenance,
                split=todo.split[sl],
                round=todo.round[sl],
                batch=todo.batch[sl],
            )
            n_batches += 1
            n_failed += result.n_failed
            n_ok += len(result.ok) - result.n_failed
            bar.update(len(result.ok))
            bar.set_postfix(failed=n_failed)
    seconds = time.perf_counter() - start
    report = LabelReport(len(todo), n_ok, n_failed, n_batches, seconds)
    logger.info(
        "labelled %d points (%d ok, %d failed) in %.2f s, %.0f points/s",
        report.n_points,
        n_ok,
        n_failed,
        seconds,
        report.points_per_second,
    )
    return report
