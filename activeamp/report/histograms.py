"""Amplitude-weighted histograms of an observable, truth vs network, with the BNN bands σ_h,model, σ_h,pred."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from activeamp.surrogate.prediction import Prediction

__all__ = ["HistogramBands", "histogram_bands"]


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
    truth_error : numpy.ndarray or None
        Shape ``(B,)``: the statistical error of the truth histogram from the finite sample,
        sqrt(Σ_{j∈bin} A_true,j²): large where a few large amplitudes dominate a bin.
    below, above : int
        Finite values left of the first edge and right of the last one (not drawn).

    All amplitude-weighted entries share one normalisation (see ``density`` in :func:`histogram_bands`).
    """

    edges: np.ndarray
    truth: np.ndarray | None
    network: np.ndarray
    sigma_model: np.ndarray
    sigma_pred: np.ndarray | None
    count: np.ndarray
    truth_error: np.ndarray | None = None
    below: int = 0
    above: int = 0


def _auto_edges(values: Sequence[np.ndarray], bins: int) -> np.ndarray:
    """Equal bins from the smallest value (so the cut region is covered) to the 99.9 % quantile (1 000 values or
    more; else the largest): a long upper tail does not squash the plot, and the figures state what lies above."""
    finite = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in values])
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    lo = finite.min()
    hi = np.quantile(finite, 0.999) if finite.size >= 1000 else finite.max()
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
    truth_error = None if a_true is None else np.sqrt(hist(np.asarray(a_true, dtype=np.float64) ** 2))
    finite = np.isfinite(x)
    below, above = int(np.sum(finite & (x < edges[0]))), int(np.sum(finite & (x > edges[-1])))
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
        truth_error = None if truth_error is None else truth_error * scale
        sigma_pred = None if sigma_pred is None else sigma_pred * scale
    return HistogramBands(edges, truth, network, sigma_model, sigma_pred, count, truth_error, below, above)
