"""Figures of arXiv:2206.14831 for a surrogate's prediction: Δ and pull histograms, kinematic distributions with
the BNN bands, per-output residuals; axes with units, figures saved without pyplot's global state."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from activeamp.physics.process import Process
from activeamp.report.histograms import histogram_bands
from activeamp.surrogate.metrics import delta, normalised_residual, pulls, top_fraction_indices
from activeamp.surrogate.prediction import Prediction

__all__ = [
    "PathLike",
    "amplitude_unit",
    "new_figure",
    "plot_delta",
    "plot_kinematic",
    "plot_pulls",
    "plot_residuals",
    "save_figure",
]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

_TOP_LABELS = ("all", "top 1%", "top 0.1%")
_TOP_FRACTIONS = (1.0, 0.01, 0.001)
_SUBSET_COLOURS = ("C0", "C1", "C3")
_LINESTYLES = ("-", "--", ":", "-.")


# --------------------------------------------------------------------------------------------------
# Saving


def new_figure(figsize: tuple[float, float] = (5.5, 4.0)) -> Figure:
    """A figure detached from pyplot (no global state); saving uses the Agg/PDF canvases directly."""
    return Figure(figsize=figsize, layout="constrained")


def save_figure(fig: Figure, path: PathLike, pdf: bool) -> Path:
    """Write ``fig`` to ``path`` as PNG (150 dpi), and as PDF next to it if ``pdf``; parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=150)
    if pdf:
        fig.savefig(path.with_suffix(".pdf"), format="pdf")
    logger.info("wrote %s%s", path, " (+ .pdf)" if pdf else "")
    return path


def _mean_of(a_pred: np.ndarray | Prediction) -> np.ndarray:
    return np.asarray(a_pred.mean if isinstance(a_pred, Prediction) else a_pred, dtype=np.float64)


# --------------------------------------------------------------------------------------------------
# Figures


def plot_delta(
    path: PathLike,
    sets: Mapping[str, tuple[np.ndarray | Prediction, np.ndarray]],
    *,
    log: bool = False,
    bins: int = 60,
    xlim: tuple[float, float] | None = None,
    pdf: bool = False,
) -> Path:
    """Histogram of Δ = A_NN/A_true − 1 for all points and the top 1 % / 0.1 % by true amplitude.

    Parameters
    ----------
    path : path-like
        PNG file to write (a ``.pdf`` next to it if ``pdf``).
    sets : mapping
        Set name (e.g. ``"test"``, ``"train"``) → ``(a_pred, a_true)``, each shape ``(N,)`` (``a_pred`` may be a
        :class:`Prediction`, its mean is used). Sets get line styles in order (solid, dashed, ...), subsets get
        colours.
    log : bool
        If False, a linear Δ axis; if True, the axis is log₁₀|Δ| (the paper's second view).
    bins : int
        Number of bins.
    xlim : (float, float), optional
        Axis range (in Δ, or in log₁₀|Δ| if ``log``); default from the data.
    pdf : bool
        Also write a PDF.

    Returns
    -------
    pathlib.Path
        ``path``. Each curve is normalised to unit area over all its points.
    """
    if not sets:
        raise ValueError("plot_delta: no sets given")
    curves: list[tuple[str, int, int, np.ndarray]] = []  # (label, set index, subset index, x values)
    for si, (name, (a_pred, a_true)) in enumerate(sets.items()):
        d = delta(_mean_of(a_pred), a_true)
        for ti, frac in enumerate(_TOP_FRACTIONS):
            sel = d[top_fraction_indices(a_true, frac)] if frac < 1.0 else d
            if sel.size == 0:
                continue
            x = np.log10(np.maximum(np.abs(sel), 1e-16)) if log else sel
            curves.append((f"{name}, {_TOP_LABELS[ti]}", si, ti, x))
    if not curves:
        raise ValueError("plot_delta: all sets are empty")
    if xlim is None:
        pool = np.concatenate([c[3] for c in curves if c[2] == 0])
        if log:
            lo, hi = np.quantile(pool, [0.001, 1.0])
            xlim = (math.floor(lo), max(math.ceil(hi), math.floor(lo) + 1))
        else:
            r = float(np.quantile(np.abs(pool), 0.995)) or 1e-3
            xlim = (-r, r)
    edges = np.linspace(xlim[0], xlim[1], bins + 1)
    fig = new_figure()
    ax = fig.add_subplot()
    for label, si, ti, x in curves:
        h, _ = np.histogram(x, bins=edges)
        h = h / (x.size * np.diff(edges))
        ax.stairs(h, edges, color=_SUBSET_COLOURS[ti], linestyle=_LINESTYLES[si % len(_LINESTYLES)], label=label)
    ax.set_xlim(*xlim)
    ax.set_xlabel(r"$\log_{10}|\Delta|$" if log else r"$\Delta = A_\mathrm{NN}/A_\mathrm{true} - 1$")
    ax.set_ylabel("normalised density")
    ax.legend(fontsize="small", frameon=False)
    return save_figure(fig, path, pdf)


