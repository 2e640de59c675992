"""Benchmark: shard-store write and read times (one big shard, and many small shards before and after compaction)."""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from activeamp.data.store import ShardStore, make_point_ids
from activeamp.physics.phasespace import PhaseSpaceSampler
from activeamp.physics.process import Process, get_process
from activeamp.physics.vv_phasespace import VVPhaseSpace

__all__ = ["main"]

logger = logging.getLogger("bench_store")


def _time(label: str, fn: Callable[[], object], repeats: int) -> dict[str, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    result = {"best_s": min(times), "median_s": statistics.median(times), "repeats": repeats}
    logger.info("%-52s best %8.4f s   median %8.4f s", label, min(times), result["median_s"])
    return result


def _physical_points(process: Process, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` physical points ``(n, n_particles, 4)`` [GeV] of ``process`` (RAMBO at 1 TeV, or the VV map), no cuts."""
    if process.massless:
        return PhaseSpaceSampler(process).sample(n, rng).momenta
    return VVPhaseSpace(process).sample(n, rng).momenta


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0 if reading ``--n-points`` labelled points takes less than ``--target`` seconds."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--process", default="gg_yyg", help="process name (default: gg_yyg)")
    parser.add_argument("--n-points", type=int, default=100_000, help="points in the big store (default: 100000)")
    parser.add_argument("--small-shards", type=int, default=500, help="number of small shards (default: 500)")
    parser.add_argument("--small-size", type=int, default=200, help="points per small shard (default: 200)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--target", type=float, default=1.0, help="required read time in seconds (default: 1)")
    parser.add_argument("--dir", default=None, help="where to put the stores (default: a temporary directory)")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logger.info("python %s, pyarrow %s, numpy %s", platform.python_version(), pa.__version__, np.__version__)

    process = get_process(args.process)
    rng = np.random.default_rng(1)
    n = args.n_points
    results: dict[str, object] = {"process": process.name, "n_points": n}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        momenta = _physical_points(process, n, rng)  # the store refuses unphysical momenta
        ids = make_point_ids(1, 0, 0, n)
        provenance = {"name": "mock", "options": {"seed": 1, "latency": 0.0}, "versions": {"activeamp": "0.1.0"}}
        counter = iter(range(10**6))

        def write_points() -> None:
            store = ShardStore.create(root / f"w{next(counter)}", process)
            store.append_points(ids, momenta, split="train", round=0, batch=0)

        results["append_points"] = _time(f"append_points, {n} points (1 shard)", write_points, args.repeats)
        store = ShardStore.create(root / "big", process)
        store.append_points(ids, momenta, split="train", round=0, batch=0)
        values = rng.lognormal(size=n)

        def label() -> None:
            s = ShardStore.create(root / f"l{next(counter)}", process)
            s.append_points(ids, momenta, split="train", round=0, batch=0, check_existing=False)
            t0 = time.perf_counter()
            s.append_labels(ids, None, values, oracle="mock", provenance=provenance)
            label_times.append(time.perf_counter() - t0)

        label_times: list[float] = []
        for _ in range(args.repeats):
            label()
        results["append_labels"] = {"best_s": min(label_times), "median_s": statistics.median(label_times)}
        logger.info(
            "%-52s best %8.4f s   median %8.4f s",
            f"append_labels, {n} points (lookup + 1 shard)",
            min(label_times),
            statistics.median(label_times),
        )
        store.append_labels(ids, None, values, oracle="mock", provenance=provenance)
        results["read_cold"] = _time(
            f"read(), fresh handle (hash check), {n} points", lambda: ShardStore.open(store.path).read(), args.repeats
        )
        results["read"] = _time(f"read(), {n} points / {2 * n} records", store.read, args.repeats)
        results["arrays"] = _time(f"arrays(), {n} points", store.arrays, args.repeats)
        results["unlabelled"] = _time("unlabelled() (none left)", store.unlabelled, args.repeats)
        results["summary"] = _time("summary()", store.summary, args.repeats)

        k, m = args.small_shards, args.small_size
        small = ShardStore.create(root / "small", process)
        t0 = time.perf_counter()
        for b in range(k):
            small.append_points(
                make_point_ids(2, 0, b, m), momenta[:m], split="train", round=0, batch=b, check_existing=False
            )
        per_shard = (time.perf_counter() - t0) / k
        logger.info("%-52s %8.4f s per shard", f"append_points, {k} shards of {m} points", per_shard)
        results["small_append_per_shard_s"] = per_shard
        results["small_read_cold"] = _time(
            f"read(), {k} shards, fresh handle", lambda: ShardStore.open(small.path).read(), args.repeats
        )
        results["small_read"] = _time(f"read(), {k} shards of {m} points", small.read, args.repeats)
        t0 = time.perf_counter()
        small.compact()
        results["compact_s"] = time.perf_counter() - t0
        logger.info("%-52s %8.4f s", f"compact() {k} shards", results["compact_s"])
        results["small_read_compacted"] = _time("read() after compaction", small.read, args.repeats)

    best = results["read_cold"]["best_s"]  # type: ignore[index]
    ok = best < args.target
    logger.info("target: read %d points in < %g s: %s", n, args.target, "met" if ok else "NOT met")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
