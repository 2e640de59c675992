"""Oracle pool: Ray actors that each own an oracle, fed with bounded batches, results committed before they count."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import numpy as np
import ray
from ray.exceptions import RayActorError, RayTaskError

from activeamp.data.dataset import OracleConfig
from activeamp.data.store import PointSet, ShardStore
from activeamp.loop.cluster import ClusterError, check_resources, wait_ready
from activeamp.loop.label_stream import LabelStream, PoolError, PoolReport
from activeamp.loop.settings import PoolConfig

__all__ = ["OracleWorker", "OraclePool", "PoolConfig", "PoolError", "PoolReport"]

logger = logging.getLogger(__name__)


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
        reason and the pass goes on (:class:`activeamp.loop.label_stream.LabelStream`).
        """
        stream = self.stream(store, progress=progress)
        stream.add(points if points is not None else store.unlabelled(split, include_failed=retry_failed))
        try:
            while not stream.idle:
                stream.step(stream.call_timeout)
        finally:
            stream.close()
        report = stream.report()
        logger.info(
            "oracle pool: %d points (%d ok, %d failed, %d quarantined) in %.2f s, %.0f points/s, utilisation %.2f",
            report.n_points,
            report.n_ok,
            report.n_failed,
            report.n_quarantined,
            report.seconds,
            report.points_per_second,
            report.utilisation,
        )
        return report

    def stream(self, store: ShardStore, *, progress: bool = True) -> LabelStream:
        """A :class:`LabelStream` on this pool's actors committing to ``store``: add points, step it."""
        return LabelStream(self, store, progress=progress)

    def shutdown(self) -> None:
        """Kill the actors."""
        for actor in self._actors:
            ray.kill(actor, no_restart=True)
        self._actors = []

    def __enter__(self) -> OraclePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
