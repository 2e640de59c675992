"""From a surrogate and a store to metrics, tables and figures (``activeamp evaluate``)."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from activeamp.atomic import write_atomic
from activeamp.data.store import SPLITS, ShardStore
from activeamp.report.plots import amplitude_unit, observables_for, write_report
from activeamp.surrogate.committee import Model, SurrogateCommittee, load_model
from activeamp.surrogate.metrics import Metrics, OutputMetrics, evaluate_prediction, write_metrics_json
from activeamp.surrogate.prediction import Prediction
from activeamp.surrogate.surrogate import Surrogate
from activeamp.surrogate.training import StoreLike, names_text, open_store, stream_rng

__all__ = ["check_compatible", "evaluate_model", "format_delta_table"]

logger = logging.getLogger(__name__)

_SEED_EVALUATE = 2  # stream that draws the max_points subsample of an evaluated split
_MAX_KEPT_SAMPLES = 2**24  # M × N (× K) beyond which evaluate_model drops the per-sample (M, N) arrays (128 MiB each)


# ------------------------------------------------------------------------------------------------ evaluation


def _load_surrogate(model: Model | str | os.PathLike[str]) -> Model:
    surrogate = model if isinstance(model, Surrogate | SurrogateCommittee) else load_model(model)
    if not surrogate.is_fitted:
        raise ValueError("the surrogate is not trained yet: train it first (train_from_store / Surrogate.fit)")
    return surrogate


def check_compatible(surrogate: Model, store: ShardStore) -> None:
    """A clear error when a trained model cannot be evaluated on a store's labels.

    The model's inputs must fit the store's process (number of particles), and its outputs the store's
    labels: a scalar model (``n_outputs`` None) a scalar store, a model with K outputs a vector store with K
    outputs (:attr:`Surrogate.n_outputs`, :attr:`ShardStore.n_outputs`).

    Raises
    ------
    ValueError
        Naming the store, the process or both numbers of outputs.
    """
    probe = np.zeros((1, *store.process.momentum_shape))
    try:
        surrogate.transform_inputs(probe)
    except ValueError as err:
        raise ValueError(f"{store.path}: the model does not fit process {store.process.name}: {err}") from None
    if surrogate.n_outputs != (None if store.outputs is None else len(store.outputs)):
        model = "one output (a scalar model)" if surrogate.n_outputs is None else f"{surrogate.n_outputs} outputs"
        held = (
            "scalar amplitudes (one output per point)"
            if store.outputs is None
            else f"{len(store.outputs)} outputs per point ({names_text(store.outputs)})"
        )
        raise ValueError(
            f"{store.path}: the model has {model} but the store holds {held}; "
            "evaluate a model trained on a store with the same outputs"
        )


def _select(n: int, max_points: int | None, seed: int) -> np.ndarray | None:
    """Sorted indices of a random subset of ``max_points`` of ``n`` (None: keep all)."""
    if max_points is None or max_points >= n:
        return None
    return np.sort(stream_rng(seed, _SEED_EVALUATE).permutation(n)[:max_points])


def _delta_cell(stats: Any, quantile: bool = False) -> str:
    """``half-width (median)``, or with ``quantile`` the 68 % quantile of |Δ| (which counts a bias) and the median."""
    value = stats.abs_68 if quantile else stats.half_width_68
    if stats.count == 0 or not math.isfinite(value):
        return "-"
    return f"{value:.3e} ({stats.median:+.1e})"


def _delta_cells(m: OutputMetrics) -> tuple[str, ...]:
    """N, the three Δ cells and the std of t_tot of one output's record."""
    return (
        str(m.count),
        _delta_cell(m.delta_all),
        _delta_cell(m.delta_top1, quantile=True),
        _delta_cell(m.delta_top01, quantile=True),
        f"{m.pull_tot.std:.2f}" if math.isfinite(m.pull_tot.std) else "-",
    )


def _event_weighted_lines(metrics_by_set: Mapping[str, Metrics]) -> list[str]:
    """Lines of the A-weighted Δ (where events land) and the cross-section error, per scalar set that has them."""
    lines = []
    for name, m in metrics_by_set.items():
        w = m.event_weighted if m.outputs is None else None
        if w is not None and w.count:
            lines.append(
                f"{name}, weighted by A (where events land): Delta 68% half-width {w.half_width_68:.3e} "
                f"(median {w.median:+.1e}), 68% quantile of |Delta| {w.abs_68:.3e}; cross section "
                f"sum(A_NN)/sum(A_true) - 1 = {w.cross_section_error:+.2e} (sigma_tot {w.cross_section_sigma:.1e})"
            )
    return lines


