"""Ablation without Ray: acquisition strategies in a serial loop (same surrogate, candidates and oracle as the run)."""

from __future__ import annotations

import argparse
import logging

import numpy as np
import torch

import oracles
from activeamp.acquisition import score, select, standardise
from activeamp.active import _default_surrogate
from activeamp.cuts import paper_cuts
from activeamp.metrics import evaluate_prediction
from activeamp.phasespace import PhaseSpaceSampler
from activeamp.trainer import SurrogateTrainer, TrainerConfig

logger = logging.getLogger("bench_acquisition")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--strategies",
        default="random,absolute,relative,absolute:0.5",
        help="comma list: random, absolute, relative, mixed, or KIND:FRACTION (that fraction by score, rest uniform)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds after the shared round 0 (default 3)")
    parser.add_argument("--epochs", type=int, default=150, help="warm-start epochs per round (default 150)")
    parser.add_argument("--batch", type=int, default=2000, help="points per round (default 2000)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    oracle = oracles.get("gg_yyg")
    sampler = PhaseSpaceSampler("gg_yyg", cuts=paper_cuts("gg_yyg"))

    def points(n: int, seed: int) -> np.ndarray:
        return sampler.sample(n, np.random.default_rng(seed), only_accepted=True).momenta

    x0, xv, xt = points(4000, 1), points(1000, 2), points(10000, 3)
    a0, av, at = oracle(x0), oracle(xv), oracle(xt)
    config = TrainerConfig(round_epochs=args.epochs)
    base = SurrogateTrainer(_default_surrogate(), None, config)
    base.train(np.arange(len(x0)).astype(str), x0, a0, xv, av)
    blob, _ = base.checkpoint()
    m = evaluate_prediction(base.predict(xt), at)
    print(f"round 0 (4000 points): Δ68 all {m.precision:.4f}, top 1% {m.delta_top1.half_width_68:.4f}")
    for strategy in args.strategies.split(","):
        trainer = SurrogateTrainer(_default_surrogate(), None, config)
        trainer.load(blob, {})
        x, a = x0.copy(), a0.copy()
        for r in range(1, args.rounds + 1):
            candidates = points(25 * args.batch, 100 + r)
            rng = np.random.default_rng(r)
            kind, _, fraction = strategy.partition(":")
            k = 0 if kind == "random" else int(args.batch * float(fraction or 1.0))
            picked = np.empty(0, dtype=np.int64)
            if k:
                scores = score(trainer.predict(candidates, 20), kind)
                features = standardise(candidates[:, 2:].reshape(len(candidates), -1))
                picked = select(scores, k, rng, strategy="greedy", features=features, min_distance=0.05)
            rest = np.setdiff1d(np.arange(len(candidates)), picked)
            picked = np.concatenate([picked, rng.choice(rest, args.batch - k, replace=False)])
            x = np.concatenate([x, candidates[picked]])
            a = np.concatenate([a, oracle(candidates[picked])])
            trainer.train(np.arange(len(x)).astype(str), x, a, xv, av)
            m = evaluate_prediction(trainer.predict(xt), at)
            top1 = m.delta_top1.half_width_68
            print(f"{strategy:>14} {len(x):>6} points: Δ68 all {m.precision:.4f}, top 1% {top1:.4f}")


if __name__ == "__main__":
    main()
