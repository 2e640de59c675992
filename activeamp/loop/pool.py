"""Oracle pool: Ray actors that each own an oracle, fed with bounded batches, results committed before they count."""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import ray
from ray.exceptions import ActorDiedError, RayActorError, RayTaskError
from tqdm.auto import tqdm

from activeamp.data.dataset import OracleConfig
from activeamp.data.labelling import check_outputs, failed_result, make_result
from activeamp.data.store import PointSet, ShardStore
from activeamp.loop.cluster import ClusterError, check_resources, wait_ready
from activeamp.loop.settings import PoolConfig
from oracles.base import OracleResult

__all__ = ["OracleWorker", "OraclePool", "PoolConfig", "PoolError", "PoolReport"]

logger = logging.getLogger(__name__)


class PoolError(RuntimeError):
    """The pool cannot go on (e.g. oracle actors keep dying even when replaced)."""


@dataclass(frozen=True)
class PoolReport:
    """What one labelling pass through the pool did.

    Attributes
    ----------
    n_points, n_ok, n_failed, n_quarantined : int
        Points handled; stored ok; stored failed (all reasons, quarantined included); quarantined.
    n_calls, n_crashes, n_errors : int
        Oracle calls made, calls lost to a dead actor, calls that raised.
    seconds : float
        Wall time of the pass.
    busy_seconds : tuple of float
        Time each actor spent inside the oracle.
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
        """Labelled points per second of wall time."""
        return self.n_points / self.seconds if self.seconds > 0 else float("nan")

    @property
    def utilisation(self) -> float:
        """Mean fraction of the wall time the actors spent evaluating the oracle."""
        if self.seconds <= 0 or not self.busy_seconds:
            return float("nan")
        return float(np.mean(self.busy_seconds) / self.seconds)


class OracleWorker:
    """The body of an oracle actor: builds its oracle in its own process and evaluates batches."""

    def __init__(self, oracle: OracleConfig, process: str) -> None:
        self.oracle = oracle.build(process)

    def provenance(self) -> dict[str, Any]:
        """The oracle's provenance (name, options, versions)."""
        return self.oracle.provenance()

    def pid(self) -> int:
        """Process id of the actor (for diagnostics)."""
        return os.getpid()

    def node_id(self) -> str:
        """The Ray node this actor runs on."""
        return ray.get_runtime_context().get_node_id()

    def evaluate(self, momenta: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], float]:
        """Evaluate momenta ``(N, n, 4)`` [GeV]; returns values ``(N,)`` (``(N, K)`` for a vector oracle),
        ok mask, reasons and seconds spent."""
        from activeamp.data.labelling import evaluate_isolating
        from oracles.base import OracleInputError

        start = time.perf_counter()
        try:
            result = self.oracle.evaluate(momenta)
        except OracleInputError:
            result = evaluate_isolating(self.oracle, momenta)  # unphysical points fail alone, deterministically
        return result.values, result.ok, result.reasons, time.perf_counter() - start


@dataclass
class _Item:
    """A batch of point positions (into the pass's PointSet) and how often it has failed."""

    rows: np.ndarray
    failures: int = 0


