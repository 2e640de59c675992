"""Entry script of the Ray Tune search: ``python tune/search.py --config tune/search.yaml [--set K=V] [--resume]``.

Self-contained (imports only the installed ``activeamp`` package), so ``ray submit cluster/cluster.yaml
tune/search.py -- --config '~/activeamp/tune/search.yaml'`` can run a copy of it on the head node.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Arguments of the script (the same as ``activeamp tune``)."""
    parser = argparse.ArgumentParser(
        prog="search.py",
        description="Ray Tune hyperparameter search of the surrogate (BNN prior width, layers, learning rate, "
        "batch size, network family) with ASHA early stopping. Results, TensorBoard events, best_run.yaml, "
        "best_model.pt and trials.csv go to <storage_path>/<name>/.",
    )
    parser.add_argument("--config", default=None, help="search YAML (e.g. tune/search.yaml; '~' is expanded)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a key, e.g. --set num_samples=32 --set 'space.lr={loguniform: [1e-4, 1e-2]}'",
    )
    parser.add_argument("--resume", action="store_true", help="continue the interrupted search of the same name")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: RAY_ADDRESS, else local)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the search; exit status 0 when done, 2 for configuration errors, 130 when interrupted."""
    args = build_parser().parse_args(argv)
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")

    from activeamp.config import ConfigError
    from activeamp.data.store import StoreError
    from activeamp.loop.tuning import ENTRY_ENVIRONMENT, TuningError, load_search_config, run_search

    for key, value in ENTRY_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    try:
        config = load_search_config(args.config, args.overrides)
        if args.address:
            config = dataclasses.replace(config, address=args.address)
        outcome = run_search(config, resume=args.resume)
    except (ConfigError, StoreError, TuningError, OSError) as err:
        print(f"search.py: error: {err}", file=sys.stderr)
        return 2
    print(outcome.table)
    if not outcome.complete:
        print(f"search interrupted; continue it with: --resume (results so far in {outcome.experiment_path})")
        return 130
    print(f"best trial {outcome.best.trial_id}: {config.metric} = {outcome.best.objective:.4g}")
    print(f"best run config: {outcome.best_run}")
    print(f"best model:      {outcome.best_model}")
    print(f"trial table:     {outcome.trials_csv}")
    print(f"TensorBoard:     tensorboard --logdir {outcome.experiment_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
