"""Commands that deploy a trained surrogate: predict files of points, export it (torch.export, ONNX, AOTInductor) and
generate events with it."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["FORMATS", "add_parsers", "parse_formats"]

#: Formats of ``export-model`` (as :data:`activeamp.deploy.export.FORMATS`, without importing torch for the parser).
FORMATS: tuple[str, ...] = ("pt2", "onnx", "aoti")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register the commands of this module."""
    p = sub.add_parser(
        "predict",
        help="predictions of a trained surrogate for a file of points (HDF5, .npy or a store split)",
        description="Stream the points through the surrogate in chunks and write mean, sigma_model, sigma_pred and "
        "sigma_tot per point to an HDF5 file (units of the oracle, e.g. GeV^-2 for gg_yyg).",
    )
    p.add_argument("--model", type=Path, required=True, help="checkpoint (model.pt of activeamp train or run)")
    p.add_argument("--h5", type=Path, default=None, help="HDF5 file with a /momenta dataset (N, n, 4) in GeV")
    p.add_argument("--npy", type=Path, default=None, help=".npy array of momenta (N, n, 4) in GeV")
    p.add_argument("--store", type=Path, default=None, help="a shard store (see --split)")
    p.add_argument("--split", default="test", help="the store's split to predict (default test)")
    p.add_argument("--out", type=Path, required=True, help="HDF5 file to write (replaced atomically)")
    p.add_argument("--chunk", type=int, default=100_000, help="points per chunk (default 100000)")
    p.add_argument("--n-samples", type=int, default=None, help="weight samples for sigma_pred (default: the model's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "export-model",
        help="export a trained surrogate as a torch.export program, ONNX or an AOTInductor package for C++",
        description="Write self-contained artefacts of a trained surrogate (the default family): momenta (N, n, 4) "
        "float64 [GeV, (E, px, py, pz), incoming first] in, mean and sigma_tot (N,) float64 out, in the units of the "
        "process (e.g. GeV^-2 for gg_yyg), with all preprocessing inside. OUT/surrogate.pt2 (torch.export.load), "
        "OUT/surrogate.onnx (onnxruntime), OUT/surrogate_aoti.pt2 (C++: torch::inductor::AOTIModelPackageLoader; "
        "compiles C++ for half a minute; runs on CPUs with this machine's instruction set) and OUT/export.json "
        "(process, input and outputs, units, versions, sha256 of the model). Each artefact is checked against the "
        "surrogate on phase-space points of its process.",
    )
    p.add_argument("--model", type=Path, required=True, help="checkpoint (model.pt of activeamp train or run)")
    p.add_argument("--out", type=Path, required=True, help="output folder (created)")
    p.add_argument(
        "--format",
        dest="formats",
        action="append",
        metavar="FORMAT[,FORMAT]",
        help=f"artefact format, repeatable or comma-separated: {', '.join(FORMATS)} (default: pt2 and onnx)",
    )
    p.add_argument("--check", type=int, default=300, help="points of the check against the surrogate (default 300)")
    p.add_argument("--seed", type=int, default=0, help="seed of the check points (default 0)")
    p.set_defaults(func=cmd_export_model)

    p = sub.add_parser(
        "generate",
        help="unweighted events by two-stage unweighting: the surrogate first, the oracle only on its events",
        description="Unweighted events of the model's process at fixed sqrt(s): phase-space points are unweighted "
        "with the surrogate's weight, then each kept point with the ratio of the oracle's to the surrogate's "
        "amplitude, so the events follow the oracle exactly (overweights carry weights > 1). With --direct N, N "
        "events are also made by direct unweighting with the oracle, for the cost comparison and a closure test "
        "(pT, eta, Delta R histograms with chi2/ndf). Writes OUT/events.arrow (or .h5), OUT/events.lhe with --lhe, "
        "OUT/direct_events.*, OUT/closure.png and OUT/generate.json (oracle calls per event, efficiencies, "
        "overweights, cross sections in pb).",
    )
    p.add_argument("--model", type=Path, required=True, help="checkpoint (model.pt of activeamp train or run)")
    p.add_argument("--events", type=int, required=True, help="unweighted events to generate")
    p.add_argument("--out", type=Path, required=True, help="output folder (created)")
    p.add_argument("--oracle", default="exact", help="oracle name (default exact: the built-in one of the process)")
    p.add_argument(
        "-o", "--option", action="append", default=[], metavar="KEY=VALUE", help="oracle option, e.g. -o latency=0.005"
    )
    p.add_argument("--direct", type=int, default=0, help="events of direct unweighting with the oracle (default 0)")
    p.add_argument("--format", dest="event_format", choices=["arrow", "hdf5"], default="arrow", help="event files")
    p.add_argument("--lhe", action="store_true", help="also write OUT/events.lhe (Les Houches 3.0)")
    p.add_argument("--sqrt-s", type=float, default=1000.0, help="partonic centre-of-mass energy in GeV (default 1000)")
    p.add_argument("--cuts", default="paper", choices=["paper", "none"], help="phase-space cuts (default: the paper's)")
    p.add_argument("--pilot", type=int, default=100_000, help="pilot points setting the maximum weight (default 1e5)")
    p.add_argument("--max-quantile", type=float, default=1.0, help="quantile of the pilot weights used as maximum")
    p.add_argument("--ratio-pilot", type=int, default=1000, help="oracle calls setting the maximum ratio")
    p.add_argument("--batch-size", type=int, default=100_000, help="phase-space points per batch (default 1e5)")
    p.add_argument("--seed", type=int, default=1234, help="seed (default 1234)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_generate)


def parse_formats(values: list[str] | None) -> tuple[str, ...]:
    """The formats of ``--format`` options (each one or several, comma-separated), in order, without repeats.

    None (no option): pt2 and onnx. An unknown name raises ValueError naming it and the known ones.
    """
    if not values:
        return ("pt2", "onnx")
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise ValueError(f"--format: {', '.join(unknown) or 'empty'} is not one of {', '.join(FORMATS)}")
    return tuple(dict.fromkeys(names))


def cmd_export_model(args: argparse.Namespace) -> int:
    formats = parse_formats(args.formats)
    if not args.model.is_file():  # reported before torch is imported
        raise FileNotFoundError(f"{args.model}: no such checkpoint")
    if args.check < 0:
        raise ValueError(f"--check: must be >= 0, got {args.check}")
    from activeamp.deploy.export import export_model

    report = export_model(args.model, args.out, formats, n_check=args.check, seed=args.seed)
    for fmt, path in report.artefacts.items():
        check = report.max_rel_diff.get(fmt)
        note = "" if check is None else f" (max relative difference {check:.2g} on {report.n_checked} points)"
        print(f"{fmt}: {path}{note}")
    print(f"metadata: {report.sidecar}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    if not args.model.is_file():  # reported before torch is imported
        raise FileNotFoundError(f"{args.model}: no such checkpoint")
    from activeamp.cli.data import oracle_options
    from activeamp.deploy.generate import GenerateSettings
    from activeamp.deploy.generate_run import GenerateJob, run_generate

    if args.direct < 0:
        raise ValueError(f"--direct: must be >= 0, got {args.direct}")
    settings = GenerateSettings(
        n_events=args.events,
        batch_size=args.batch_size,
        pilot=args.pilot,
        max_quantile=args.max_quantile,
        ratio_pilot=args.ratio_pilot,
        seed=args.seed,
    )
    job = GenerateJob(
        args.model, args.out, settings, oracle=args.oracle, oracle_options=oracle_options(args.option),
        sqrt_s=args.sqrt_s, cuts=args.cuts, direct=args.direct, event_format=args.event_format, lhe=args.lhe,
    )
    report = run_generate(job, progress=not args.no_progress)
    two = report["two_stage"]
    print(
        f"{two['n_events']} events in {two['seconds']:.1f} s: {two['calls_per_event']:.3g} oracle calls per event "
        f"({two['calls_per_event_after_pilot']:.3g} after the pilot), {two['overweight_fraction']:.2%} overweights, "
        f"sigma = {two['cross_section_pb']:.5g} +- {two['cross_section_error_pb']:.2g} pb"
    )
    if "direct" in report:
        d = report["direct"]
        print(
            f"direct: {d['calls_per_event']:.4g} oracle calls per event ({d['calls_per_event_after_pilot']:.4g} after "
            f"the pilot): {report['gain']:.3g}x more ({report['gain_after_pilot']:.3g}x after the pilots); "
            f"sigma ratio - 1 = {report['cross_section_ratio_minus_1']:+.2g} "
            f"+- {report['cross_section_ratio_error']:.2g}; "
            f"closure chi2/ndf = {report['closure']['chi2']:.1f}/{report['closure']['ndf']}"
        )
    print(f"wrote {args.out}/generate.json")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    if not args.model.is_file():  # reported before torch is imported
        raise FileNotFoundError(f"{args.model}: no such checkpoint")
    from activeamp.deploy.predict import open_points, predict_file

    source, handle = open_points(h5=args.h5, npy=args.npy, store=args.store, split=args.split)
    try:
        report = predict_file(
            args.model, args.out, source, chunk=args.chunk, n_samples=args.n_samples, progress=not args.no_progress
        )
    finally:
        if handle is not None:
            handle.close()
    print(f"predicted {report.n_points} points in {report.seconds:.1f} s "
          f"({report.points_per_second:.3g} points/s): {report.path}")
    return 0
