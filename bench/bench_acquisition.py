"""Ablation without Ray: acquisition strategies in a serial loop (same surrogate, candidates and oracle as the run).

Every strategy starts from the same round-0 network (``--initial`` points) and adds ``--batch`` points per round,
picked from a fresh uniform candidate pool of 25 × batch points (``KIND@vegas``: drawn from a vegas map adapted to
the surrogate's ⟨A⟩, with the map's weights); the random baseline can run on to larger budgets
(``--random-extra``) so that the budget at which it matches each strategy can be read off. Printed per round:
oracle calls (training + validation points), test Δ 68 % half-width, for the top 1 % of test points by
amplitude the 68 % half-width, the 68 % quantile of |Δ| (which also counts a bias) and the median Δ, and the
figures of an event generator: the 68 % half-width of Δ with the test points weighted by A (where events land)
and the test set's cross-section error ΣA_NN/ΣA − 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from bench_active import calls_to_reach

import oracles
from activeamp.loop.acquisition import score, select, standardise
from activeamp.loop.settings import _default_surrogate
from activeamp.loop.trainer import SurrogateTrainer, TrainerConfig
from activeamp.physics.cuts import paper_cuts
from activeamp.physics.phasespace import PhaseSpaceSampler
from activeamp.physics.vegas_sampler import VegasSampler
from activeamp.surrogate.metrics import evaluate_prediction

logger = logging.getLogger("bench_acquisition")

#: calls, Δ68 all, Δ68 top 1 %, |Δ|68 top 1 %, median Δ top 1 %, A-weighted Δ68, cross-section error
Point = tuple[int, float, float, float, float, float, float]
COLUMNS = {"all": 1, "top-1% |Δ|68": 3, "A-weighted Δ68": 5, "|cross-section error|": 6}


def measure(trainer: SurrogateTrainer, x: np.ndarray, a: np.ndarray, calls: int) -> Point:
    """Test-set figures of the trainer's current network."""
    m = evaluate_prediction(trainer.predict(x), a)
    d, w = m.delta_top1, m.event_weighted
    assert w is not None
    return (calls, m.precision, d.half_width_68, d.abs_68, d.median, w.half_width_68, w.cross_section_error)


