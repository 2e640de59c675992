"""Benchmark of the exact g g → γ γ (g) oracles: time and memory per point on one core, optional precision study."""

from __future__ import annotations

import os

# One core: the thread pools of the numerical libraries are sized when numpy is first imported.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import oracles  # noqa: E402
from oracles.base import Oracle  # noqa: E402

__all__ = ["POINT_SETS", "in_cut_points", "main", "memory_per_point", "precision_study", "rambo", "time_oracle"]

logger = logging.getLogger("bench_diphoton")

SQRT_S = 1000.0


def rambo(n: int, n_final: int, rng: np.random.Generator, sqrt_s: float = SQRT_S) -> np.ndarray:
    """Massless RAMBO points ``(n, 2 + n_final, 4)`` [GeV] in the partonic centre-of-mass frame."""
    cos = 2.0 * rng.random((n, n_final)) - 1.0
    phi = 2.0 * np.pi * rng.random((n, n_final))
    e = -np.log(rng.random((n, n_final)) * rng.random((n, n_final)))
    sin = np.sqrt(1.0 - cos**2)
    q = np.stack([e, e * sin * np.cos(phi), e * sin * np.sin(phi), e * cos], axis=-1)
    total = q.sum(axis=1)
    mass = np.sqrt(total[:, 0] ** 2 - (total[:, 1:] ** 2).sum(-1))
    b = -total[:, 1:] / mass[:, None]
    x = sqrt_s / mass
    gamma = total[:, 0] / mass
    a = 1.0 / (1.0 + gamma)
    bq = np.einsum("ni,nki->nk", b, q[..., 1:])
    p = np.zeros((n, 2 + n_final, 4))
    p[:, 0] = [sqrt_s / 2, 0, 0, sqrt_s / 2]
    p[:, 1] = [sqrt_s / 2, 0, 0, -sqrt_s / 2]
    p[:, 2:, 0] = x[:, None] * (gamma[:, None] * q[..., 0] + bq)
    p[:, 2:, 1:] = x[:, None, None] * (
        q[..., 1:] + b[:, None, :] * q[..., :1] + a[:, None, None] * bq[..., None] * b[:, None, :]
    )
    return p


#: Point sets of the precision study (spec Sec. 9.2): the paper's cuts, and near-singular regions.
POINT_SETS: tuple[str, ...] = ("in-cut", "soft", "collinear-yg", "collinear-yy")


def _delta_r(eta: np.ndarray, phi: np.ndarray, i: int, j: int) -> np.ndarray:
    dphi = np.abs(phi[:, i] - phi[:, j])
    return np.hypot(eta[:, i] - eta[:, j], np.minimum(dphi, 2 * np.pi - dphi))


def in_cut_points(process: str, n: int, rng: np.random.Generator, kind: str = "in-cut") -> np.ndarray:
    """RAMBO points inside the cuts of spec Sec. 8, or (2 → 3, ``kind``) in a near-singular region.

    ``in-cut``: photon pT > 40/30 GeV, |η| < 2.37; gluon pT > 20 GeV, |η| < 5; ΔR > 0.4.
    ``soft``: 1 < pT_g < 5 GeV; ``collinear-yg``/``collinear-yy``: 0.05 < ΔR < 0.2 between the first
    photon and the gluon / the two photons (photon pT > 30 GeV, |η| < 2.37, gluon pT > 20 GeV).
    """
    n_final = 3 if process == "gg_yyg" else 2
    batches, have = [], 0
    while have < n:
        p = rambo(max(2 * (n - have), 1000) if kind == "in-cut" else 200_000, n_final, rng)
        pt = np.hypot(p[..., 1], p[..., 2])
        eta = np.arcsinh(p[..., 3] / np.maximum(pt, 1e-300))
        phi = np.arctan2(p[..., 2], p[..., 1])
        photons = np.sort(pt[:, 2:4], axis=1)
        keep = (photons[:, 0] > 30.0) & (np.abs(eta[:, 2:4]) < 2.37).all(axis=1)
        if n_final == 3:
            keep &= np.abs(eta[:, 4]) < 5.0
            if kind == "in-cut":
                keep &= (photons[:, 1] > 40.0) & (pt[:, 4] > 20.0)
                for i, j in ((2, 3), (2, 4), (3, 4)):
                    keep &= _delta_r(eta, phi, i, j) > 0.4
            elif kind == "soft":
                keep &= (pt[:, 4] > 1.0) & (pt[:, 4] < 5.0)
            else:
                dr = _delta_r(eta, phi, 2, 4 if kind == "collinear-yg" else 3)
                keep &= (pt[:, 4] > 20.0) & (dr > 0.05) & (dr < 0.2)
        batches.append(p[keep])
        have += int(keep.sum())
    return np.concatenate(batches)[:n]


