"""The ``activeamp`` command: sample, label, inspect, import/export and run."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from activeamp import __version__

__all__ = ["main", "build_parser"]

logger = logging.getLogger("activeamp")


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that are user mistakes (bad input, files, names): reported as one line, exit status 2.

    The project's own error classes count only from modules already imported (one that was not imported
    cannot have raised), so reporting a mistake never waits for Ray or torch to load.
    """
    errors: list[type[BaseException]] = [ValueError, KeyError, OSError]
    for module, name in _PROJECT_ERRORS:
        loaded = sys.modules.get(module)
        if loaded is not None:
            errors.append(getattr(loaded, name))
    return tuple(errors)


#: Error classes of the project that are user mistakes, by module.
_PROJECT_ERRORS: tuple[tuple[str, str], ...] = (
    ("activeamp.data.store.errors", "StoreError"),
    ("activeamp.loop.cluster", "ClusterError"),
    ("activeamp.loop.pool", "PoolError"),
    ("oracles.base", "OracleError"),
)


def _oracle_options(pairs: Sequence[str]) -> dict[str, Any]:
    from activeamp.config import parse_override

    options: dict[str, Any] = {}
    for text in pairs:
        path, value = parse_override(text)
        options[".".join(path)] = value
    return options


def _add_dataset_overrides(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="YAML file with the configuration (see README)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a configuration key, e.g. --set n_train=20000 --set oracle.options.latency=0.005",
    )