def pick(
    strategy: str,
    trainer: SurrogateTrainer,
    candidates: np.ndarray,
    weights: np.ndarray,
    batch: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Indices of ``batch`` candidates: ``random``, or ``KIND[:FRACTION]`` (that fraction by score, rest uniform);
    ``weights`` ``(N,)`` are the candidates' phase-space weights (for the ``weighted`` score)."""
    name, _, fraction = strategy.partition(":")
    kind = name.partition("@")[0]
    if kind == "random":
        return select(np.zeros(len(candidates)), batch, rng, strategy="random")
    scores = score(trainer.predict(candidates, 20), kind, weights=weights)
    features = standardise(candidates[:, 2:].reshape(len(candidates), -1))
    explore = 1.0 - float(fraction or 1.0)
    return select(scores, batch, rng, strategy="greedy", features=features, min_distance=0.05, explore=explore)


def calls_to_stay(points: list[tuple[int, ...]], target: float, column: int) -> float | None:
    """Oracle calls from which a curve stays at or below ``target`` up to its last point (linear interpolation in log
    calls across its last crossing); None when its last point is above. Stricter than :func:`calls_to_reach` for a
    figure that scatters from round to round, such as a cross-section error."""
    if not points or points[-1][column] > target:
        return None
    above = [i for i, p in enumerate(points) if p[column] > target]
    if not above:
        return float(points[0][0])
    return calls_to_reach(points[above[-1] :], target, column)


def report(curves: dict[str, list[Point]]) -> None:
    """Print the curves, and the calls random sampling needs to reach (first crossing) and to stay at (from its last
    crossing on) each figure of every other strategy."""
    print(
        f"{'strategy':>14} {'calls':>7} {'Δ68 all':>9} {'Δ68 top1%':>10} {'|Δ|68 top1%':>12} {'median top1%':>13} "
        f"{'A-weighted Δ68':>15} {'xs error':>10}"
    )
    for name, curve in curves.items():
        for calls, all_, top, top_abs, med, w68, xs in curve:
            figures = f"{all_:>9.3g} {top:>10.3g} {top_abs:>12.3g} {med:>+13.2g} {w68:>15.3g} {xs:>+10.2g}"
            print(f"{name:>14} {calls:>7} {figures}")
    if "random" not in curves:
        return
    # the cross-section error is compared by its size
    absolute = {name: [(p[0], *p[1:6], abs(p[6])) for p in curve] for name, curve in curves.items()}
    for name, curve in absolute.items():
        if name == "random":
            continue
        for point in curve[1:]:
            for label, column in COLUMNS.items():
                texts = []
                for how, needed in (
                    ("reaches it at", calls_to_reach(absolute["random"], point[column], column)),
                    ("stays there from", calls_to_stay(absolute["random"], point[column], column)),
                ):
                    texts.append(f"{how} " + ("—" if needed is None else f"{needed:.0f} ({needed / point[0]:.2f}×)"))
                print(f"{name} at {point[0]} calls, {label} {point[column]:.3g}: random {'; '.join(texts)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--strategies",
        default="random,absolute,relative,absolute:0.5",
        help="comma list: random, absolute, relative, mixed, weighted, or KIND:FRACTION (that fraction by score, "
        "rest uniform); KIND@vegas draws the candidates from a vegas map adapted to the surrogate's <A>",
    )
    parser.add_argument("--initial", type=int, default=4000, help="round-0 training points (default 4000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds after the shared round 0 (default 3)")
    parser.add_argument("--epochs", type=int, default=150, help="warm-start epoch limit per round (default 150)")
    parser.add_argument(
        "--steps", type=int, default=0, help="warm-start optimiser steps per round instead of --epochs (the run: 10000)"
    )
    parser.add_argument("--test", type=int, default=10000, help="frozen test points (default 10000)")
    parser.add_argument("--batch", type=int, default=2000, help="points per round (default 2000)")
    parser.add_argument(
        "--random-extra",
        default="",
        help="further rounds of the random baseline as COUNTxSIZE, e.g. 6x4000 (default: none)",
    )
    parser.add_argument(
        "--surrogate", default="{}", help="JSON overrides of the run's surrogate config, e.g. '{\"batch_size\": 128}'"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--json", default=None, help="write the curves to this JSON file")
    parser.add_argument("--report", default=None, help="only print the comparison of the curves in this JSON file")
    args = parser.parse_args()
    if args.report:
        report(
            {
                name: [tuple(p) for p in curve]
                for name, curve in json.loads(Path(args.report).read_text())["curves"].items()
            }
        )
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    oracle = oracles.get("gg_yyg")
    sampler = PhaseSpaceSampler("gg_yyg", cuts=paper_cuts("gg_yyg"))
    surrogate = dataclasses.replace(_default_surrogate(), **json.loads(args.surrogate)).with_process("gg_yyg")

    def points(n: int, seed: int) -> np.ndarray:
        return weighted_points(n, seed)[0]

    def weighted_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        sample = sampler.sample(n, np.random.default_rng(seed), only_accepted=True)
        return sample.momenta, sample.weights

    def vegas_points(trainer: SurrogateTrainer, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        vegas = VegasSampler("gg_yyg", cuts=paper_cuts("gg_yyg"))
        vegas.adapt(lambda x: trainer.predict(x).mean, rng, nitn=5, neval=10_000)
        sample = vegas.sample(n, rng, only_accepted=True)
        return sample.momenta, sample.weights

    x0, xv, xt = points(args.initial, 1), points(1000, 2), points(args.test, 3)
    a0, av, at = oracle(x0), oracle(xv), oracle(xt)
    if args.steps:
        config = TrainerConfig(round_epochs=100_000, round_steps=args.steps)
    else:
        config = TrainerConfig(round_epochs=args.epochs)
    base = SurrogateTrainer(surrogate, None, config)
    start = time.perf_counter()
    base.train(np.arange(len(x0)).astype(str), x0, a0, xv, av)
    blob, _ = base.checkpoint()
    first = measure(base, xt, at, len(x0) + len(xv))
    logger.info("round 0: %s (%.0f s)", first, time.perf_counter() - start)
    curves: dict[str, list[Point]] = {}
    for strategy in args.strategies.split(","):
        trainer = SurrogateTrainer(surrogate, None, config)
        trainer.load(blob, {})
        x, a = x0.copy(), a0.copy()
        curve = [first]
        sizes = [args.batch] * args.rounds
        if strategy == "random" and args.random_extra:
            count, _, size = args.random_extra.partition("x")
            sizes += [int(size)] * int(count)
        for r, size in enumerate(sizes, start=1):
            if strategy.partition(":")[0].endswith("@vegas"):  # candidates from a map adapted to <A>
                candidates, weights = vegas_points(trainer, max(25 * size, 50_000), 100 + r)
            else:
                candidates, weights = weighted_points(max(25 * size, 50_000), 100 + r)
            picked = pick(strategy, trainer, candidates, weights, size, np.random.default_rng(r))
            x = np.concatenate([x, candidates[picked]])
            a = np.concatenate([a, oracle(candidates[picked])])
            trainer.train(np.arange(len(x)).astype(str), x, a, xv, av)
            curve.append(measure(trainer, xt, at, len(x) + len(xv)))
            logger.info("%s round %d: %s (%.0f s)", strategy, r, curve[-1], time.perf_counter() - start)
        curves[strategy] = curve
    report(curves)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "curves": curves}, indent=2))


if __name__ == "__main__":
    main()