def time_oracle(oracle: Oracle, momenta: np.ndarray, repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` wall and CPU time per point [µs] of ``oracle(momenta)`` (validation included)."""
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        oracle(momenta)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    n = len(momenta)
    return {"wall_us_per_point": best_wall / n * 1e6, "cpu_us_per_point": best_cpu / n * 1e6}


def memory_per_point(oracle: Oracle, momenta: np.ndarray) -> float:
    """Peak traced allocation during ``oracle(momenta)`` per point [bytes] (the input itself excluded)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    oracle(momenta)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / len(momenta)


def precision_study(n: int, rng: np.random.Generator, dps: int, kind: str) -> dict[str, Any]:
    """Compare the g g → γ γ g oracle with a ``dps``-digit evaluation of the spec on ``n`` points of a set."""
    from oracles.diphoton_reference import helicity_terms_2to3

    oracle = oracles.get("gg_yyg")
    momenta = in_cut_points("gg_yyg", n, rng, kind)
    got = oracle.helicity_resolved(momenta)
    exact = helicity_terms_2to3(momenta, dps=dps)
    rel_sum = np.abs(got.sum(axis=1) / exact.sum(axis=1) - 1.0)
    rel_term = np.abs(got / exact - 1.0)
    term_vs_sum = np.abs(got - exact) / exact.sum(axis=1, keepdims=True)
    estimate = oracle.precision_estimate(momenta)
    return {
        "set": kind,
        "points": n,
        "sum_max": float(rel_sum.max()),
        "sum_median": float(np.median(rel_sum)),
        "term_max": float(rel_term.max()),
        "term_max_vs_sum": float(term_vs_sum.max()),
        "estimate_max": float(estimate.max()),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table and optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--oracles", nargs="+", default=["gg_yyg", "gg_yy"], choices=["gg_yyg", "gg_yy"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[100, 10_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--chunk-size", type=int, default=None, help="override the oracle's chunk size")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    parser.add_argument("--precision", type=int, default=0, metavar="N", help="compare N points per set to mpmath")
    parser.add_argument("--dps", type=int, default=40, help="digits of the mpmath comparison")
    parser.add_argument("--precision-sets", nargs="+", default=["in-cut"], choices=POINT_SETS)
    parser.add_argument("--json", type=Path, default=None, help="write the results to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)

    rng = np.random.default_rng(args.seed)
    results: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count()},
        "numpy": np.__version__,
        "python": platform.python_version(),
        "runs": [],
    }
    logger.info("| oracle | points | wall µs/point | CPU µs/point | peak traced memory / point |")
    logger.info("| --- | ---: | ---: | ---: | ---: |")
    for name in args.oracles:
        options = {} if args.chunk_size is None else {"chunk_size": args.chunk_size}
        oracle = oracles.get(name, **options)
        oracle(in_cut_points(name, 50, rng))  # warm up
        for n in args.sizes:
            momenta = in_cut_points(name, n, rng)
            repeats = max(1, min(20, 10_000 // n * 2 + 1))
            timing = time_oracle(oracle, momenta, repeats)
            mem = float("nan") if args.no_memory else memory_per_point(oracle, momenta)
            run = {"oracle": name, "points": n, "repeats": repeats, **timing, "bytes_per_point": mem}
            results["runs"].append(run)
            logger.info(
                "| %s | %d | %.2f | %.2f | %.0f B |",
                name,
                n,
                timing["wall_us_per_point"],
                timing["cpu_us_per_point"],
                mem,
            )
            del momenta
    results["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    logger.info("peak RSS of the process: %.0f MiB", results["peak_rss_mib"])
    if args.precision:
        results["precision"] = []
        for kind in args.precision_sets:
            study = precision_study(args.precision, rng, args.dps, kind)
            results["precision"].append(study)
            logger.info(
                "precision vs %d digits, %d %s points: sum max %.2g (median %.2g), term max %.2g "
                "(%.2g of the sum), estimate max %.2g",
                args.dps,
                study["points"],
                kind,
                study["sum_max"],
                study["sum_median"],
                study["term_max"],
                study["term_max_vs_sum"],
                study["estimate_max"],
            )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
