"""Commands that use Ray: the active-learning run (the main job) and the Tune search."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from activeamp.cli.common import add_config_options, load_config

__all__ = ["add_parsers"]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register the commands of this module."""
    p = sub.add_parser(
        "run",
        help="the main job: an active-learning run on a Ray cluster (a local one is started if none is given)",
        description="Active learning: label an initial set, train the Bayesian surrogate, then in each round "
        "score a candidate pool by sigma_tot, label the least certain points with the oracle pool, retrain and "
        "evaluate on a frozen test set. Writes a run folder (store, checkpoints, metrics per round, plots, summary).",
    )
    add_config_options(p)
    p.add_argument("--out", type=Path, default=None, help="run folder (default runs/run-<date>-<time>)")
    p.add_argument("--resume", type=Path, default=None, metavar="DIR", help="continue the run in DIR after a kill")
    p.add_argument("--address", default=None, help="Ray cluster address (default: RAY_ADDRESS, else start locally)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "tune",
        help="Ray Tune search of the surrogate's hyperparameters (ASHA early stopping); exports a run config",
        description="Search the surrogate's hyperparameters (BNN prior width, hidden layers and their widths, learning "
        "rate, batch size, network family) with Ray Tune and ASHA early stopping, on the frozen train/validation split "
        "of a store. Writes <storage_path>/<name>/: Tune logs and TensorBoard events per trial, best_run.yaml (a run "
        "config for `activeamp run` and `activeamp train`), best_model.pt, trials.csv. See tune/README.md.",
    )
    add_config_options(p)
    p.add_argument("--resume", action="store_true", help="continue the interrupted search of the same name")
    p.add_argument("--address", default=None, help="Ray cluster address (default: RAY_ADDRESS, else start locally)")
    p.set_defaults(func=cmd_tune)


def cmd_run(args: argparse.Namespace) -> int:
    # the configuration is read and checked before Ray and torch are imported: mistakes are reported at once
    from activeamp.loop.settings import resume_config

    if args.resume is not None:
        if args.config is not None:
            raise ValueError("--resume continues a run with its own config.yaml; use --set to change the budget")
        mode = resume_config(args.resume, args.overrides).loop.mode
        config = None
    else:
        config = load_config(args, "ActiveConfig")
        mode = config.loop.mode
        if args.address:
            config = dataclasses.replace(config, address=args.address)
        out = args.out or Path("runs") / time.strftime("run-%Y%m%d-%H%M%S")
        if (out / "state.json").exists():
            raise ValueError(f"{out}: holds a run already; continue it with --resume {out}")

    from activeamp.loop.active import ActiveLearner, RoundStatus
    from activeamp.loop.asynchronous import AsyncLearner

    def report(status: RoundStatus) -> None:
        print(
            f"round {status.round}: {status.oracle_calls} oracle calls, {status.n_train} training points, "
            f"test {'Δ' if status.metrics.outputs is None else 'residual (worst output)'} 68% half-width "
            f"{status.precision:.4g} (top 1%: |Δ| 68% quantile {status.accuracy_top1:.4g}, "
            f"median Δ {status.median_top1:+.2g}), "
            f"{status.wall_seconds:.0f} s",
            flush=True,
        )

    learner_cls = AsyncLearner if mode == "async" else ActiveLearner
    if config is None:
        learner = learner_cls.resume(
            args.resume, callback=report, progress=not args.no_progress, overrides=args.overrides
        )
    else:
        learner = learner_cls(config, out, callback=report, progress=not args.no_progress)
    learner.run()
    print((learner.run_dir / "summary.txt").read_text(), end="")
    print(f"run folder: {learner.run_dir}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    import os

    from activeamp.loop.tuning import ENTRY_ENVIRONMENT, TuningError, load_search_config, run_search

    for key, value in ENTRY_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    if args.config is None:
        raise ValueError("--config: a search definition is required, e.g. --config tune/search.yaml")
    config = load_search_config(args.config, args.overrides)
    if args.address:
        config = dataclasses.replace(config, address=args.address)
    try:
        outcome = run_search(config, resume=args.resume)
    except TuningError as err:
        raise ValueError(str(err)) from None  # reported as one line, exit status 2
    print(outcome.table)
    if not outcome.complete:
        print(f"search interrupted; continue it with --resume (results so far in {outcome.experiment_path})")
        return 130
    print(f"best trial {outcome.best.trial_id}: {config.metric} = {outcome.best.objective:.4g}")
    print(f"best run config: {outcome.best_run}   (activeamp run --config {outcome.best_run})")
    print(f"best model:      {outcome.best_model}")
    print(f"trial table:     {outcome.trials_csv}")
    print(f"TensorBoard:     tensorboard --logdir {outcome.experiment_path}")
    return 0

