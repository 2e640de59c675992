"""Commands on data: build, sample, label, inspect, export and import shard stores; list the oracles."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from activeamp.cli.common import add_config_options, load_config

__all__ = ["add_parsers"]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register the commands of this module."""
    p = sub.add_parser("dataset", help="build a labelled data set (train/validation/test) without active learning")
    add_config_options(p)
    p.add_argument("--out", type=Path, required=True, help="output folder (store in OUT/store)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_dataset)

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


def oracle_options(pairs: Sequence[str]) -> dict[str, Any]:
    from activeamp.config import parse_override

    options: dict[str, Any] = {}
    for text in pairs:
        path, value = parse_override(text)
        options[".".join(path)] = value
    return options


def _add_phasespace(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--process", default=None, help="process: gg_yy, gg_yyg or gg_yygg (default: the store's, else gg_yyg)"
    )
    p.add_argument("--sqrt-s", type=float, default=1000.0, help="partonic centre-of-mass energy in GeV (default 1000)")
    p.add_argument("--cuts", default="paper", choices=["paper", "none"], help="phase-space cuts (default: the paper's)")
    p.add_argument("--seed", type=int, default=1234, help="run seed (default 1234)")


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
    oracle = OracleConfig(args.oracle, oracle_options(args.option)).build(store.process.name)
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
    from activeamp.data.imported import check_cuts
    from activeamp.data.interchange import import_hdf5, import_npy, read_hdf5, read_npy
    from activeamp.physics.process import get_process

    process = args.process
    outputs = None
    if not (args.store / "store.json").exists():  # check the file (points and cuts) before creating a store for it
        data = None
        if args.h5 is not None:
            data = read_hdf5(args.h5, process)  # a new store takes the file's process and outputs
            process, outputs = process or data.process, data.outputs
        elif process is not None:
            data = read_npy(args.npy[0], args.npy[1], process)
        if data is not None and not args.allow_outside_cuts:
            check_cuts(data, get_process(process), str(args.h5 or args.npy[0]), allow_outside_cuts=False)
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


def cmd_oracles(args: argparse.Namespace) -> int:
    import oracles

    for name in oracles.available():
        print(name)
    return 0


def cmd_dataset(args: argparse.Namespace) -> int:
    from activeamp.config import to_dict
    from activeamp.data.dataset import build_dataset

    config = load_config(args, "DatasetConfig")
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