def plot_pulls(
    path: PathLike,
    prediction: Prediction,
    a_true: np.ndarray,
    *,
    bins: int = 60,
    xlim: tuple[float, float] = (-5.0, 5.0),
    logy: bool = True,
    pdf: bool = False,
) -> Path:
    """Pull histograms t = (⟨A⟩ − A_true)/σ for σ_model, σ_pred, σ_tot (Eq. 16) against a unit Gaussian.

    With weight samples in the prediction, the weight-dependent pull t_model(ω) (Eq. 17) is drawn too.
    Each curve is normalised by its number of finite pulls, so tails outside ``xlim`` lower the curve.

    Parameters
    ----------
    path : path-like
        PNG file to write.
    prediction : Prediction
        N points.
    a_true : numpy.ndarray
        Shape ``(N,)``.
    bins, xlim, logy, pdf
        Binning, axis range, log-scale y axis, also write a PDF.
    """
    t = pulls(prediction, a_true)
    names = {
        "t_model": r"$t_\mathrm{model}$",
        "t_pred": r"$t_\mathrm{pred}$",
        "t_tot": r"$t_\mathrm{tot}$",
        "t_model_weights": r"$t_\mathrm{model}(\omega)$",
    }
    edges = np.linspace(xlim[0], xlim[1], bins + 1)
    fig = new_figure()
    ax = fig.add_subplot()
    for i, (key, label) in enumerate(names.items()):
        if key not in t:
            continue
        v = t[key].ravel()
        v = v[np.isfinite(v)]
        if v.size == 0:
            continue
        h, _ = np.histogram(v, bins=edges)
        ax.stairs(
            h / (v.size * np.diff(edges)),
            edges,
            color=f"C{i}",
            linestyle="--" if key == "t_model_weights" else "-",
            label=f"{label} (std {v.std():.2f})",
        )
    xs = np.linspace(xlim[0], xlim[1], 400)
    ax.plot(xs, np.exp(-0.5 * xs**2) / math.sqrt(2.0 * math.pi), color="k", lw=1.0, label="unit Gaussian")
    if logy:
        ax.set_yscale("log")
        ax.set_ylim(bottom=1e-4)
    ax.set_xlim(*xlim)
    ax.set_xlabel(r"$t = (\langle A\rangle - A_\mathrm{true})/\sigma$")
    ax.set_ylabel("normalised density")
    ax.legend(fontsize="small", frameon=False)
    return save_figure(fig, path, pdf)


def _band(
    ax: Axes, edges: np.ndarray, lo: np.ndarray, hi: np.ndarray, colour: str, label: str, positive: bool = False
) -> None:
    """A filled band between ``lo`` and ``hi`` per bin; ``positive``: clipped at zero (|M|²-weighted sums)."""
    base = np.maximum(lo, 0.0) if positive else lo
    ax.stairs(hi, edges, baseline=base, fill=True, color=colour, alpha=0.35, linewidth=0, label=label)


