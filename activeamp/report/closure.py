"""Closure test of two weighted event samples: normalised histograms, χ²/ndf per observable, and their figures."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from activeamp.report.figures import new_figure, save_figure
from activeamp.report.observables import observable_label

__all__ = ["Closure", "closure_test", "plot_closure"]


@dataclass(frozen=True)
class Closure:
    """Two samples' normalised histograms of one observable and their χ² (shape distributions only).

    Attributes
    ----------
    name : str
        The observable (:func:`activeamp.report.observables.kinematic_observables` name).
    edges : numpy.ndarray
        Shape ``(B + 1,)``: bin edges (observable units).
    first, second : numpy.ndarray
        Shape ``(B,)``: fraction of each sample's summed event weight per bin.
    first_error, second_error : numpy.ndarray
        Shape ``(B,)``: their statistical errors ``sqrt(Σ w²) / Σ w``.
    chi2 : float
        ``Σ_b (first − second)² / (first_error² + second_error²)`` over bins with entries.
    ndf : int
        Bins with entries minus one (the normalisation).
    """

    name: str
    edges: np.ndarray
    first: np.ndarray
    second: np.ndarray
    first_error: np.ndarray
    second_error: np.ndarray
    chi2: float
    ndf: int

    @property
    def chi2_per_ndf(self) -> float:
        """χ²/ndf (NaN without degrees of freedom)."""
        return self.chi2 / self.ndf if self.ndf > 0 else math.nan

    @property
    def p_value(self) -> float:
        """Probability of a χ² at least this large for ndf degrees of freedom (identical parent distributions)."""
        if self.ndf <= 0:
            return math.nan
        half = torch.tensor(self.ndf / 2.0, dtype=torch.float64)
        return float(torch.special.gammaincc(half, torch.tensor(self.chi2 / 2.0, dtype=torch.float64)))


def _fractions(values: np.ndarray, weights: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total = float(weights.sum())
    sums = np.histogram(values, edges, weights=weights)[0]
    squares = np.histogram(values, edges, weights=weights**2)[0]
    return sums / total, np.sqrt(squares) / total


def closure_test(
    name: str,
    first: tuple[np.ndarray, np.ndarray],
    second: tuple[np.ndarray, np.ndarray],
    bins: int = 20,
) -> Closure:
    """Compare the shapes of one observable in two weighted samples.

    Bins are quantiles of the pooled values (equal statistics per bin, which keeps the χ² Gaussian regime); the
    pooled range is cut at the 0.5 % and 99.5 % quantiles, and the points outside are dropped from both samples.

    Parameters
    ----------
    name : str
        The observable's name.
    first, second : (numpy.ndarray, numpy.ndarray)
        ``(values (N,), event weights (N,))`` of each sample.
    bins : int
        Number of bins B.
    """
    (x1, w1), (x2, w2) = first, second
    pooled = np.concatenate([x1, x2])
    edges = np.unique(np.quantile(pooled, np.linspace(0.005, 0.995, bins + 1)))
    f1, e1 = _fractions(x1, w1, edges)
    f2, e2 = _fractions(x2, w2, edges)
    var = e1**2 + e2**2
    used = var > 0
    chi2 = float(np.sum((f1[used] - f2[used]) ** 2 / var[used]))
    return Closure(name, edges, f1, f2, e1, e2, chi2, int(used.sum()) - 1)


def plot_closure(
    closures: list[Closure],
    path: Path,
    labels: tuple[str, str] = ("two-stage (surrogate + oracle)", "direct (oracle)"),
    pdf: bool = False,
) -> Path:
    """One panel per observable: both normalised distributions with errors, and their ratio with its error.

    Written to ``path`` (PNG, and PDF alongside when ``pdf``); returns the PNG path.
    """
    n = len(closures)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = new_figure((4.2 * cols, 3.6 * rows))
    grid = fig.add_gridspec(2 * rows, cols, height_ratios=[3, 1] * rows, hspace=0.08, wspace=0.32)
    for i, c in enumerate(closures):
        r, col = divmod(i, cols)
        top = fig.add_subplot(grid[2 * r, col])
        bottom = fig.add_subplot(grid[2 * r + 1, col], sharex=top)
        width = np.diff(c.edges)
        centre = 0.5 * (c.edges[1:] + c.edges[:-1])
        for frac, err, label, colour in ((c.first, c.first_error, labels[0], "C0"),
                                         (c.second, c.second_error, labels[1], "C1")):
            top.stairs(frac / width, c.edges, color=colour, label=label)
            top.errorbar(centre, frac / width, err / width, fmt="none", color=colour, lw=0.8)
        unit = observable_label(c.name)
        top.set_ylabel("normalised density" + (" [1/GeV]" if "[GeV]" in unit else ""), fontsize=8)
        top.set_title(f"χ²/ndf = {c.chi2:.1f}/{c.ndf} (p = {c.p_value:.2f})", fontsize=9)
        top.tick_params(labelbottom=False)
        if i == 0:
            top.legend(fontsize=7)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = c.first / c.second
            ratio_err = np.abs(ratio) * np.hypot(c.first_error / c.first, c.second_error / c.second)
        bottom.axhline(1.0, color="grey", lw=0.8)
        bottom.errorbar(centre, ratio, ratio_err, fmt="o", ms=2, color="C0", lw=0.8)
        bottom.set_ylabel("ratio", fontsize=8)
        bottom.set_xlabel(unit)
    return save_figure(fig, path, pdf)