class OraclePool:
    """A pool of Ray actors owning oracles (requires ``ray.init`` to have been called).

    Parameters
    ----------
    oracle : OracleConfig
        Oracle name and options; every actor builds its own instance.
    process : str
        Process name (must match the stores the pool labels).
    config : PoolConfig
        Placement and batching.
    """

    def __init__(self, oracle: OracleConfig, process: str, config: PoolConfig | None = None) -> None:
        if not ray.is_initialized():
            raise PoolError("OraclePool needs a running Ray (call ray.init or activeamp.loop.cluster.connect first)")
        self.oracle_config = oracle
        self.process = process
        self.config = config or PoolConfig()
        self._gpus = self.config.gpus(ray.cluster_resources().get("GPU", 0.0))
        self._actor_cls = ray.remote(OracleWorker).options(
            **self.config.actor_options(self._gpus),
            max_restarts=self.config.max_restarts,
            max_task_retries=0,
        )
        request = self.config.request(self._gpus, self.config.n_actors)
        check_resources(request, f"the oracle pool ({self.config.n_actors} actors)")
        self._actors = [self._new_actor() for _ in range(self.config.n_actors)]
        self._replacements = 0
        try:
            provenances = wait_ready(
                [a.provenance.remote() for a in self._actors], request, "the oracle pool", self.config.startup_timeout
            )
            self.provenance: dict[str, Any] = provenances[0]
        except (RayTaskError, RayActorError) as err:
            self.shutdown()
            lines = [line.strip() for line in str(err).splitlines() if line.strip()]
            cause = err.cause if isinstance(err, RayTaskError) else (lines[-1] if lines else err)
            raise PoolError(f"oracle {oracle.name!r} could not be built in an actor: {cause}") from None
        except ClusterError:
            self.shutdown()
            raise

    def _new_actor(self) -> Any:
        return self._actor_cls.remote(self.oracle_config, self.process)

    @property
    def n_actors(self) -> int:
        """Number of actors."""
        return len(self._actors)

    @property
    def outputs(self) -> tuple[str, ...] | None:
        """Output names of a vector-valued oracle (e.g. VVAMP coefficients); None for a scalar |M|² oracle."""
        outputs = self.provenance.get("outputs")
        return tuple(outputs) if outputs is not None else None

    def actor_nodes(self) -> list[str]:
        """Ray node id of every actor (to check placement)."""
        return ray.get([actor.node_id.remote() for actor in self._actors])

    def actor_pids(self) -> list[int]:
        """Process id of every actor."""
        return ray.get([actor.pid.remote() for actor in self._actors])

    def _replace(self, index: int) -> None:
        self._replacements += 1
        if self._replacements > self.config.max_replacements:
            raise PoolError(
                f"oracle actors died {self._replacements} times beyond their restarts "
                f"(max_replacements={self.config.max_replacements}); the oracle {self.oracle_config.name!r} "
                "is crashing on every call or its node is gone"
            )
        logger.warning(
            "oracle actor %d is dead after %d restarts; starting a fresh one", index, self.config.max_restarts
        )
        ray.kill(self._actors[index], no_restart=True)
        actor = self._new_actor()
        request = self.config.request(self._gpus)
        wait_ready([actor.provenance.remote()], request, "a replacement oracle actor", self.config.startup_timeout)
        self._actors[index] = actor

    def label(
        self,
        store: ShardStore,
        points: PointSet | None = None,
        *,
        split: str | None = None,
        retry_failed: bool = False,
        progress: bool = True,
    ) -> PoolReport:
        """Label ``points`` (default: the store's unlabelled points) and commit every batch to ``store``.

        A batch counts as done only after its shard is written. A batch whose actor died or whose
        oracle raised is split in halves and sent again, so a poison point ends up alone; a single
        point that fails :attr:`PoolConfig.quarantine_after` times is stored as failed with the
        reason and the pass goes on.
        """
        if store.process.name != self.process:
            raise ValueError(f"pool labels {self.process}, but store {store.path} holds {store.process.name}")
        check_outputs(store, self.outputs, self.oracle_config.name)
        n_outputs = None if self.outputs is None else len(self.outputs)
        todo = points if points is not None else store.unlabelled(split, include_failed=retry_failed)
        cfg = self.config
        queue: deque[_Item] = deque(
            _Item(np.arange(lo, min(lo + cfg.batch_size, len(todo)))) for lo in range(0, len(todo), cfg.batch_size)
        )
        in_flight: dict[ray.ObjectRef, tuple[_Item, int, Any]] = {}
        order: list[deque[ray.ObjectRef]] = [deque() for _ in range(self.n_actors)]  # calls run in this order
        busy = [0.0] * self.n_actors
        counts = {"ok": 0, "failed": 0, "quarantined": 0, "calls": 0, "crashes": 0, "errors": 0}
        start = time.perf_counter()

        def commit(item: _Item, result: OracleResult) -> None:
            rows = item.rows
            store.append_labels(
                todo.ids[rows],
                todo.momenta[rows],
                result.values,
                ok=result.ok,
                reasons=result.reasons,
                oracle=self.provenance["name"],
                provenance=self.provenance,
                split=todo.split[rows],
                round=todo.round[rows],
                batch=todo.batch[rows],
            )
            counts["failed"] += result.n_failed
            counts["ok"] += len(rows) - result.n_failed
            bar.update(len(rows))
            bar.set_postfix(failed=counts["failed"], crashes=counts["crashes"])

        def quarantine(item: _Item, reason: str) -> None:
            counts["quarantined"] += 1
            logger.warning("quarantined point %s after %d failures: %s", todo.ids[item.rows[0]], item.failures, reason)
            commit(item, failed_result(1, f"quarantined: {reason}", n_outputs))

        def failed(item: _Item, reason: str) -> None:
            """The call evaluating ``item`` raised, or its actor died while running it alone."""
            item.failures += 1
            if len(item.rows) > 1:  # split, so that a poison point ends up alone
                half = len(item.rows) // 2
                queue.appendleft(_Item(item.rows[half:]))
                queue.appendleft(_Item(item.rows[:half]))
            elif item.failures >= cfg.quarantine_after:
                quarantine(item, reason)
            else:
                queue.appendleft(item)

        def crashed(item: _Item, running_alone: bool) -> None:
            """The actor died while ``item`` was in flight.

            Blame is certain only for a call that ran alone on its actor: calls queued behind the
            crashing one, or sent while the actor was restarting, die with it. So a multi-point
            batch is split, and a single point is first sent again alone before it is blamed.
            """
            if len(item.rows) > 1 or running_alone:
                counts["crashes"] += 1
                failed(item, "the oracle process died while evaluating it")
            else:
                queue.appendleft(item)

        def dispatch() -> None:
            while queue:
                item = queue[0]
                alone = len(item.rows) == 1 and counts["crashes"] > 0
                free = [a for a in range(self.n_actors) if not exclusive[a]]
                if alone:
                    free = [a for a in free if not order[a]]
                if not free:
                    return
                actor = min(free, key=lambda a: len(order[a]))
                if len(order[actor]) >= cfg.in_flight_per_actor:
                    return
                queue.popleft()
                handle = self._actors[actor]
                ref = handle.evaluate.remote(todo.momenta[item.rows])
                in_flight[ref] = (item, actor, handle)
                order[actor].append(ref)
                exclusive[actor] = alone
                counts["calls"] += 1

        exclusive = [False] * self.n_actors
        # a call may take its batch's cost; beyond that plus the start-up deadline something is wrong
        call_timeout = cfg.startup_timeout + 10.0 * cfg.batch_size * float(self.provenance.get("cost_hint_s", 1.0))
        desc = f"oracle pool [{self.provenance['name']}]"
        with tqdm(total=len(todo), unit="pt", desc=desc, disable=not progress) as bar:
            while queue or in_flight:
                dispatch()
                done, _ = ray.wait(list(in_flight), num_returns=1, timeout=call_timeout)
                if not done:
                    raise PoolError(
                        f"no oracle call finished within {call_timeout:.0f} s: the oracle actors cannot run "
                        "(their node is gone, or they wait for resources); the labelled points are stored"
                    )
                for ref in done:
                    item, actor, handle = in_flight.pop(ref)
                    running_alone = exclusive[actor]
                    order[actor].remove(ref)
                    exclusive[actor] = False
                    try:
                        values, ok, reasons, seconds = ray.get(ref)
                    except RayTaskError as err:
                        counts["errors"] += 1
                        failed(item, f"oracle error: {err.cause}")
                    except ActorDiedError:
                        crashed(item, running_alone)
                        if self._actors[actor] is handle:  # not yet replaced for another of its calls
                            self._replace(actor)
                    except RayActorError:
                        crashed(item, running_alone)
                    else:
                        busy[actor] += seconds
                        commit(item, make_result(values, ok, tuple(reasons)))
        seconds = time.perf_counter() - start
        report = PoolReport(
            n_points=len(todo),
            n_ok=counts["ok"],
            n_failed=counts["failed"],
            n_quarantined=counts["quarantined"],
            n_calls=counts["calls"],
            n_crashes=counts["crashes"],
            n_errors=counts["errors"],
            seconds=seconds,
            busy_seconds=tuple(busy),
        )
        logger.info(
            "oracle pool: %d points (%d ok, %d failed, %d quarantined) in %.2f s, %.0f points/s, utilisation %.2f",
            report.n_points,
            report.n_ok,
            report.n_failed,
            report.n_quarantined,
            seconds,
            report.points_per_second,
            report.utilisation,
        )
        return report

    def shutdown(self) -> None:
        """Kill the actors."""
        for actor in self._actors:
            ray.kill(actor, no_restart=True)
        self._actors = []

    def __enter__(self) -> OraclePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
