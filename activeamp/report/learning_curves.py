"""Learning curves: loss values against epoch, and test precision against the number of oracle calls."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from activeamp.report.figures import PathLike, new_figure, save_figure

__all__ = ["plot_loss_history", "plot_precision_vs_calls"]

logger = logging.getLogger(__name__)


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
    fig = new_figure()
    ax = fig.add_subplot()
    for k, y in series.items():
        ax.plot(x, y, label=k, marker="." if len(x) < 30 else None)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize="small", frameon=False)
    return save_figure(fig, path, pdf)


def plot_precision_vs_calls(
    path: PathLike,
    series: Mapping[str, Sequence[tuple[float, float]]] | Sequence[tuple[float, float]],
    *,
    ylabel: str = r"precision of $\Delta = A_\mathrm{NN}/A_\mathrm{true}-1$ on the test set (legend: which)",
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
    fig = new_figure()
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
    return save_figure(fig, path, pdf)
