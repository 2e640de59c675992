"""Figures of arXiv:2206.14831 for a surrogate: Δ and pull histograms, kinematic distributions, learning curves."""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from activeamp.physics.kinematics import delta_r, pseudorapidity, pt
from activeamp.physics.process import Process
from activeamp.surrogate.metrics import delta, normalised_residual, pulls, top_fraction_indices
from activeamp.surrogate.prediction import Prediction

__all__ = [
    "HistogramBands",
    "histogram_bands",
    "kinematic_observables",
    "observable_label",
    "observables_for",
    "plot_delta",
    "plot_kinematic",
    "plot_loss_history",
    "plot_precision_vs_calls",
    "plot_pulls",
    "plot_residuals",
    "vv_observables",
    "write_report",
    "write_vector_report",
]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

#: ASCII symbol of each particle kind in observable names ("pT_a1", "eta_g2", "dR_a1g1").
_SYMBOL = {"photon": "a", "gluon": "g", "quark": "q", "antiquark": "qb"}
_TEX = {"a": r"\gamma", "g": "g", "q": "q", "qb": r"\bar{q}"}
_TOP_LABELS = ("all", "top 1%", "top 0.1%")
_TOP_FRACTIONS = (1.0, 0.01, 0.001)
_SUBSET_COLOURS = ("C0", "C1", "C3")
_LINESTYLES = ("-", "--", ":", "-.")


# --------------------------------------------------------------------------------------------------
# Saving


def _new_figure(figsize: tuple[float, float] = (5.5, 4.0)) -> Figure:
    """A figure detached from pyplot (no global state); saving uses the Agg/PDF canvases directly."""
    return Figure(figsize=figsize, layout="constrained")


def _save(fig: Figure, path: PathLike, pdf: bool) -> Path:
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
# Kinematic observables


