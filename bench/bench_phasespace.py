"""Benchmark: accepted phase-space points per second after the paper's cuts, on one core."""

from __future__ import annotations

import os

# Single-threaded numerics: set before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from activeamp.physics.cuts import paper_cuts  # noqa: E402
from activeamp.physics.phasespace import PhaseSpaceSampler  # noqa: E402
from activeamp.physics.process import get_process  # noqa: E402
from activeamp.physics.vegas_sampler import VegasSampler  # noqa: E402

__all__ = ["main"]

logger = logging.getLogger("bench_phasespace")


def _time(fn: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _report(label: str, n: int, times: list[float]) -> dict[str, float]:
    rates = [n / t for t in times]
    result = {"best_per_s": max(rates), "median_per_s": statistics.median(rates), "n": n, "repeats": len(times)}
    logger.info(
        "%-34s best %.3e /s   median %.3e /s   (%d points × %d)",
        label,
        max(rates),
        result["median_per_s"],
        n,
        len(times),
    )
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0 if the accepted-point rate meets ``--target``, 1 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--process", default="gg_yyg", help="process name (default: gg_yyg)")
    parser.add_argument("--sqrt-s", type=float, default=1000.0, help="partonic √s in GeV (default: 1000)")
    parser.add_argument("--n-points", type=int, default=2_000_000, help="accepted points per repeat")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (default: 5)")
    parser.add_argument("--chunk-size", type=int, default=1 << 15, help="sampler batch size (default: 32768)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--target", type=float, default=5e5, help="required accepted points per second")
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this CPU (Linux only)")
    parser.add_argument("--vegas", action="store_true", help="also time the vegas-adapted sampler")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    process = get_process(args.process)
    cuts = paper_cuts(process)
    sampler = PhaseSpaceSampler(process, args.sqrt_s, cuts, chunk_size=args.chunk_size)
    bare = PhaseSpaceSampler(process, args.sqrt_s, chunk_size=args.chunk_size)
    rng = np.random.default_rng(args.seed)
    n = args.n_points
    logger.info("process %s (%s), √s = %g GeV, cuts: %s", process.name, process.description, args.sqrt_s, cuts)
    logger.info(
        "python %s, numpy %s, %s, CPUs available %d",
        platform.python_version(),
        np.__version__,
        platform.processor() or platform.machine(),
        len(os.sched_getaffinity(0)),
    )

    sampler.sample(min(n, 100_000), rng, only_accepted=True)  # warm-up
    results: dict[str, object] = {"process": process.name, "sqrt_s": args.sqrt_s, "chunk_size": args.chunk_size}
    results["rambo_only"] = _report("RAMBO, no cuts", n, _time(lambda: bare.sample(n, rng), args.repeats))
    momenta = bare.sample(n, rng).momenta
    results["cuts_only"] = _report("cuts on fixed momenta", n, _time(lambda: cuts.mask(momenta, process), args.repeats))
    last: list[float] = []

    def accepted() -> None:
        last.append(sampler.sample(n, rng, only_accepted=True).acceptance)

    results["accepted"] = _report("accepted points (RAMBO + cuts)", n, _time(accepted, args.repeats))
    results["acceptance"] = float(np.mean(last))
    logger.info("acceptance of the cuts: %.4f", results["acceptance"])
    if args.vegas:
        vs = VegasSampler(process, args.sqrt_s, cuts, chunk_size=args.chunk_size)
        vs.adapt(None, rng, nitn=5, neval=20_000)
        results["vegas_accepted"] = _report(
            "accepted points (vegas + RAMBO + cuts)",
            n,
            _time(lambda: vs.sample(n, rng, only_accepted=True), args.repeats),
        )
    best = results["accepted"]["best_per_s"]  # type: ignore[index]
    ok = best >= args.target
    logger.info("target %.1e accepted points/s: %s", args.target, "met" if ok else "NOT met")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
