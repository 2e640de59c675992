"""Benchmark: active learning (σ_tot acquisition) against random sampling at equal oracle budgets."""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

import numpy as np

from activeamp.loop.active import ActiveConfig, ActiveLearner

logger = logging.getLogger("bench_active")


def curve(config: ActiveConfig, run_dir: Path, extra: str = "") -> list[tuple[int, float, float, float]]:
    """(oracle calls, test Δ 68% half-width, top-1% half-width, top-1% 68% quantile of |Δ|) after every round.

    ``extra`` (``COUNTxSIZE``) continues the finished run with COUNT more rounds of SIZE points (a resume with
    overrides), to take the random baseline to larger budgets cheaply.
    """
    statuses = ActiveLearner(config, run_dir, progress=False).run()
    if extra:
        count, _, size = extra.partition("x")
        overrides = [
            f"budget.max_rounds={config.budget.max_rounds + int(count)}",
            f"acquisition.batch_size={size}",
            f"acquisition.n_candidates={max(25 * int(size), config.acquisition.n_candidates)}",
        ]
        statuses += ActiveLearner.resume(run_dir, progress=False, overrides=overrides).run()
    return [(s.oracle_calls, s.precision, s.precision_top1, s.accuracy_top1) for s in statuses]


def calls_to_reach(points: list[tuple[int, ...]], target: float, column: int) -> float | None:
    """Oracle calls at which a curve first reaches ``target`` (linear interpolation in log calls)."""
    for (c0, *v0), (c1, *v1) in zip(points, points[1:], strict=False):
        a, b = v0[column - 1], v1[column - 1]
        if a > target >= b:
            t = (np.log(a) - np.log(target)) / (np.log(a) - np.log(b))
            return float(np.exp(np.log(c0) + t * (np.log(c1) - np.log(c0))))
    return float(points[0][0]) if points and points[0][column] <= target else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--oracle", default="exact", help="oracle (default: the exact one-loop gg_yyg)")
    parser.add_argument("--initial", type=int, default=4000, help="round-0 training points (default 4000)")
    parser.add_argument("--batch", type=int, default=2000, help="points per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="active rounds (default 5)")
    parser.add_argument("--random-rounds", type=int, default=10, help="rounds of the random baseline (default 10)")
    parser.add_argument(
        "--random-extra", default="", help="further random rounds as COUNTxSIZE after those, e.g. 6x4000 (default none)"
    )
    parser.add_argument(
        "--random-json", default=None, help="reuse the random curve of an earlier --json output instead of rerunning"
    )
    parser.add_argument("--score", default="absolute", help="acquisition score (default absolute)")
    parser.add_argument(
        "--explore", type=float, default=0.5, help="uniform fraction of each active batch (default 0.5, the run's)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=None, help="folder for the runs (default: a temporary one)")
    parser.add_argument("--json", default=None, help="write the curves to this JSON file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    base = {
        "seed": args.seed,
        "oracle": {"name": args.oracle},
        "n_initial": args.initial,
        "n_validation": 1000,
        "n_test": 10000,
        "acquisition": {
            "n_candidates": 25 * args.batch,
            "batch_size": args.batch,
            "score": args.score,
            "explore": args.explore,
        },
        "plots": False,
        "address": "local",  # a fresh local Ray instance per run, sized for its actors
    }
    out = Path(args.out or tempfile.mkdtemp(prefix="bench_active-"))
    runs = {
        "active": {**base, "budget": {"max_rounds": args.rounds}},
        "random": {
            **base,
            "acquisition": {**base["acquisition"], "strategy": "random"},
            "budget": {"max_rounds": args.random_rounds},
        },
    }
    curves = {}
    if args.random_json:
        curves["random"] = [tuple(p) for p in json.loads(Path(args.random_json).read_text())["curves"]["random"]]
        del runs["random"]
    for name, cfg in runs.items():
        curves[name] = curve(ActiveConfig.from_dict(cfg), out / name, args.random_extra if name == "random" else "")
    print(f"{'strategy':>8} {'calls':>7} {'Δ68 all':>9} {'Δ68 top1%':>10} {'|Δ|68 top1%':>12}")
    for name, points in curves.items():
        for calls, all_, top, top_abs in points:
            print(f"{name:>8} {calls:>7} {all_:>9.4f} {top:>10.4f} {top_abs:>12.4f}")
    for calls, all_, top, top_abs in curves["active"][1:]:
        for column, label, value in ((1, "all", all_), (2, "top-1%", top), (3, "top-1% |Δ|68", top_abs)):
            needed = calls_to_reach(curves["random"], value, column)
            text = "not reached" if needed is None else f"{needed:.0f} calls (ratio {calls / needed:.2f})"
            print(f"active at {calls} calls, {label} {value:.4f}: random sampling needs {text}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "curves": curves}, indent=2))


if __name__ == "__main__":
    main()
