"""Tests of the surrogate commands (activeamp.cli.surrogate): train, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.commands import VECTOR_DATA, run


def test_train_and_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    code, _, _ = run(
        capsys, "dataset", "--out", str(data), "--no-progress", "--set", "n_train=400", "--set", "n_test=100",
        "--set", "oracle.name=mock",
    )  # fmt: skip
    assert code == 0
    model_dir = tmp_path / "model"
    code, out, _ = run(
        capsys, "train", "--store", str(data / "store"), "--out", str(model_dir), "--no-progress",
        "--set", "surrogate.max_epochs=5", "--set", "surrogate.hidden=[8, 8]", "--set", "validation_fraction=0.2",
    )  # fmt: skip
    assert code == 0 and "trained on 320 points (80 validation)" in out and (model_dir / "model.pt").exists()
    code, out, _ = run(
        capsys, "evaluate", "--model", str(model_dir / "model.pt"), "--store", str(data / "store"),
        "--out", str(tmp_path / "eval"), "-M", "5", "--no-plots",
    )  # fmt: skip
    assert code == 0 and "top 1%" in out.lower() and (tmp_path / "eval" / "metrics.json").exists()
    code, _, err = run(
        capsys, "train", "--store", str(data / "store"), "--out", str(model_dir), "--set", "surrogate.lrr=1"
    )
    assert code == 2 and "surrogate.lrr" in err


def test_train_and_evaluate_a_vector_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    code, _, _ = run(
        capsys, "dataset", "--out", str(data), "--no-progress", *VECTOR_DATA, "--set", "n_train=200",
        "--set", "n_test=60",
    )  # fmt: skip
    assert code == 0
    store, model_dir = str(data / "store"), tmp_path / "model"
    small = ("--set", "surrogate.max_epochs=3", "--set", "surrogate.hidden=[8, 8]", "--set", "validation_fraction=0.2")
    code, _, err = run(capsys, "train", "--store", store, "--out", str(model_dir), "--no-progress", *small)
    assert code == 2 and "surrogate.target_transform: " in err and "(c1, c2)" in err and err.count("\n") == 1
    code, out, _ = run(
        capsys, "train", "--store", store, "--out", str(model_dir), "--no-progress", *small,
        "--set", "surrogate.target_transform=signed", "--evaluate",
    )  # fmt: skip
    assert code == 0 and "trained on 160 points (40 validation)" in out
    assert "worst output: train" in out and (model_dir / "eval" / "residuals.png").exists()
    code, out, _ = run(
        capsys, "evaluate", "--model", str(model_dir / "model.pt"), "--store", store, "--out", str(tmp_path / "eval"),
        "-M", "5", "--split", "test",
    )  # fmt: skip
    lines = out.splitlines()
    assert code == 0 and lines[1].split()[:3] == ["set", "output", "N"]
    assert lines[2].split()[:3] == ["test", "c1", "60"] and lines[3].split()[:3] == ["test", "c2", "60"]
    doc = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert set(doc["sets"]["test"]["per_output"]) == {"c1", "c2"}
    assert (tmp_path / "eval" / "pulls_c2.png").exists() and (tmp_path / "eval" / "kin_sqrt_s_c1.png").exists()
    code, _, _ = run(
        capsys, "dataset", "--out", str(tmp_path / "gg"), "--no-progress", "--set", "oracle.name=mock",
        "--set", "phasespace.process=gg_yy", "--set", "n_train=0", "--set", "n_test=20",
    )  # fmt: skip
    assert code == 0  # a scalar store with the momentum shape of uu_ZZ
    code, _, err = run(
        capsys, "evaluate", "--model", str(model_dir / "model.pt"), "--store", str(tmp_path / "gg" / "store"),
        "--out", str(tmp_path / "e2"), "--split", "test",
    )  # fmt: skip
    assert code == 2 and "the model has 2 outputs but the store holds scalar amplitudes" in err