def kinematic_observables(momenta: np.ndarray, process: Process, *, pt_ordered: bool = True) -> dict[str, np.ndarray]:
    """Per-particle pT, η and pairwise ΔR of the outgoing particles.

    Particles are named by kind and rank: photons ``a1, a2``, gluons ``g1, g2``, quarks ``q1``,
    antiquarks ``qb1``. Observables are ``"pT_<p>"`` (GeV), ``"eta_<p>"`` and ``"dR_<p><q>"`` for every pair;
    :func:`observable_label` gives matplotlib labels.

    Parameters
    ----------
    momenta : numpy.ndarray
        Shape ``(N, n_particles, 4)``, ``(E, px, py, pz)`` in GeV, incoming first (project convention).
    process : Process
        The process the momenta belong to.
    pt_ordered : bool
        If True (default), identical particles are ranked by decreasing pT (γ1 is the harder photon) point by
        point; otherwise by storage order.

    Returns
    -------
    dict
        Name → shape ``(N,)`` float64 array.
    """
    p = np.asarray(momenta, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != process.momentum_shape:
        raise ValueError(f"momenta have shape {p.shape}; process {process.name!r} needs (N, {process.n_particles}, 4)")
    named: dict[str, np.ndarray] = {}
    for kind in dict.fromkeys(process.outgoing):
        idx = list(process.outgoing_indices(kind))
        group = p[:, idx, :]
        if pt_ordered and len(idx) > 1:
            order = np.argsort(-pt(group), axis=1, kind="stable")
            group = np.take_along_axis(group, order[:, :, None], axis=1)
        for rank in range(len(idx)):
            named[f"{_SYMBOL[kind]}{rank + 1}"] = group[:, rank, :]
    out: dict[str, np.ndarray] = {}
    for name, q in named.items():
        out[f"pT_{name}"] = pt(q)
    for name, q in named.items():
        out[f"eta_{name}"] = pseudorapidity(q)
    for (n1, q1), (n2, q2) in combinations(named.items(), 2):
        out[f"dR_{n1}{n2}"] = delta_r(q1, q2)
    return out


#: Axis labels of :func:`vv_observables`.
VV_LABELS = {
    "sqrt_s": r"$\sqrt{s}$ [GeV]",
    "cos_theta": r"$\cos\theta^*$",
    "m34": r"$m_{34}$ [GeV]",
    "m56": r"$m_{56}$ [GeV]",
}


def vv_observables(momenta: np.ndarray) -> dict[str, np.ndarray]:
    """The variables of the q q̄′ → V1 V2 map: √s, cos θ* (V1 to the quark), m34 = m(V1), m56 = m(V2).

    Parameters
    ----------
    momenta : numpy.ndarray
        Shape ``(N, 4, 4)``: q, q̄′, V1, V2, ``(E, px, py, pz)`` in GeV.

    Returns
    -------
    dict
        ``"sqrt_s"``, ``"cos_theta"``, ``"m34"``, ``"m56"`` → shape ``(N,)`` float64 (GeV, except cos θ*).
    """
    from oracles.vvamp import invariants_from_momenta, variables_from_invariants

    v = variables_from_invariants(invariants_from_momenta(np.asarray(momenta, dtype=np.float64)))
    return {name: v[:, i] for i, name in enumerate(VV_LABELS)}


def observables_for(momenta: np.ndarray, process: Process) -> dict[str, np.ndarray]:
    """The observables the reports histogram: :func:`kinematic_observables`, or :func:`vv_observables`."""
    return kinematic_observables(momenta, process) if process.massless else vv_observables(momenta)


_PARTICLE_RE = re.compile(r"(qb|a|g|q)(\d+)")


def _tex_particles(token: str) -> str | None:
    parts = _PARTICLE_RE.findall(token)
    if not parts or "".join(s + n for s, n in parts) != token:
        return None
    return r"\,".join(f"{_TEX[s]}_{{{n}}}" for s, n in parts)


def observable_label(name: str) -> str:
    """Matplotlib (mathtext) axis label for an observable name of :func:`kinematic_observables`.

    ``"pT_a1"`` → ``$p_{T,\\gamma_{1}}$ [GeV]``, ``"eta_g1"`` → ``$\\eta_{g_{1}}$``, ``"dR_a1g1"`` →
    ``$\\Delta R_{\\gamma_{1}\\,g_{1}}$``. Unknown names are returned unchanged.
    """
    head, _, tail = name.partition("_")
    tex = _tex_particles(tail) if tail else None
    if tex is None:
        return name
    if head == "pT":
        return f"$p_{{T,{tex}}}$ [GeV]"
    if head == "eta":
        return f"$\\eta_{{{tex}}}$"
    if head == "phi":
        return f"$\\phi_{{{tex}}}$"
    if head == "dR":
        return f"$\\Delta R_{{{tex}}}$"
    if head == "m":
        return f"$m_{{{tex}}}$ [GeV]"
    return name


# --------------------------------------------------------------------------------------------------
# Weighted histograms with the BNN bands (Eqs. 23, 24)


@dataclass(frozen=True)
class HistogramBands:
    """Amplitude-weighted histogram of one observable, truth vs network, with the BNN uncertainty bands.

    Attributes
    ----------
    edges : numpy.ndarray
        Shape ``(B+1,)`` bin edges, in the observable's units.
    truth : numpy.ndarray or None
        Shape ``(B,)``: Σ_{j∈bin} A_true,j (None if no truth was given).
    network : numpy.ndarray
        Shape ``(B,)``: Σ_{j∈bin} ⟨A⟩_j.
    sigma_model : numpy.ndarray
        Shape ``(B,)``: σ_h,model (Eq. 24), see :func:`histogram_bands`.
    sigma_pred : numpy.ndarray or None
        Shape ``(B,)``: σ_h,pred (Eq. 23), the spread of the histogram over the weight samples; None if the
        prediction has no samples.
    count : numpy.ndarray
        Shape ``(B,)``: number of points per bin.

    All amplitude-weighted entries share one normalisation (see ``density`` in :func:`histogram_bands`).
    """

    edges: np.ndarray
    truth: np.ndarray | None
    network: np.ndarray
    sigma_model: np.ndarray
    sigma_pred: np.ndarray | None
    count: np.ndarray


def _auto_edges(values: Sequence[np.ndarray], bins: int) -> np.ndarray:
    finite = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in values])
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    lo, hi = np.quantile(finite, [0.001, 0.999]) if finite.size >= 1000 else (finite.min(), finite.max())
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def histogram_bands(
    values: np.ndarray,
    prediction: Prediction,
    a_true: np.ndarray | None = None,
    *,
    bins: int | np.ndarray = 40,
    density: bool = False,
    model_correlated: bool = True,
) -> HistogramBands:
    """Histogram an observable weighted by the true and predicted amplitudes, with σ_h,model and σ_h,pred.

    For bin b with points j ∈ b:

    - network: h_b = Σ_j ⟨A⟩_j, truth: Σ_j A_true,j;
    - σ_h,pred (Eq. 23): the standard deviation (ddof = 0, as Eq. 10) over the M weight samples of the
      histogram h_b(ω_m) = Σ_j Ā_j(ω_m) built from ``prediction.samples``;
    - σ_h,model (Eq. 24): Σ_j σ_model,j, the linear sum, because σ_model is a systematic uncertainty that
      is correlated between neighbouring points (``model_correlated=True``, the paper's choice); with
      ``model_correlated=False`` the uncorrelated quadrature sum sqrt(Σ_j σ_model,j²) instead.

    Parameters
    ----------
    values : numpy.ndarray
        Shape ``(N,)``, the observable per point (e.g. pT in GeV). Points outside the edges or non-finite
        are not counted.
    prediction : Prediction
        N points; ``samples`` (M, N) is needed for σ_h,pred.
    a_true : numpy.ndarray, optional
        Shape ``(N,)``, the true amplitudes.
    bins : int or numpy.ndarray
        Number of bins (edges from the 0.1–99.9 % range of the finite values) or explicit edges ``(B+1,)``.
    density : bool
        If True, every amplitude-weighted entry is divided by N · (bin width): the mean amplitude per unit of
        the observable, comparable between sets of different size. Default: plain sums.
    model_correlated : bool
        Linear (True, default) or quadrature (False) sum of σ_model in a bin.

    Returns
    -------
    HistogramBands
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.shape[0] if x.ndim == 1 else -1
    if x.ndim != 1 or len(prediction) != n:
        raise ValueError(f"values have shape {x.shape} but the prediction has {len(prediction)} points")
    if a_true is not None and np.shape(a_true) != (n,):
        raise ValueError(f"a_true has shape {np.shape(a_true)} but values have shape {x.shape}")
    edges = _auto_edges([x], int(bins)) if np.ndim(bins) == 0 else np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"bin edges must be increasing with at least 2 entries, got {edges}")
    nb = edges.size - 1
    ok = np.isfinite(x) & (x >= edges[0]) & (x <= edges[-1])
    idx = np.clip(np.searchsorted(edges, x[ok], side="right") - 1, 0, nb - 1)  # last edge inclusive

    def hist(w: np.ndarray) -> np.ndarray:
        return np.bincount(idx, weights=np.asarray(w, dtype=np.float64)[ok], minlength=nb)

    count = np.bincount(idx, minlength=nb)
    network = hist(prediction.mean)
    truth = None if a_true is None else hist(np.asarray(a_true))
    sm = np.asarray(prediction.sigma_model, dtype=np.float64)
    sigma_model = hist(sm) if model_correlated else np.sqrt(hist(sm**2))
    sigma_pred = None
    if prediction.samples is not None:
        samples = np.asarray(prediction.samples, dtype=np.float64)
        if samples.ndim != 2 or samples.shape[1] != n:
            raise ValueError(f"prediction.samples has shape {samples.shape}; expected (M, {n})")
        per_sample = np.stack([hist(s) for s in samples])  # (M, B)
        sigma_pred = per_sample.std(axis=0)
    if density:
        scale = 1.0 / (max(n, 1) * np.diff(edges))
        network = network * scale
        sigma_model = sigma_model * scale
        truth = None if truth is None else truth * scale
        sigma_pred = None if sigma_pred is None else sigma_pred * scale
    return HistogramBands(edges, truth, network, sigma_model, sigma_pred, count)


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
    fig = _new_figure()
    ax = fig.add_subplot()
    for label, si, ti, x in curves:
        h, _ = np.histogram(x, bins=edges)
        h = h / (x.size * np.diff(edges))
        ax.stairs(h, edges, color=_SUBSET_COLOURS[ti], linestyle=_LINESTYLES[si % len(_LINESTYLES)], label=label)
    ax.set_xlim(*xlim)
    ax.set_xlabel(r"$\log_{10}|\Delta|$" if log else r"$\Delta = A_\mathrm{NN}/A_\mathrm{true} - 1$")
    ax.set_ylabel("normalised density")
    ax.legend(fontsize="small", frameon=False)
    return _save(fig, path, pdf)


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
    fig = _new_figure()
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
    return _save(fig, path, pdf)


def _band(ax: Axes, edges: np.ndarray, lo: np.ndarray, hi: np.ndarray, colour: str, label: str) -> None:
    ax.stairs(hi, edges, baseline=lo, fill=True, color=colour, alpha=0.35, linewidth=0, label=label)


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
    pdf: bool = False,
) -> Path:
    """Amplitude-weighted distribution of one observable: truth vs network with σ_h,model / σ_h,pred bands.

    Upper panel: the histograms of :func:`histogram_bands`, bands drawn around the network histogram;
    lower panel: network/truth with the bands divided by the truth histogram.

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
        x-axis label (mathtext allowed, see :func:`observable_label`).
    bins, density, model_correlated
        As in :func:`histogram_bands` (default: density, i.e. mean amplitude per unit observable).
    logy : bool, optional
        Log-scale upper panel; default: when the non-zero bins span more than two decades.
    pdf : bool
        Also write a PDF.
    """
    hb = histogram_bands(values, prediction, a_true, bins=bins, density=density, model_correlated=model_correlated)
    assert hb.truth is not None
    edges, truth, net = hb.edges, hb.truth, hb.network
    fig = _new_figure((5.5, 5.0))
    ax, rax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1)})
    _band(ax, edges, net - hb.sigma_model, net + hb.sigma_model, "C1", r"$\sigma_{h,\mathrm{model}}$")
    if hb.sigma_pred is not None:
        _band(ax, edges, net - hb.sigma_pred, net + hb.sigma_pred, "C2", r"$\sigma_{h,\mathrm{pred}}$")
    ax.stairs(truth, edges, color="k", label="truth")
    ax.stairs(net, edges, color="C0", label="network")
    if logy is None:
        pos = np.concatenate([truth[truth > 0], net[net > 0]])
        logy = bool(pos.size) and float(pos.max() / pos.min()) > 100.0
    if logy:
        ax.set_yscale("log")
    ax.set_ylabel(r"$\frac{1}{N}\sum A\;/\;\mathrm{bin\ width}$" if density else r"$\sum_{j\in\mathrm{bin}} A_j$")
    ax.legend(fontsize="small", frameon=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(truth != 0, 1.0 / truth, np.nan)
    _band(rax, edges, (net - hb.sigma_model) * inv, (net + hb.sigma_model) * inv, "C1", "")
    if hb.sigma_pred is not None:
        _band(rax, edges, (net - hb.sigma_pred) * inv, (net + hb.sigma_pred) * inv, "C2", "")
    rax.stairs(net * inv, edges, color="C0", baseline=None)
    rax.axhline(1.0, color="k", lw=0.8)
    rax.set_ylabel("NN/truth")
    rax.set_xlabel(label)
    return _save(fig, path, pdf)


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def plot_loss_history(
    path: PathLike,
    history: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str] | None = None,
    epoch_key: str = "epoch",
    logy: bool | None = None,
    pdf: bool = False,
) -> Path:
    """Learning curves: loss values against epoch.

    Parameters
    ----------
    path : path-like
        PNG file to write.
    history : sequence of mapping
        One record per epoch, e.g. ``{"epoch": 3, "train_loss": 0.12, "val_loss": 0.15}``. Records missing a key
        leave a gap.
    keys : sequence of str, optional
        Which entries to draw; default every numeric key whose name contains ``"loss"``.
    epoch_key : str
        x values; when absent from some record, epochs are numbered 1, 2, ... instead.
    logy : bool, optional
        Log y axis; default when all drawn values are positive.
    pdf : bool
        Also write a PDF.
    """
    if not history:
        raise ValueError("plot_loss_history: empty history")
    available = sorted({k for rec in history for k, v in rec.items() if _numeric(v)})
    if keys is None:
        keys = [k for k in available if "loss" in k and k != epoch_key]
    missing = [k for k in keys if k not in available]
    if not keys or missing:
        raise ValueError(
            f"plot_loss_history: keys {list(keys) or '(none with loss)'} not found; numeric keys: {available}"
        )
    if all(epoch_key in rec for rec in history):
        x = np.array([float(rec[epoch_key]) for rec in history])
    else:
        x = np.arange(1, len(history) + 1, dtype=np.float64)
    series = {k: np.array([float(rec[k]) if _numeric(rec.get(k)) else np.nan for rec in history]) for k in keys}
    if logy is None:
        allv = np.concatenate(list(series.values()))
        allv = allv[np.isfinite(allv)]
        logy = bool(allv.size) and bool(np.all(allv > 0))
    fig = _new_figure()
    ax = fig.add_subplot()
    for k, y in series.items():
        ax.plot(x, y, label=k, marker="." if len(x) < 30 else None)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize="small", frameon=False)
    return _save(fig, path, pdf)


def plot_precision_vs_calls(
    path: PathLike,
    series: Mapping[str, Sequence[tuple[float, float]]] | Sequence[tuple[float, float]],
    *,
    ylabel: str = r"test precision of $\Delta$ (see legend)",
    logx: bool = True,
    logy: bool = True,
    pdf: bool = False,
) -> Path:
    """Test precision against the number of oracle calls, e.g. active vs random acquisition.

    Parameters
    ----------
    path : path-like
        PNG file to write.
    series : mapping or sequence
        Series name → ``[(calls, value), ...]``; a bare list is one series called ``"active"``.
    ylabel : str
        y-axis label.
    logx, logy : bool
        Log axes (default both).
    pdf : bool
        Also write a PDF.
    """
    if not isinstance(series, Mapping):
        series = {"active": series}
    if not series:
        raise ValueError("plot_precision_vs_calls: no series given")
    fig = _new_figure()
    ax = fig.add_subplot()
    for name, pts in series.items():
        arr = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        if arr.shape[0] == 0:
            logger.warning("plot_precision_vs_calls: series %r is empty", name)
            continue
        arr = arr[np.argsort(arr[:, 0], kind="stable")]
        ax.plot(arr[:, 0], arr[:, 1], marker="o", ms=3, label=str(name))
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("oracle calls")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small", frameon=False)
    return _save(fig, path, pdf)


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
    a_true: np.ndarray,
    observables: Mapping[str, np.ndarray],
    history: Sequence[Mapping[str, Any]] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    train: tuple[Prediction, np.ndarray] | None = None,
    set_name: str = "test",
    precision_curves: Mapping[str, Sequence[tuple[float, float]]] | None = None,
    bins: int = 40,
    pdf: bool = False,
) -> list[Path]:
    """Write the standard figures for one evaluated set into ``folder``.

    Files: ``delta.png``, ``delta_log.png`` (with ``train`` overlaid when given), ``pulls.png``,
    ``kin_<observable>.png`` per observable, ``loss.png`` (if ``history``), ``precision_vs_calls.png``
    (if ``precision_curves``).

    Parameters
    ----------
    folder : path-like
        Output folder (created).
    prediction : Prediction
        Prediction for the N points of the set.
    a_true : numpy.ndarray
        Shape ``(N,)``.
    observables : mapping
        Name → shape ``(N,)`` values, e.g. from :func:`kinematic_observables`.
    history : sequence of mapping, optional
        Per-epoch loss records (see :func:`plot_loss_history`).
    labels : mapping, optional
        Name → axis label; default :func:`observable_label`.
    train : (Prediction, numpy.ndarray), optional
        Training-set prediction and truth for the Δ overlay.
    set_name : str
        Name of the evaluated set in legends.
    precision_curves : mapping, optional
        See :func:`plot_precision_vs_calls`.
    bins : int
        Bins of the kinematic histograms.
    pdf : bool
        Also write PDFs.

    Returns
    -------
    list of pathlib.Path
        The PNG files written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
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
                pdf=pdf,
            )
        )
    paths += _learning_figures(folder, history, precision_curves, pdf)
    logger.info("wrote %d figures to %s", len(paths), folder)
    return paths


