"""The report of an evaluated set: the standard figures of a scalar or a vector surrogate written into one folder."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from activeamp.report.figures import PathLike, amplitude_unit, plot_delta, plot_kinematic, plot_pulls, plot_residuals
from activeamp.report.learning_curves import plot_loss_history, plot_precision_vs_calls
from activeamp.report.observables import VV_LABELS, observable_label, observables_for
from activeamp.surrogate.prediction import Prediction

__all__ = [
    "write_report",
    # re-exported, what callers of the report need besides it
    "amplitude_unit",
    "observables_for",
    "plot_loss_history",
]

logger = logging.getLogger(__name__)


def _file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "observable"


def _learning_figures(
    folder: Path,
    history: Sequence[Mapping[str, Any]] | None,
    precision_curves: Mapping[str, Sequence[tuple[float, float]]] | None,
    pdf: bool,
) -> list[Path]:
    """``loss.png`` (if ``history``) and ``precision_vs_calls.png`` (if ``precision_curves``)."""
    paths = []
    if history:
        paths.append(plot_loss_history(folder / "loss.png", history, pdf=pdf))
    if precision_curves:
        paths.append(plot_precision_vs_calls(folder / "precision_vs_calls.png", precision_curves, pdf=pdf))
    return paths


def write_report(
    folder: PathLike,
    prediction: Prediction,
    truth: np.ndarray,
    observables: Mapping[str, np.ndarray],
    history: Sequence[Mapping[str, Any]] | None = None,
    *,
    outputs: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    train: tuple[Prediction, np.ndarray] | None = None,
    set_name: str = "test",
    precision_curves: Mapping[str, Sequence[tuple[float, float]]] | None = None,
    bins: int | None = None,
    amplitude_unit: str = "",
    pdf: bool = False,
) -> list[Path]:
    """Write the standard figures for one evaluated set into ``folder``, for a scalar or a vector surrogate.

    Scalar (``truth`` ``(N,)``, ``outputs`` None): ``delta.png``, ``delta_log.png`` (with ``train`` overlaid when
    given), ``pulls.png``, ``kin_<observable>.png`` per observable (amplitude-weighted, with σ_h bands).
    Vector (``truth`` ``(N, K)`` with K ``outputs``): ``residuals.png`` (all outputs), per output
    ``pulls_<name>.png`` and ``kin_<observable>_<name>.png`` (the output summed per bin of the observable, truth vs
    network with σ_h bands, without normalisation since outputs are signed). Both: ``loss.png`` (if ``history``),
    ``precision_vs_calls.png`` (if ``precision_curves``).

    Parameters
    ----------
    folder : path-like
        Output folder (created).
    prediction : Prediction
        Prediction for the N points of the set: arrays of the shape of ``truth`` (samples ``(M, N)`` /
        ``(M, N, K)`` for the σ_h,pred bands).
    truth : numpy.ndarray
        Shape ``(N,)``, or ``(N, K)`` for a vector surrogate.
    observables : mapping
        Name → shape ``(N,)`` values, e.g. from :func:`observables_for`.
    history : sequence of mapping, optional
        Per-epoch loss records (see :func:`plot_loss_history`).
    outputs : sequence of str, optional
        The K output names of a vector surrogate; None for a scalar one.
    labels : mapping, optional
        Name → axis label; default :func:`observable_label` (and the VV variables' labels).
    amplitude_unit : str
        Unit of a scalar surrogate's amplitudes for the kinematic figures' axes (:func:`amplitude_unit`).
    train : (Prediction, numpy.ndarray), optional
        Scalar only: training-set prediction and truth for the Δ overlay.
    set_name : str
        Name of the evaluated set in legends.
    precision_curves : mapping, optional
        See :func:`plot_precision_vs_calls`.
    bins : int, optional
        Bins of the kinematic histograms (default 40 scalar, 30 vector).
    pdf : bool
        Also write PDFs.

    Returns
    -------
    list of pathlib.Path
        The PNG files written.

    Raises
    ------
    ValueError
        If ``truth`` and ``outputs`` disagree (a vector truth without names, names for a scalar truth), or
        ``train`` is given for a vector surrogate.
    """
    truth = np.asarray(truth, dtype=np.float64)
    if (outputs is None) != (truth.ndim == 1):
        names = "no output names" if outputs is None else f"{len(outputs)} output names"
        raise ValueError(
            f"write_report: truth of shape {truth.shape} with {names}; a scalar surrogate has truth (N,) and "
            "outputs None, a vector one truth (N, K) and K output names"
        )
    if outputs is not None and train is not None:
        raise ValueError("write_report: the train overlay is drawn for scalar surrogates only")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if outputs is not None:
        n_bins = 30 if bins is None else bins
        paths = _vector_figures(folder, prediction, truth, outputs, observables, labels, n_bins, pdf)
    else:
        n_bins = 40 if bins is None else bins
        paths = _scalar_figures(
            folder, prediction, truth, observables, labels, train, set_name, n_bins, pdf, amplitude_unit
        )
    paths += _learning_figures(folder, history, precision_curves, pdf)
    logger.info("wrote %d figures to %s", len(paths), folder)
    return paths


def _scalar_figures(
    folder: Path,
    prediction: Prediction,
    a_true: np.ndarray,
    observables: Mapping[str, np.ndarray],
    labels: Mapping[str, str] | None,
    train: tuple[Prediction, np.ndarray] | None,
    set_name: str,
    bins: int,
    pdf: bool,
    amp_unit: str = "",
) -> list[Path]:
    """Δ, pulls and kinematic figures of a scalar surrogate (see :func:`write_report`)."""
    labels = dict(labels or {})
    sets: dict[str, tuple[np.ndarray | Prediction, np.ndarray]] = {set_name: (prediction, a_true)}
    if train is not None:
        sets["train"] = train
    paths = [
        plot_delta(folder / "delta.png", sets, pdf=pdf),
        plot_delta(folder / "delta_log.png", sets, log=True, pdf=pdf),
        plot_pulls(folder / "pulls.png", prediction, a_true, pdf=pdf),
    ]
    for name, values in observables.items():
        paths.append(
            plot_kinematic(
                folder / f"kin_{_file_stem(name)}.png",
                values,
                prediction,
                a_true,
                label=labels.get(name, observable_label(name)),
                bins=bins,
                amplitude_unit=amp_unit,
                pdf=pdf,
            )
        )
    return paths


def _vector_figures(
    folder: Path,
    prediction: Prediction,
    truth: np.ndarray,
    names: Sequence[str],
    observables: Mapping[str, np.ndarray],
    labels: Mapping[str, str] | None,
    bins: int,
    pdf: bool,
) -> list[Path]:
    """Residual, per-output pull and kinematic figures of a vector surrogate (see :func:`write_report`)."""
    labels = {**VV_LABELS, **dict(labels or {})}
    paths = [plot_residuals(folder / "residuals.png", prediction, truth, names, pdf=pdf)]
    for k, name in enumerate(names):
        part = prediction.output(k)
        stem = _file_stem(str(name))
        paths.append(plot_pulls(folder / f"pulls_{stem}.png", part, truth[:, k], pdf=pdf))
        for obs, values in observables.items():
            paths.append(
                plot_kinematic(
                    folder / f"kin_{_file_stem(obs)}_{stem}.png",
                    values,
                    part,
                    truth[:, k],
                    label=labels.get(obs, observable_label(obs)),
                    bins=bins,
                    density=False,
                    logy=False,
                    pdf=pdf,
                )
            )
    return paths
