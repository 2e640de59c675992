"""Commands on surrogates: train one on a store, evaluate one on a store's splits."""

from __future__ import annotations

import argparse
from pathlib import Path

from activeamp.cli.common import add_config_options

__all__ = ["add_parsers"]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register the commands of this module."""
    p = sub.add_parser(
        "train",
        help="train a precision surrogate on the labelled points of a store",
        description="Train a precision surrogate on the labelled points of a store. A vector store (several signed "
        "outputs per point, e.g. VVAMP coefficients) trains one output per stored output and needs "
        "--set surrogate.target_transform=signed.",
    )
    p.add_argument("--store", type=Path, required=True, help="labelled store directory (scalar or vector labels)")
    p.add_argument(
        "--out", type=Path, required=True, help="output folder: model.pt, train_config.yaml, history.json, loss.png"
    )
    add_config_options(
        p,
        "YAML training config with sections surrogate and boosting (see README)",
        "--set surrogate.lr=1e-4 --set surrogate.max_epochs=300 --set n_train=9000",
    )
    p.add_argument(
        "--boost",
        choices=["none", "loss", "performance"],
        default=None,
        help="the paper's boosting schedule (4 loss rounds / 20 performance rounds); --set boosting.* refines it",
    )
    p.add_argument("--evaluate", action="store_true", help="then evaluate on the train and test splits into OUT/eval")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "evaluate",
        help="Δ table, metrics.json and figures of a trained surrogate on a store",
        description="Evaluate a trained surrogate on the labelled points of a store: Δ table, metrics.json, summary "
        "and figures. On a vector store every output is evaluated on its own "
        "(Δ_k = (A_NN,k - A_k)/(|A_k| + m_k), m_k the median |A_k|) and the figures are residuals.png, "
        "pulls_<output>.png and kin_<observable>_<output>.png.",
    )
    p.add_argument("--model", type=Path, required=True, help="checkpoint written by `activeamp train` (OUT/model.pt)")
    p.add_argument(
        "--store", type=Path, required=True, help="labelled store directory (same process and outputs as the model)"
    )
    p.add_argument("--out", type=Path, required=True, help="output folder: metrics.json, summary.txt, figures")
    p.add_argument(
        "--split",
        dest="splits",
        action="append",
        choices=["train", "validation", "test", "candidate"],
        help="split to evaluate (repeatable; default: train and test); figures for test if evaluated",
    )
    p.add_argument("-M", "--n-samples", type=int, default=50, help="weight samples per prediction (default 50)")
    p.add_argument("--max-points", type=int, default=None, help="evaluate at most this many points per split")
    p.add_argument("--seed", type=int, default=None, help="seed of the weight draws (default: the model's)")
    p.add_argument("--no-plots", action="store_true", help="metrics and summary only")
    p.set_defaults(func=cmd_evaluate)


_PAPER_BOOSTING = {
    "none": "boosting=null",
    "loss": "boosting.steps=[loss*4]",
    "performance": "boosting.steps=[performance*20]",
}

def cmd_train(args: argparse.Namespace) -> int:
    from activeamp.data.store import ShardStore
    from activeamp.surrogate.train_config import load_train_config

    overrides = ([_PAPER_BOOSTING[args.boost]] if args.boost else []) + list(args.overrides)
    config = load_train_config(args.config, overrides)
    ShardStore.open(args.store)  # a missing or broken store is reported before torch is imported

    from activeamp.surrogate.evaluation import evaluate_model, format_delta_table
    from activeamp.surrogate.training import train_from_store

    result = train_from_store(args.store, config, args.out, progress=not args.no_progress)
    rounds = f", {len(result.boosting)} boosting rounds" if result.boosting else ""
    print(
        f"trained on {result.n_train} points ({result.n_validation} validation) in {result.seconds:.1f} s, "
        f"{result.epochs} epochs{rounds}: {result.model_path}"
    )
    if args.evaluate:
        metrics = evaluate_model(result.surrogate, args.store, args.out / "eval", splits=("train", config.test_split))
        print(format_delta_table(metrics) + f"\nreport: {args.out / 'eval'}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from activeamp.data.store import ShardStore

    if not args.model.is_file():  # reported before torch is imported
        raise FileNotFoundError(f"{args.model}: no such checkpoint")
    ShardStore.open(args.store)

    from activeamp.surrogate.evaluation import evaluate_model, format_delta_table

    metrics = evaluate_model(
        args.model,
        args.store,
        args.out,
        splits=args.splits or ("train", "test"),
        n_samples=args.n_samples,
        max_points=args.max_points,
        seed=args.seed,
        plots=not args.no_plots,
    )
    print(format_delta_table(metrics) + f"\nreport: {args.out}")
    return 0
