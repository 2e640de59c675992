"""Benchmark: `activeamp predict` throughput (issue 15 target: ≥ 5 × 10⁵ points/s).

Samples N g g → γ γ g points with the paper's cuts into a ``.npy`` file, then runs
:func:`activeamp.deploy.predict.predict_file` with a trained model (⟨A⟩, σ_model, σ_pred, σ_tot per point, the
4-image symmetry average, physical checks per chunk) and reports points per second, for the default number of
weight samples and for fewer.

Example (the BENCHMARKS.md row)::

    .venv/bin/python bench/bench_predict.py --model runs/run-…/model.pt --n 1000000
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import torch

from activeamp.deploy.predict import open_points, predict_file
from activeamp.physics.cuts import paper_cuts
from activeamp.physics.phasespace import PhaseSpaceSampler

__all__ = ["main"]

logger = logging.getLogger("bench_predict")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True, help="a g g → γ γ g model.pt")
    p.add_argument("--n", type=int, default=1_000_000, help="points")
    p.add_argument("--out", type=Path, default=Path("/tmp/activeamp-bench-predict"), help="work folder")
    p.add_argument("--samples", type=int, nargs="+", default=[0, 8], help="weight samples (0: the model's default)")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    npy = args.out / "points.npy"
    if not npy.exists() or np.load(npy, mmap_mode="r").shape[0] != args.n:
        t0 = time.perf_counter()
        sample = PhaseSpaceSampler("gg_yyg", 1000.0, paper_cuts("gg_yyg")).sample(args.n, 1, only_accepted=True)
        np.save(npy, sample.momenta)
        logger.info("sampled %d points in %.1f s", args.n, time.perf_counter() - t0)
    for m in args.samples:
        source, _ = open_points(npy=npy)
        report = predict_file(args.model, args.out / f"pred-{m}.h5", source, n_samples=m or None, progress=False)
        logger.info(
            "n_samples %s: %d points in %.1f s = %.3g points/s (%d threads)",
            m or "default", report.n_points, report.seconds, report.points_per_second, args.threads,
        )


if __name__ == "__main__":
    main()
