"""Benchmark: oracle-pool efficiency with a mock oracle of fixed cost, 1 vs N actors on local Ray."""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import tempfile

import numpy as np

from activeamp.data.dataset import OracleConfig
from activeamp.data.store import ShardStore, make_point_ids
from activeamp.loop.cluster import connect
from activeamp.loop.pool import OraclePool, PoolConfig
from activeamp.physics.phasespace import PhaseSpaceSampler

logger = logging.getLogger("bench_pool")


def run_once(n_points: int, n_actors: int, latency: float, batch_size: int, momenta: np.ndarray) -> dict[str, float]:
    """Label ``n_points`` through a fresh pool; returns throughput, efficiency and overhead."""
    with tempfile.TemporaryDirectory() as tmp:
        store = ShardStore.create(os.path.join(tmp, "store"), "gg_yyg")
        store.append_points(make_point_ids(1, 0, 0, n_points), momenta[:n_points], split="train", round=0, batch=0)
        oracle = OracleConfig("mock", {"latency": latency})
        config = PoolConfig(n_actors=n_actors, num_cpus=1, batch_size=batch_size)
        with OraclePool(oracle, "gg_yyg", config) as pool:
            report = pool.label(store, progress=False)
        assert store.summary().count(status="ok") == n_points
    ideal = n_points * latency / n_actors
    return {
        "n_actors": n_actors,
        "seconds": report.seconds,
        "points_per_second": report.points_per_second,
        "ideal_seconds": ideal,
        "overhead": 1.0 - ideal / report.seconds,
        "utilisation": report.utilisation,
        "calls": report.n_calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=2000, help="points per measurement (default 2000)")
    parser.add_argument("--latency", type=float, default=0.005, help="mock cost in s per point (default 0.005)")
    parser.add_argument("--batch-size", type=int, default=50, help="points per oracle call (default 50)")
    parser.add_argument("--actors", type=int, nargs="+", default=[1, 2], help="actor counts (default 1 2)")
    parser.add_argument("--repeats", type=int, default=2, help="repeats per actor count (best is kept)")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    connect("local", num_cpus=max(args.actors))
    momenta = PhaseSpaceSampler("gg_yyg").sample(args.points, np.random.default_rng(1)).momenta
    results = []
    for n in args.actors:
        runs = [run_once(args.points, n, args.latency, args.batch_size, momenta) for _ in range(args.repeats)]
        best = min(runs, key=lambda r: r["seconds"])
        results.append(best)
        logger.info("%d actor(s): %.1f points/s, overhead %.3f, utilisation %.3f", n, best["points_per_second"],
                    best["overhead"], best["utilisation"])  # fmt: skip
    base = results[0]["points_per_second"] / results[0]["n_actors"]
    for r in results:
        r["efficiency"] = r["points_per_second"] / (base * r["n_actors"])
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"{'actors':>6} {'points/s':>10} {'ideal s':>8} {'wall s':>8} {'overhead':>9} {'efficiency':>10} {'util':>6}")
    for r in results:
        print(
            f"{r['n_actors']:>6} {r['points_per_second']:>10.1f} {r['ideal_seconds']:>8.2f} {r['seconds']:>8.2f} "
            f"{r['overhead']:>9.3f} {r['efficiency']:>10.3f} {r['utilisation']:>6.3f}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": vars(args), "results": results}, fh, indent=2)


if __name__ == "__main__":
    main()
