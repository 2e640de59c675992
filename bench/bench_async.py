"""Benchmark: oracle utilisation of the rounds and async loop modes (issue 14 target: async ≥ 0.95).

Runs the same configuration in both modes for the same wall-time budget: the mock oracle with a ``latency`` of 0.2 s
per point (a sleep: it needs no CPU, like an oracle on other nodes), 16 oracle actors, the default surrogate and
trainer (round 0: 20 000 optimiser steps, then 10 000 per round or update). Utilisation is busy actor-seconds
over (actors × wall): busy seconds are the points labelled (all splits, from the store) times the latency, the
wall is the whole ``run()``, from Ray's start to the final report. Also reported: oracle calls, updates, and the
test precision each mode reached.

Example (the BENCHMARKS.md row)::

    .venv/bin/python bench/bench_async.py --wall 420 --out /tmp/bench-async
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from activeamp.data.store import ShardStore
from activeamp.loop.active import ActiveConfig, ActiveLearner
from activeamp.loop.asynchronous import AsyncLearner

__all__ = ["main", "run_mode"]

logger = logging.getLogger("bench_async")


def run_mode(mode: str, wall: float, latency: float, actors: int, out: Path) -> dict[str, float]:
    """One run in ``mode`` for ``wall`` seconds; its utilisation, calls, updates and precision."""
    config = ActiveConfig.from_dict(
        {
            "oracle": {"name": "mock", "options": {"latency": latency}},
            "n_initial": 1000,
            "n_validation": 250,
            "n_test": 1000,
            "pool": {"n_actors": actors, "batch_size": 20, "num_cpus": 0.1},
            "budget": {"max_rounds": 0, "max_wall_seconds": wall},
            "loop": {"mode": mode},
            "plots": False,
        }
    )
    learner_cls = AsyncLearner if mode == "async" else ActiveLearner
    run_dir = out / mode
    t0 = time.perf_counter()
    statuses = learner_cls(config, run_dir, progress=False).run()
    seconds = time.perf_counter() - t0
    summary = ShardStore.open(run_dir / "store").summary()
    labelled = sum(summary.count(status=s) for s in ("ok", "failed"))
    last = statuses[-1]
    return {
        "wall_s": seconds,
        "points_labelled": labelled,
        "oracle_calls": last.oracle_calls,
        "updates": len(statuses),
        "utilisation": labelled * latency / (actors * seconds),
        "precision": last.precision,
        "top1_abs68": last.accuracy_top1,
        "event_weighted_hw68": last.metrics.event_weighted.half_width_68,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wall", type=float, default=420.0, help="wall-time budget of each run (s)")
    p.add_argument("--latency", type=float, default=0.2, help="mock oracle seconds per point")
    p.add_argument("--actors", type=int, default=16, help="oracle actors")
    p.add_argument("--modes", nargs="+", default=["async", "rounds"], help="modes to run")
    p.add_argument("--out", type=Path, default=Path("/tmp/bench-async"), help="work folder")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    results = {}
    for mode in args.modes:
        results[mode] = run_mode(mode, args.wall, args.latency, args.actors, args.out)
        logger.info("%s: %s", mode, json.dumps(results[mode]))
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    for mode, r in results.items():
        logger.info(
            "%-6s wall %.0f s, %d points labelled, %d updates: oracle utilisation %.3f; test Δ68 %.3g, top-1%% |Δ|68 "
            "%.3g, A-weighted Δ68 %.3g",
            mode, r["wall_s"], r["points_labelled"], r["updates"], r["utilisation"], r["precision"],
            r["top1_abs68"], r["event_weighted_hw68"],
        )


if __name__ == "__main__":
    main()