def _aligned(rows: Sequence[Sequence[str]], left: int) -> list[str]:
    """Rows as text: the first ``left`` columns left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]


def format_delta_table(metrics_by_set: Mapping[str, Metrics]) -> str:
    """Plain-text table of the precision of Δ = A_NN/A_true − 1 (all, top 1 %, top 0.1 %) per set.

    The ``all`` cell is ``68 % half-width (median)``; the top subsets (the points with the largest true
    amplitudes) give the 68 % quantile of |Δ|, which counts a bias, and the median. A last column gives the
    standard deviation of the total pull t_tot (1 for a calibrated σ_tot).

    Vector metrics (:class:`activeamp.surrogate.metrics.Metrics` with ``outputs``) get one row per set and output,
    with an ``output`` column; Δ is then the floored relative deviation Δ_k = (⟨A⟩_k − A_k)/(|A_k| + m_k) and the top
    subsets are the points with the largest |A_k|. A last line per set names its worst output (the set's precision).

    Parameters
    ----------
    metrics_by_set : mapping
        Set name → :class:`activeamp.surrogate.metrics.Metrics` (scalar or vector).

    Returns
    -------
    str
        The table, lines separated by ``\\n``, without trailing newline.
    """
    if all(m.outputs is None for m in metrics_by_set.values()):
        header = ("set", "N", "all", "top 1%", "top 0.1%", "std t_tot")
        rows = [(name, *_delta_cells(m)) for name, m in metrics_by_set.items()]
        lines = [
            "Delta = A_NN/A_true - 1: all points 68% half-width, top 1% / 0.1% by amplitude 68% quantile of |Delta| "
            "(median in brackets)"
        ]
        return "\n".join(lines + _aligned([header, *rows], left=1) + _event_weighted_lines(metrics_by_set))

    header = ("set", "output", "N", "all", "top 1%", "top 0.1%", "std t_tot")
    rows = []
    worst = []
    for name, m in metrics_by_set.items():
        if m.outputs is not None:
            rows.extend((name, output, *_delta_cells(record)) for output, record in m.per_output.items())
            widths = {o: r.precision for o, r in m.per_output.items() if math.isfinite(r.precision)}
            if widths:
                output = max(widths, key=widths.__getitem__)
                worst.append(f"{name} {widths[output]:.3e} ({output})")
        else:
            rows.append((name, "-", *_delta_cells(m)))
    scalar = "; scalar sets: Delta = A_NN/A_true - 1" if any(m.outputs is None for m in metrics_by_set.values()) else ""
    lines = [f"68% half-width of Delta_k = (A_NN,k - A_k)/(|A_k| + m_k) per output k (median in brackets{scalar})"]
    lines += _aligned([header, *rows], left=2)
    if worst:
        lines.append("worst output: " + ", ".join(worst))
    return "\n".join(lines)


def evaluate_model(
    model: Model | str | os.PathLike[str],
    store: StoreLike,
    out_dir: str | os.PathLike[str],
    *,
    splits: Sequence[str] = ("train", "test"),
    n_samples: int = 50,
    max_points: int | None = None,
    seed: int | None = None,
    plots: bool = True,
    report_split: str | None = None,
) -> dict[str, Metrics]:
    """Predict the ``ok`` points of some splits with uncertainties; write metrics, figures and a summary.

    Written into ``out_dir`` (created):

    - ``metrics.json``: :class:`activeamp.surrogate.metrics.Metrics` of every split
      (:func:`activeamp.surrogate.metrics.write_metrics_json`; ``extra`` records model, store, ``n_samples``, sizes);
    - ``summary.txt``: :func:`format_delta_table` of all splits and the pull / coverage figures;
    - with ``plots``: the figures of :func:`activeamp.report.plots.write_report` for ``report_split``: ``delta.png``,
      ``delta_log.png`` (the ``train`` split overlaid when evaluated), ``pulls.png``, ``kin_<observable>.png``
      (amplitude-weighted pT, η, ΔR with σ_h,model / σ_h,pred bands) and ``loss.png`` (the model's history).

    A vector store (several signed outputs per point, :attr:`ShardStore.outputs`) is evaluated output by
    output (:func:`activeamp.surrogate.metrics.evaluate_prediction` with the outputs: Δ_k is the floored relative
    deviation (⟨A⟩_k − A_k)/(|A_k| + m_k)): ``metrics.json`` holds vector :class:`~activeamp.surrogate.metrics.Metrics`
    (``per_output``), ``summary.txt`` a row per split and output, and the figures of
    :func:`activeamp.report.plots.write_report` for ``report_split`` are ``residuals.png``, ``pulls_<output>.png``,
    ``kin_<observable>_<output>.png`` and ``loss.png``.

    Parameters
    ----------
    model : Surrogate, SurrogateCommittee or path
        A trained model, or a checkpoint written by :meth:`Surrogate.save` or :meth:`SurrogateCommittee.save`.
    store : ShardStore or path
        Labelled store of the same process.
    out_dir : path
        Output folder.
    splits : sequence of str
        Splits to evaluate; each needs ``ok`` points.
    n_samples : int
        Weight samples M per prediction (ensembles use their members).
    max_points : int, optional
        Evaluate at most this many points per split (a random subset, fixed by ``seed``).
    seed : int, optional
        Seed of the weight draws (default: derived from the model's seed, reproducible) and of the subset.
    plots : bool
        Write the figures.
    report_split : str, optional
        Split the figures are drawn for (default ``"test"`` if evaluated, else the last of ``splits``).

    Returns
    -------
    dict
        Split name → :class:`~activeamp.surrogate.metrics.Metrics` (per output for a vector store), in the order of
        ``splits``.

    Raises
    ------
    ValueError
        For an empty split, a model of another process or with other outputs than the store
        (:func:`check_compatible`), or bad arguments (the message names them).
    """
    splits = list(dict.fromkeys(splits))
    if not splits:
        raise ValueError("splits: give at least one split to evaluate")
    bad = [s for s in splits if s not in SPLITS]
    if bad:
        raise ValueError(f"splits: {', '.join(map(repr, bad))} not among {', '.join(SPLITS)}")
    if n_samples < 1:
        raise ValueError(f"n_samples: must be >= 1, got {n_samples}")
    if max_points is not None and max_points < 1:
        raise ValueError(f"max_points: must be >= 1 or None, got {max_points}")
    if report_split is None:
        report_split = "test" if "test" in splits else splits[-1]
    elif report_split not in splits:
        raise ValueError(f"report_split: {report_split!r} is not among the evaluated splits {splits}")
    surrogate = _load_surrogate(model)
    store = open_store(store)
    check_compatible(surrogate, store)
    outputs = store.outputs
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    metrics: dict[str, Metrics] = {}
    kept: dict[str, tuple[Prediction, np.ndarray, np.ndarray]] = {}
    sizes: dict[str, dict[str, int]] = {}
    timing: dict[str, float] = {}
    for split in splits:
        arrays = store.arrays(split)
        if len(arrays) == 0:
            raise ValueError(f"{store.path}: split {split!r} has no labelled (ok) points to evaluate")
        sel = _select(len(arrays), max_points, 0 if seed is None else seed)
        x = arrays.momenta if sel is None else arrays.momenta[sel]
        a = arrays.targets if sel is None else arrays.targets[sel]
        m = surrogate.sample_count(n_samples)
        with_samples = m * a.size <= _MAX_KEPT_SAMPLES  # a.size: N, or N × K for a vector store
        if not with_samples:
            logger.info("%s: %d points × %d samples: per-sample arrays dropped (no Eq. 17 pull)", split, len(a), m)
        t0 = time.perf_counter()
        pred = surrogate.predict(x, n_samples, return_samples=with_samples, seed=seed)
        timing[split] = time.perf_counter() - t0
        metrics[split] = evaluate_prediction(pred, a, outputs)
        sizes[split] = {"n_points": int(len(a)), "n_available": int(len(arrays))}
        if split == report_split or (split == "train" and outputs is None):  # the train overlay is scalar only
            kept[split] = (pred, a, x)
        logger.info(
            "%s: %d points, 68%% half-width of Δ = %.3g%s (prediction %.2f s)",
            split,
            len(a),
            metrics[split].precision,
            "" if outputs is None else " (worst output)",
            timing[split],
        )

    extra = {
        "model": str(model) if not isinstance(model, Surrogate | SurrogateCommittee) else None,
        "store": store.path,
        "process": store.process.name,
        "n_samples": surrogate.sample_count(n_samples),
        "max_points": max_points,
        "seed": seed,
        "sizes": sizes,
        "prediction_seconds": timing,
        "surrogate": surrogate.config.to_dict(),
        "epochs": surrogate.epoch,
    }
    if outputs is not None:
        extra["outputs"] = list(outputs)
    write_metrics_json(out / "metrics.json", metrics, extra)
    summary = [
        f"model: {extra['model'] or repr(surrogate)}",
        f"store: {store.path} ({store.process.name}); M = {extra['n_samples']} weight samples",
        "",
        format_delta_table(metrics),
        "",
        "pulls and coverage of sigma_tot:",
    ]
    for name, record in metrics.items():
        parts = (
            [(f"{name}/{o}", m) for o, m in record.per_output.items()]
            if record.outputs is not None
            else [(name, record.scalar)]
        )
        for label, m in parts:
            cover = ", ".join(f"{c.k:g} sigma {c.observed:.3f} (Gaussian {c.expected:.3f})" for c in m.coverage)
            summary.append(
                f"  {label}: t_model std {m.pull_model.std:.2f}, t_pred std {m.pull_pred.std:.2f}, "
                f"t_tot std {m.pull_tot.std:.2f}; coverage {cover}"
            )
    write_atomic(out / "summary.txt", "\n".join(summary) + "\n")

    if plots:
        pred, a, x = kept[report_split]
        train = None
        if "train" in kept and report_split != "train" and outputs is None:  # the train overlay is scalar only
            train = (kept["train"][0], kept["train"][1])
        write_report(
            out,
            pred,
            a,
            observables_for(x, store.process),
            surrogate.history or None,
            outputs=outputs,
            train=train,
            set_name=report_split,
            amplitude_unit=amplitude_unit(store.process),
        )
    return metrics