def amplitude_unit(process: Process) -> str:
    """Mathtext unit of |M|² for ``process`` (:attr:`Process.amplitude_units`; "" for 2 → 2)."""
    if process.amplitude_units == "1":
        return ""
    base, power = process.amplitude_units.split("^")
    return f"{base}$^{{{power}}}$"


def _unit_of(label: str) -> str:
    """The unit in an axis label of the form ``"... [unit]"`` ("" when it has none)."""
    return label.rsplit("[", 1)[1].rstrip("] ") if label.endswith("]") and "[" in label else ""


def _kinematic_ylabel(density: bool, amp_unit: str, obs_unit: str) -> str:
    if not density:
        return r"$\sum_{j\in\mathrm{bin}} A_j$" + (f" [{amp_unit}]" if amp_unit else "")
    unit = "/".join(u for u in (amp_unit or ("1" if obs_unit else ""), obs_unit) if u)
    return r"$\frac{1}{N}\sum_{j\in\mathrm{bin}} A_j\;/\;\mathrm{bin\ width}$" + (f" [{unit}]" if unit else "")


def plot_kinematic(
    path: PathLike,
    values: np.ndarray,
    prediction: Prediction,
    a_true: np.ndarray,
    *,
    label: str = "observable",
    bins: int | np.ndarray = 40,
    density: bool = True,
    logy: bool | None = None,
    model_correlated: bool = True,
    amplitude_unit: str = "",
    pdf: bool = False,
) -> Path:
    """Amplitude-weighted distribution of one observable: truth vs network with σ_h,model / σ_h,pred bands.

    Upper panel: the histograms of :func:`histogram_bands`, bands drawn around the network histogram (clipped
    at zero), the truth with its statistical error bars (a bin filled by few large amplitudes shows as such);
    lower panel: network/truth with the bands divided by the truth histogram and the truth's relative
    statistical error as a grey band around 1. The axes carry units (the observable's from ``label``, the
    amplitude's from ``amplitude_unit``); points beyond the drawn range are counted in the figure.

    Parameters
    ----------
    path : path-like
        PNG file to write.
    values : numpy.ndarray
        Shape ``(N,)``, the observable.
    prediction : Prediction
        N points (``samples`` for the σ_h,pred band).
    a_true : numpy.ndarray
        Shape ``(N,)``.
    label : str
        x-axis label (mathtext allowed, see :func:`~activeamp.report.observables.observable_label`).
    bins, density, model_correlated
        As in :func:`histogram_bands` (default: density, i.e. mean amplitude per unit observable).
    amplitude_unit : str
        Unit of the amplitudes (mathtext), e.g. from :func:`amplitude_unit`; "" for dimensionless.
    logy : bool, optional
        Log-scale upper panel; default: when the non-zero bins span more than two decades.
    pdf : bool
        Also write a PDF.
    """
    hb = histogram_bands(values, prediction, a_true, bins=bins, density=density, model_correlated=model_correlated)
    assert hb.truth is not None
    edges, truth, net = hb.edges, hb.truth, hb.network
    fig = new_figure((5.5, 5.0))
    ax, rax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1)})
    positive = bool(np.all(truth >= 0) and np.all(net >= 0))  # |M|² sums; signed outputs keep their sign
    _band(ax, edges, net - hb.sigma_model, net + hb.sigma_model, "C1", r"$\sigma_{h,\mathrm{model}}$", positive)
    if hb.sigma_pred is not None:
        _band(ax, edges, net - hb.sigma_pred, net + hb.sigma_pred, "C2", r"$\sigma_{h,\mathrm{pred}}$", positive)
    ax.stairs(truth, edges, color="k", label="truth")
    centres = 0.5 * (edges[1:] + edges[:-1])
    if hb.truth_error is not None:
        err = np.minimum(hb.truth_error, truth) if positive else hb.truth_error
        lower = np.where(np.isfinite(err), err, 0.0)
        ax.errorbar(centres, truth, yerr=[lower, hb.truth_error], fmt="none", ecolor="k", lw=0.7,
                    label="truth: stat. error")
    ax.stairs(net, edges, color="C0", label="network")
    if logy is None:
        pos = np.concatenate([truth[truth > 0], net[net > 0]])
        logy = bool(pos.size) and float(pos.max() / pos.min()) > 100.0
    if logy:
        ax.set_yscale("log")
    ax.set_ylabel(_kinematic_ylabel(density, amplitude_unit, _unit_of(label)))
    if hb.below or hb.above:
        ax.set_title(f"not drawn: {hb.below} points below, {hb.above} above the range", fontsize="small")
    ax.legend(fontsize="small", frameon=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(truth != 0, 1.0 / truth, np.nan)
    if hb.truth_error is not None:
        rel = np.abs(hb.truth_error * inv)
        rax.stairs(1.0 + rel, edges, baseline=np.maximum(1.0 - rel, 0.0), fill=True, color="0.8", linewidth=0)
    _band(rax, edges, (net - hb.sigma_model) * inv, (net + hb.sigma_model) * inv, "C1", "", positive)
    if hb.sigma_pred is not None:
        _band(rax, edges, (net - hb.sigma_pred) * inv, (net + hb.sigma_pred) * inv, "C2", "", positive)
    rax.stairs(net * inv, edges, color="C0", baseline=None)
    rax.axhline(1.0, color="k", lw=0.8)
    rax.set_ylabel("NN/truth")
    rax.set_xlabel(label)
    return save_figure(fig, path, pdf)


def plot_residuals(
    path: PathLike,
    prediction: Prediction,
    truth: np.ndarray,
    names: Sequence[str],
    *,
    bins: int = 60,
    pdf: bool = False,
) -> Path:
    """Histograms of the deviation Δ_k = (⟨A⟩_k − A_k)/(|A_k| + m_k) of every output, one panel each.

    m_k is the median of the true |A_k| over the set (:func:`activeamp.surrogate.metrics.normalised_residual`, the Δ of
    :func:`activeamp.surrogate.metrics.evaluate_prediction` for vector predictions); each panel's legend gives the
    68 % half-width.

    Parameters
    ----------
    path : path-like
        PNG file to write.
    prediction : Prediction
        Arrays ``(N, K)``.
    truth : numpy.ndarray
        Shape ``(N, K)``.
    names : sequence of str
        The K output names.
    """
    truth = np.asarray(truth, dtype=np.float64)
    if truth.ndim != 2 or truth.shape != prediction.mean.shape or truth.shape[1] != len(names):
        raise ValueError(
            f"plot_residuals: prediction {prediction.mean.shape}, truth {truth.shape} and {len(names)} names disagree"
        )
    residual, _ = normalised_residual(prediction.mean, truth)
    k = len(names)
    cols = min(k, 4)
    rows = math.ceil(k / cols)
    fig = new_figure((3.0 * cols, 2.4 * rows))
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        r = residual[:, i][np.isfinite(residual[:, i])]
        if r.size == 0:
            continue
        q16, q84 = np.quantile(r, [0.16, 0.84])
        lim = float(np.quantile(np.abs(r), 0.995)) or 1e-3
        ax.hist(r, bins=np.linspace(-lim, lim, bins + 1), histtype="step", label=f"68%: {(q84 - q16) / 2:.2g}")
        ax.set_title(str(name), fontsize="small")
        ax.tick_params(labelsize="x-small")
        ax.legend(fontsize="x-small", frameon=False)
    fig.supxlabel(r"$\Delta_k = (\langle A\rangle_k - A_k)/(|A_k| + m_k)$")
    return save_figure(fig, path, pdf)
