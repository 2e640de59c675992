"""Benchmark: precision of the default surrogate on exact g g → γ γ g (issue 11), and its inference speed.

Builds (or reuses) a labelled store of uniform RAMBO points with the paper's cuts, labelled by the exact
one-loop oracle: training, validation and a frozen test split. Then, for each requested training-set size,
trains with ``activeamp train``'s code path (:func:`activeamp.surrogate.training.train_from_store`, defaults unless
``--set`` says otherwise) and scores the test split on the exact amplitudes: the Δ 68 % half-width, the 68 %
quantile of |Δ| and the median Δ of all points and of the 1 % largest amplitudes, pulls and coverage.
Results go to ``OUT/results.jsonl`` (one line per run) and to the log; each run's figures (Δ, pulls,
kinematic distributions with bands, learning curve) to ``OUT/run-<n>/eval``.

Example (the BENCHMARKS.md rows)::

    .venv/bin/python bench/bench_precision.py --n-train 90000 --out /tmp/prec
    .venv/bin/python bench/bench_precision.py --n-train 20000 --out /tmp/prec --set surrogate.max_seconds=1080
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from activeamp.config import load_config
from activeamp.data.dataset import DatasetConfig, build_dataset
from activeamp.data.store import ShardStore
from activeamp.surrogate.evaluation import evaluate_model
from activeamp.surrogate.surrogate import Surrogate
from activeamp.surrogate.training import TrainConfig, train_from_store

__all__ = ["main"]

logger = logging.getLogger("bench_precision")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("/tmp/activeamp-bench-precision"), help="work folder")
    p.add_argument("--n-train", type=int, nargs="+", default=[90000], help="training-set sizes (nested subsets)")
    p.add_argument("--pool-train", type=int, default=90000, help="training points in the store")
    p.add_argument("--n-validation", type=int, default=10000, help="validation points (σ_model calibration)")
    p.add_argument("--n-test", type=int, default=20000, help="frozen test points")
    p.add_argument("--seed", type=int, default=7, help="data seed")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="train-config override, e.g. --set surrogate.max_seconds=1500")
    p.add_argument("--label", default="defaults", help="name of this configuration in the results")
    p.add_argument("--throughput-points", type=int, default=1_000_000, help="points for the inference timing")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, one per core)")
    return p


def _store(args: argparse.Namespace) -> ShardStore:
    folder = args.out / "data"
    if not (folder / "store").exists():
        config = DatasetConfig.from_dict({
            "oracle": {"name": "exact"},
            "seed": args.seed,
            "n_train": args.pool_train,
            "n_validation": args.n_validation,
            "n_test": args.n_test,
        })
        build_dataset(config, folder / "store", progress=False)
    return ShardStore.open(folder / "store")


def _throughput(model: Surrogate, x: np.ndarray, n: int) -> float:
    """Points per second of ``predict_mean`` (mean weights, symmetry images averaged) on ``n`` points."""
    reps = max(n // len(x), 1)
    big = np.concatenate([x] * reps)
    model.predict_mean(big[:10000])
    t0 = time.perf_counter()
    model.predict_mean(big)
    return len(big) / (time.perf_counter() - t0)


def _run(args: argparse.Namespace, store: ShardStore, n_train: int) -> dict[str, Any]:
    overrides = [f"n_train={n_train}", *args.overrides]
    config = load_config(TrainConfig, None, overrides)
    out = args.out / f"run-{args.label}-{n_train}"
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    result = train_from_store(store, config, out, progress=False)
    wall = time.perf_counter() - t0
    load1 = os.getloadavg()[0]
    model = Surrogate.load(result.model_path)
    metrics = evaluate_model(model, store, out / "eval", splits=("test",), n_samples=30)["test"]
    x_test = store.arrays("test").momenta
    rate = _throughput(model, x_test, args.throughput_points)
    row = {
        "label": args.label,
        "n_train": n_train,
        "wall_s": round(wall, 1),
        "epochs": result.epochs,
        "load_before_after": [round(load0, 2), round(load1, 2)],
        "delta68_half_width": metrics.delta_all.half_width_68,
        "abs_delta_q68": metrics.delta_all.abs_68,
        "median_delta": metrics.delta_all.median,
        "top1_abs_delta_q68": metrics.delta_top1.abs_68,
        "top1_median_delta": metrics.delta_top1.median,
        "top1_half_width": metrics.delta_top1.half_width_68,
        "pull_tot_std": metrics.pull_tot.std,
        "coverage": {f"{c.k:g}": c.observed for c in metrics.coverage},
        "predict_points_per_s": rate,
        "torch_threads": torch.get_num_threads(),
        "config": config.surrogate.to_dict(),
    }
    logger.info(
        "%s, %d points: Δ68 %.3g (median %+.2g); top 1 %%: |Δ| q68 %.3g (median %+.2g); pull std %.2f; "
        "%.0f s; %.3g points/s",
        args.label, n_train, row["delta68_half_width"], row["median_delta"], row["top1_abs_delta_q68"],
        row["top1_median_delta"], row["pull_tot_std"], wall, rate,
    )
    return row


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark (see the module docstring)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    logger.info("machine: %s, %d CPUs, torch %s, %d threads", platform.processor() or platform.machine(),
                os.cpu_count() or 0, torch.__version__, torch.get_num_threads())
    store = _store(args)
    for n in args.n_train:
        row = _run(args, store, n)
        with open(args.out / "results.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
