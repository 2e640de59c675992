"""Tests for activeamp.report.learning_curves: loss and precision-vs-calls figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from activeamp.report.learning_curves import plot_loss_history, plot_precision_vs_calls
from tests.report.conftest import assert_png


def test_plot_learning_curves(tmp_path: Path) -> None:
    history = [{"epoch": e, "train_loss": -1.0 - e, "val_loss": -0.9 - e, "lr": 1e-3} for e in range(5)]
    assert_png(plot_loss_history(tmp_path / "loss.png", history))
    with pytest.raises(ValueError, match=r"keys \['nope'\] not found; numeric keys: \['epoch', 'lr'"):
        plot_loss_history(tmp_path / "x.png", history, keys=["nope"])
    curves = {"active": [(100, 0.1), (1000, 0.02)], "random": [(1000, 0.05), (100, 0.12)]}
    assert_png(plot_precision_vs_calls(tmp_path / "calls.png", curves))
    assert_png(plot_precision_vs_calls(tmp_path / "calls1.png", [(10, 1.0), (20, 0.5)]))