def _add_phasespace(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--process", default=None, help="process: gg_yy, gg_yyg or gg_yygg (default: the store's, else gg_yyg)"
    )
    p.add_argument("--sqrt-s", type=float, default=1000.0, help="partonic centre-of-mass energy in GeV (default 1000)")
    p.add_argument("--cuts", default="paper", choices=["paper", "none"], help="phase-space cuts (default: the paper's)")
    p.add_argument("--seed", type=int, default=1234, help="run seed (default 1234)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``activeamp`` command."""
    parser = argparse.ArgumentParser(
        prog="activeamp",
        description="Active learning of precision surrogates for loop amplitudes. "
        "Momenta in GeV; squared matrix elements in GeV^(8-2n) for n particles.",
    )
    parser.add_argument("--version", action="version", version=f"activeamp {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("--traceback", action="store_true", help="show full tracebacks for errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "run",
        help="the main job: an active-learning run on a Ray cluster (a local one is started if none is given)",
        description="Active learning: label an initial set, train the Bayesian surrogate, then in each round "
        "score a candidate pool by sigma_tot, label the least certain points with the oracle pool, retrain and "
        "evaluate on a frozen test set. Writes a run folder (store, checkpoints, metrics per round, plots, summary).",
    )
    _add_dataset_overrides(p)
    p.add_argument("--out", type=Path, default=None, help="run folder (default runs/run-<date>-<time>)")
    p.add_argument("--resume", type=Path, default=None, metavar="DIR", help="continue the run in DIR after a kill")
    p.add_argument("--address", default=None, help="Ray cluster address (default: RAY_ADDRESS, else start locally)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("dataset", help="build a labelled data set (train/validation/test) without active learning")
    _add_dataset_overrides(p)
    p.add_argument("--out", type=Path, required=True, help="output folder (store in OUT/store)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_dataset)

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
    p.add_argument("--config", type=Path, help="YAML training config with sections surrogate and boosting (see README)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set surrogate.lr=1e-4 --set surrogate.max_epochs=300 --set n_train=9000",
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

    p = sub.add_parser(
        "tune",
        help="Ray Tune search of the surrogate's hyperparameters (ASHA early stopping); exports a run config",
        description="Search the surrogate's hyperparameters (BNN prior width, hidden layers and their widths, learning "
        "rate, batch size, network family) with Ray Tune and ASHA early stopping, on the frozen train/validation split "
        "of a store. Writes <storage_path>/<name>/: Tune logs and TensorBoard events per trial, best_run.yaml (a run "
        "config for `activeamp run` and `activeamp train`), best_model.pt, trials.csv. See tune/README.md.",
    )
    _add_dataset_overrides(p)
    p.add_argument("--resume", action="store_true", help="continue the interrupted search of the same name")
    p.add_argument("--address", default=None, help="Ray cluster address (default: RAY_ADDRESS, else start locally)")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("sample", help="sample phase-space points inside the cuts into a store (unlabelled)")
    p.add_argument("--store", type=Path, required=True, help="store directory (created if missing)")
    p.add_argument("-n", "--n-points", type=int, required=True, help="number of accepted points")
    p.add_argument(
        "--split", default="train", choices=["train", "validation", "test", "candidate"], help="split (default train)"
    )
    p.add_argument("--round", type=int, default=0, help="active-learning round recorded with the points (default 0)")
    _add_phasespace(p)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("label", help="evaluate an oracle on the unlabelled points of a store")
    p.add_argument("--store", type=Path, required=True, help="store directory")
    p.add_argument(
        "--oracle",
        default="exact",
        help="oracle name (default exact: the built-in one-loop oracle of the process; `activeamp oracles` lists all)",
    )
    p.add_argument(
        "-o", "--option", action="append", default=[], metavar="KEY=VALUE", help="oracle option, e.g. -o latency=0.005"
    )
    p.add_argument("--split", default=None, help="only this split (default all)")
    p.add_argument("--batch-size", type=int, default=1000, help="points per oracle call and per shard (default 1000)")
    p.add_argument("--retry-failed", action="store_true", help="also re-evaluate points that failed before")
    p.add_argument("--limit", type=int, default=None, help="label at most this many points")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_label)

    p = sub.add_parser(
        "info", help="summary of a store: counts by split and status, amplitude range (vector store: per output)"
    )
    p.add_argument("--store", type=Path, required=True, help="store directory")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable shards with a warning instead of failing")
    p.add_argument("--validate", action="store_true", help="also check every shard and report duplicates")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "export",
        help="export points of a store to HDF5 (/momenta (N,n,4), /amplitude (N,); vector store: /values (N,K))",
        description="Export points of a store to HDF5: /momenta (N,n,4) in GeV and /amplitude (N,); a vector store "
        "writes /values (N,K) instead of /amplitude, with the attribute 'outputs' naming the K columns.",
    )
    p.add_argument("--store", type=Path, required=True, help="store directory")
    p.add_argument("--out", type=Path, required=True, help="output .h5 file")
    p.add_argument("--split", default=None, help="only this split (default all)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "import",
        help="import labelled points from HDF5 or a .npy momenta/amplitude pair (vector labels: /values)",
        description="Import labelled points from HDF5 (/momenta and /amplitude, or for vector labels /values (N,K) "
        "with the attribute 'outputs') or from a .npy pair. A new store is created for the file's process, as a "
        "vector store when the file holds /values; a vector store takes /values whose 'outputs' match its own, or "
        "as .npy pair a values file (N,K) with columns in the store's output order. The momenta must be physical "
        "points of the process (finite, positive energies, momentum conserved, massless particles on-shell) inside "
        "its default cuts (the paper's for gg_yy, gg_yyg, gg_yygg; none for the VV processes); the error names the "
        "file, dataset and rows.",
    )
    p.add_argument("--store", type=Path, required=True, help="store directory (created if missing, needs --process)")
    p.add_argument("--process", default=None, help="process of a new store (default: the file's)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--h5", type=Path, help="HDF5 file with /momenta and /amplitude (vector labels: /values)")
    src.add_argument(
        "--npy",
        type=Path,
        nargs=2,
        metavar=("MOMENTA", "AMPLITUDE"),
        help="momenta (N,n,4) and amplitude (N,) files (vector store: values (N,K))",
    )
    p.add_argument(
        "--split", default="train", choices=["train", "validation", "test", "candidate"], help="split (default train)"
    )
    p.add_argument("--skip-existing", action="store_true", help="add only points not yet labelled in the store")
    p.add_argument(
        "--allow-outside-cuts",
        action="store_true",
        help="import points outside the process's default cuts (those of 'activeamp run') with a warning, "
        "instead of refusing the file",
    )
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("oracles", help="list the available oracles")
    p.set_defaults(func=cmd_oracles)
    return parser


# ------------------------------------------------------------------------------------------------ commands


def _open_or_create(path: Path, process: str | None, outputs: Sequence[str] | None = None) -> Any:
    """The store at ``path``, or a new one of ``process`` (a vector store with ``outputs``)."""
    from activeamp.data.store import ShardStore

    if (path / "store.json").exists():
        store = ShardStore.open(path)
        if process is not None and process != store.process.name:
            raise ValueError(f"{path}: store holds {store.process.name}, not {process}")
        return store
    if process is None:
        raise ValueError(f"{path}: no store here yet; pass --process to create one")
    return ShardStore.create(path, process, outputs=None if outputs is None else list(outputs))


def cmd_sample(args: argparse.Namespace) -> int:
    from activeamp.data.dataset import PhaseSpaceConfig, sample_into_store

    store = _open_or_create(
        args.store, args.process or ("gg_yyg" if not (args.store / "store.json").exists() else None)
    )
    if args.n_points < 1:
        raise ValueError(f"--n-points: must be >= 1, got {args.n_points}")
    ps = PhaseSpaceConfig(process=store.process.name, sqrt_s=args.sqrt_s, cuts=args.cuts)
    ids = sample_into_store(
        store, ps.build_sampler(None, None), args.n_points, seed=args.seed, split=args.split, round=args.round
    )
    print(f"sampled {len(ids)} {args.split} points of {store.process.description} into {store.path}")
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    from activeamp.data.dataset import OracleConfig
    from activeamp.data.labelling import label_store
    from activeamp.data.store import ShardStore

    store = ShardStore.open(args.store)
    oracle = OracleConfig(args.oracle, _oracle_options(args.option)).build(store.process.name)
    report = label_store(
        store,
        oracle,
        split=args.split,
        batch_size=args.batch_size,
        retry_failed=args.retry_failed,
        limit=args.limit,
        progress=not args.no_progress,
    )
    print(
        f"labelled {report.n_points} points with {oracle.name}: {report.n_ok} ok, {report.n_failed} failed "
        f"({report.points_per_second:.0f} points/s)"
    )
    return 0


def _format_summary(summary: Any) -> str:
    lines = [f"store: {summary.process}, {summary.n_points} points in {summary.n_shards} shards"]
    for split, by_status in sorted(summary.counts.items()):
        counts = ", ".join(f"{status} {n}" for status, n in sorted(by_status.items()))
        lines.append(f"  {split:<11} {counts}")
    if summary.outputs is not None:
        lines.append(f"  outputs: {len(summary.outputs)} per point ({', '.join(summary.outputs)})")
        if summary.values_min is not None and summary.values_max is not None:
            width = max(len(name) for name in summary.outputs)
            for name, low, high in zip(summary.outputs, summary.values_min, summary.values_max, strict=True):
                lines.append(f"  {name:<{width}} (ok points): min {low:.4g}, max {high:.4g}")
    if summary.amplitude_min is not None:
        lines.append(
            f"  amplitude (ok points): min {summary.amplitude_min:.4g}, median {summary.amplitude_median:.4g}, "
            f"max {summary.amplitude_max:.4g}"
        )
    if summary.n_duplicates:
        lines.append(f"  WARNING: {summary.n_duplicates} point ids have more than one ok label")
    for name in summary.bad_shards:
        lines.append(f"  skipped unreadable shard {name}")
    return "\n".join(lines)


def cmd_info(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from activeamp.data.store import ShardStore

    store = ShardStore.open(args.store, on_bad_shard="skip" if args.skip_bad else "raise")
    summary = store.summary()
    if args.json:
        print(json.dumps(asdict(summary), indent=2))
    else:
        print(_format_summary(summary))
    if args.validate:
        report = store.validate()
        print(report.message())
        return 0 if report.ok else 1
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from activeamp.data.interchange import export_hdf5
    from activeamp.data.store import ShardStore

    n = export_hdf5(ShardStore.open(args.store), args.out, split=args.split)
    print(f"exported {n} points to {args.out}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from activeamp.data.interchange import import_hdf5, import_npy, read_hdf5, read_npy

    process = args.process
    outputs = None
    if not (args.store / "store.json").exists():  # check the file before creating a store for it
        if args.h5 is not None:
            data = read_hdf5(args.h5, process)  # a new store takes the file's process and outputs
            process, outputs = process or data.process, data.outputs
        elif process is not None:
            read_npy(args.npy[0], args.npy[1], process)
    store = _open_or_create(args.store, process, outputs)
    if args.h5 is not None:
        n = import_hdf5(
            store,
            args.h5,
            split=args.split,
            skip_existing=args.skip_existing,
            allow_outside_cuts=args.allow_outside_cuts,
        )
    else:
        n = import_npy(
            store,
            args.npy[0],
            args.npy[1],
            split=args.split,
            skip_existing=args.skip_existing,
            allow_outside_cuts=args.allow_outside_cuts,
        )
    print(f"imported {n} points into {store.path}")
    return 0


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


def cmd_oracles(args: argparse.Namespace) -> int:
    import oracles

    for name in oracles.available():
        print(name)
    return 0


def _load_config(args: argparse.Namespace, kind: str) -> Any:
    """The ``--config`` YAML (or the defaults) with ``--set`` overrides, as an ActiveConfig or DatasetConfig."""
    from activeamp.config import load_config
    from activeamp.data.dataset import DatasetConfig
    from activeamp.loop.settings import ActiveConfig

    cls = {"ActiveConfig": ActiveConfig, "DatasetConfig": DatasetConfig}[kind]
    return load_config(cls, args.config, args.overrides)


def cmd_dataset(args: argparse.Namespace) -> int:
    from activeamp.config import to_dict
    from activeamp.data.dataset import build_dataset

    config = _load_config(args, "DatasetConfig")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
    store, report = build_dataset(config, out / "store", progress=not args.no_progress)
    text = _format_summary(store.summary()) + (
        f"\noracle {_report_oracle(store)}: {report.n_points} points labelled in {report.seconds:.1f} s "
        f"({report.points_per_second:.0f} points/s)\n"
    )
    (out / "summary.txt").write_text(text)
    print(text + f"data set folder: {out}")
    return 0


def _report_oracle(store: Any) -> str:
    """Name(s) of the oracles that labelled the store's points."""
    table = store.read(status="ok", columns=["oracle"], on_duplicate="ignore")
    return ", ".join(sorted(set(table["oracle"].to_pylist()))) or "none"


def cmd_run(args: argparse.Namespace) -> int:
    # the configuration is read and checked before Ray and torch are imported: mistakes are reported at once
    from activeamp.loop.settings import resume_config

    if args.resume is not None:
        if args.config is not None:
            raise ValueError("--resume continues a run with its own config.yaml; use --set to change the budget")
        resume_config(args.resume, args.overrides)
        config = None
    else:
        config = _load_config(args, "ActiveConfig")
        if args.address:
            config = dataclasses.replace(config, address=args.address)
        out = args.out or Path("runs") / time.strftime("run-%Y%m%d-%H%M%S")
        if (out / "state.json").exists():
            raise ValueError(f"{out}: holds a run already; continue it with --resume {out}")

    from activeamp.loop.active import ActiveLearner, RoundStatus

    def report(status: RoundStatus) -> None:
        print(
            f"round {status.round}: {status.oracle_calls} oracle calls, {status.n_train} training points, "
            f"test {'Δ' if status.metrics.outputs is None else 'residual (worst output)'} 68% half-width "
            f"{status.precision:.4g} (top 1%: |Δ| 68% quantile {status.accuracy_top1:.4g}, "
            f"median Δ {status.median_top1:+.2g}), "
            f"{status.wall_seconds:.0f} s",
            flush=True,
        )

    if config is None:
        learner = ActiveLearner.resume(
            args.resume, callback=report, progress=not args.no_progress, overrides=args.overrides
        )
    else:
        learner = ActiveLearner(config, out, callback=report, progress=not args.no_progress)
    learner.run()
    print((learner.run_dir / "summary.txt").read_text(), end="")
    print(f"run folder: {learner.run_dir}")
    return 0


# --------------------------------------------------------------------------------------------------- entry


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``activeamp`` command; returns the exit status (2 for user errors, one line on stderr)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except _user_errors() as err:
        if args.traceback:
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"activeamp {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"activeamp {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