# --------------------------------------------------------------------------------------------------
# Vector-valued surrogates (several signed outputs per point, e.g. VVAMP coefficients)


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
    :func:`activeamp.surrogate.metrics.evaluate_vector_prediction`); each panel's legend gives the 68 % half-width.

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
    fig = _new_figure((3.0 * cols, 2.4 * rows))
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
    return _save(fig, path, pdf)


def write_vector_report(
    folder: PathLike,
    prediction: Prediction,
    truth: np.ndarray,
    names: Sequence[str],
    observables: Mapping[str, np.ndarray],
    history: Sequence[Mapping[str, Any]] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    precision_curves: Mapping[str, Sequence[tuple[float, float]]] | None = None,
    bins: int = 30,
    pdf: bool = False,
) -> list[Path]:
    """The standard figures for a vector-valued surrogate on one set.

    Files: ``residuals.png`` (all outputs), per output ``pulls_<name>.png`` and ``kin_<observable>_<name>.png``
    (the output summed per bin of the observable, truth vs network with σ_h bands, without normalisation since
    outputs are signed), ``loss.png`` (if ``history``), ``precision_vs_calls.png`` (if ``precision_curves``).

    Parameters
    ----------
    prediction : Prediction
        Arrays ``(N, K)`` (samples ``(M, N, K)`` for the σ_h,pred bands).
    truth : numpy.ndarray
        Shape ``(N, K)``.
    names : sequence of str
        The K output names.
    observables : mapping
        Name → shape ``(N,)`` values, e.g. from :func:`vv_observables`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    labels = {**VV_LABELS, **dict(labels or {})}
    truth = np.asarray(truth, dtype=np.float64)
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
    paths += _learning_figures(folder, history, precision_curves, pdf)
    logger.info("wrote %d figures to %s", len(paths), folder)
    return paths
