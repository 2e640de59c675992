"""A stream of labelling work for the oracle pool: points go in at any time, every finished batch is committed.

:meth:`activeamp.loop.pool.OraclePool.label` drives one to completion (the rounds mode); the asynchronous loop
(:mod:`activeamp.loop.asynchronous`) adds selected points while earlier ones are in flight and steps it between
its other work, so the oracle actors never wait for training. A batch counts only after its shard is written; a
batch whose actor died or whose oracle raised is split in halves and sent again, so a poison point ends up
alone and is quarantined (stored as failed with the reason) after :attr:`PoolConfig.quarantine_after` failures.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import ray
from ray.exceptions import ActorDiedError, RayActorError, RayTaskError
from tqdm.auto import tqdm

from activeamp.data.labelling import check_outputs, failed_result, make_result
from activeamp.data.store import PointSet, ShardStore
from oracles.base import OracleResult

__all__ = ["LabelStream", "PoolError", "PoolReport"]

logger = logging.getLogger(__name__)


class PoolError(RuntimeError):
    """The pool cannot go on (e.g. oracle actors keep dying even when replaced)."""


@dataclass(frozen=True)
class PoolReport:
    """Summary of labelling by the pool.

    Attributes
    ----------
    n_points, n_ok, n_failed, n_quarantined : int
        Points labelled; with a usable value; failed (value NaN / negative / raised); quarantined after repeated
        crashes.
    n_calls, n_crashes, n_errors : int
        Oracle calls sent; actor deaths; calls whose oracle raised.
    seconds : float
        Wall time.
    busy_seconds : tuple of float
        Seconds each actor spent evaluating (as measured inside the actor).
    """

    n_points: int
    n_ok: int
    n_failed: int
    n_quarantined: int
    n_calls: int
    n_crashes: int
    n_errors: int
    seconds: float
    busy_seconds: tuple[float, ...]

    @property
    def points_per_second(self) -> float:
        """Labelled points per wall-clock second."""
        return self.n_points / self.seconds if self.seconds > 0 else float("nan")

    @property
    def utilisation(self) -> float:
        """Busy actor-seconds divided by (actors × wall time)."""
        if not self.busy_seconds or self.seconds <= 0:
            return float("nan")
        return sum(self.busy_seconds) / (len(self.busy_seconds) * self.seconds)


@dataclass
class _Item:
    """A batch: rows of one added PointSet, and how often it has failed."""

    points: PointSet
    rows: np.ndarray
    failures: int = 0


class LabelStream:
    """Labelling work for ``pool``, committed to ``store`` batch by batch.

    Parameters
    ----------
    pool : activeamp.loop.pool.OraclePool
        The actors (not imported here: the pool imports this module).
    store : ShardStore
        Where labels are committed (same process and outputs as the pool's oracle).
    progress : bool
        A progress bar of the points labelled.
    """

    def __init__(self, pool: Any, store: ShardStore, *, progress: bool = True) -> None:
        if store.process.name != pool.process:
            raise ValueError(f"pool labels {pool.process}, but store {store.path} holds {store.process.name}")
        check_outputs(store, pool.outputs, pool.oracle_config.name)
        self.pool, self.store = pool, store
        self._n_outputs = None if pool.outputs is None else len(pool.outputs)
        self._queue: deque[_Item] = deque()
        self._in_flight: dict[ray.ObjectRef, tuple[_Item, int, Any]] = {}
        self._order: list[deque[ray.ObjectRef]] = [deque() for _ in range(pool.n_actors)]  # per-actor call order
        self._exclusive = [False] * pool.n_actors
        self.busy = [0.0] * pool.n_actors
        self.counts = {"points": 0, "ok": 0, "failed": 0, "quarantined": 0, "calls": 0, "crashes": 0, "errors": 0}
        self._queued_points = 0
        self._seen: set[str] = set()  # ids added to this stream: none is labelled twice
        self.start = time.perf_counter()
        self._last_progress = self.start
        cfg = pool.config
        # a call may take its batch's cost; beyond that plus the start-up deadline something is wrong
        self.call_timeout = cfg.startup_timeout + 10.0 * cfg.batch_size * float(pool.provenance.get("cost_hint_s", 1.0))
        self._bar = tqdm(total=0, unit="pt", desc=f"oracle pool [{pool.provenance['name']}]", disable=not progress)

    # ------------------------------------------------------------------------------------------ state

    @property
    def pending_points(self) -> int:
        """Points added but not yet committed (queued or in flight)."""
        return self._queued_points

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing in flight."""
        return not self._queue and not self._in_flight

    def add(self, points: PointSet) -> None:
        """Queue ``points`` (already committed to the store as unlabelled) in batches of ``pool.batch_size``.

        Raises ValueError for an id added before: the stream labels each point once, which lets it commit labels
        without searching the store for earlier ones (a search over every shard per batch, which grows with the
        store).
        """
        ids = points.ids.tolist()
        again = self._seen.intersection(ids)
        if again or len(set(ids)) != len(ids):
            example = sorted(again)[:1]
            raise ValueError(f"label stream: {len(again) or 'repeated'} point(s) added twice (e.g. {example})")
        self._seen.update(ids)
        size = self.pool.config.batch_size
        for lo in range(0, len(points), size):
            self._queue.append(_Item(points, np.arange(lo, min(lo + size, len(points)))))
        self._queued_points += len(points)
        self._bar.total += len(points)
        self._bar.refresh()

    def report(self) -> PoolReport:
        """What was labelled since the stream started."""
        c = self.counts
        return PoolReport(
            n_points=c["points"], n_ok=c["ok"], n_failed=c["failed"], n_quarantined=c["quarantined"],
            n_calls=c["calls"], n_crashes=c["crashes"], n_errors=c["errors"],
            seconds=time.perf_counter() - self.start, busy_seconds=tuple(self.busy),
        )

    def close(self) -> None:
        """Close the progress bar."""
        self._bar.close()

    # ------------------------------------------------------------------------------------------- work

    def step(self, wait: float) -> int:
        """Send queued batches to free actors, then commit the calls that finish within ``wait`` seconds.

        Returns the number of points committed. Raises :class:`PoolError` when calls are in flight and none has
        finished for :attr:`call_timeout` seconds (the actors cannot run).
        """
        self._dispatch()
        if not self._in_flight:
            return 0
        done, _ = ray.wait(list(self._in_flight), num_returns=1, timeout=wait)
        if not done:
            if time.perf_counter() - self._last_progress > self.call_timeout:
                raise PoolError(
                    f"no oracle call finished within {self.call_timeout:.0f} s: the oracle actors cannot run "
                    "(their node is gone, or they wait for resources); the labelled points are stored"
                )
            return 0
        self._last_progress = time.perf_counter()
        before = self.counts["points"]
        for ref in done:
            self._finish(ref)
        return self.counts["points"] - before

    def _finish(self, ref: ray.ObjectRef) -> None:
        item, actor, handle = self._in_flight.pop(ref)
        running_alone = self._exclusive[actor]
        self._order[actor].remove(ref)
        self._exclusive[actor] = False
        try:
            values, ok, reasons, seconds = ray.get(ref)
        except RayTaskError as err:
            self.counts["errors"] += 1
            self._failed(item, f"oracle error: {err.cause}")
        except ActorDiedError:
            self._crashed(item, running_alone)
            if self.pool._actors[actor] is handle:  # not yet replaced for another of its calls
                self.pool._replace(actor)
        except RayActorError:
            self._crashed(item, running_alone)
        else:
            self.busy[actor] += seconds
            self._commit(item, make_result(values, ok, tuple(reasons)))

    def _commit(self, item: _Item, result: OracleResult) -> None:
        p, rows, prov = item.points, item.rows, self.pool.provenance
        self.store.append_labels(
            p.ids[rows], p.momenta[rows], result.values, ok=result.ok, reasons=result.reasons,
            oracle=prov["name"], provenance=prov, split=p.split[rows], round=p.round[rows], batch=p.batch[rows],
            check_existing=False,  # the points were read or committed as unlabelled, and added once (add)
        )
        self.counts["failed"] += result.n_failed
        self.counts["ok"] += len(rows) - result.n_failed
        self.counts["points"] += len(rows)
        self._queued_points -= len(rows)
        self._bar.update(len(rows))
        self._bar.set_postfix(failed=self.counts["failed"], crashes=self.counts["crashes"])

    def _quarantine(self, item: _Item, reason: str) -> None:
        self.counts["quarantined"] += 1
        logger.warning("quarantined point %s after %d failures: %s", item.points.ids[item.rows[0]], item.failures,
                       reason)
        self._commit(item, failed_result(1, f"quarantined: {reason}", self._n_outputs))

    def _failed(self, item: _Item, reason: str) -> None:
        """The call evaluating ``item`` raised, or its actor died while running it alone."""
        item.failures += 1
        if len(item.rows) > 1:  # split, so that a poison point ends up alone
            half = len(item.rows) // 2
            self._queue.appendleft(_Item(item.points, item.rows[half:]))
            self._queue.appendleft(_Item(item.points, item.rows[:half]))
        elif item.failures >= self.pool.config.quarantine_after:
            self._quarantine(item, reason)
        else:
            self._queue.appendleft(item)

    def _crashed(self, item: _Item, running_alone: bool) -> None:
        """The actor died while ``item`` was in flight.

        Blame is certain only for a call that ran alone on its actor: calls queued behind the crashing one, or
        sent while the actor was restarting, die with it. So a multi-point batch is split, and a single point is
        first sent again alone before it is blamed.
        """
        if len(item.rows) > 1 or running_alone:
            self.counts["crashes"] += 1
            self._failed(item, "the oracle process died while evaluating it")
        else:
            self._queue.appendleft(item)

    def _dispatch(self) -> None:
        pool = self.pool
        while self._queue:
            item = self._queue[0]
            alone = len(item.rows) == 1 and self.counts["crashes"] > 0
            free = [a for a in range(pool.n_actors) if not self._exclusive[a]]
            if alone:
                free = [a for a in free if not self._order[a]]
            if not free:
                return
            actor = min(free, key=lambda a: len(self._order[a]))
            if len(self._order[actor]) >= pool.config.in_flight_per_actor:
                return
            self._queue.popleft()
            handle = pool._actors[actor]
            ref = handle.evaluate.remote(item.points.momenta[item.rows])
            self._in_flight[ref] = (item, actor, handle)
            self._order[actor].append(ref)
            self._exclusive[actor] = alone
            self.counts["calls"] += 1
