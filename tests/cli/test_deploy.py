"""Tests of the deployment commands (activeamp.cli.deploy): predict, export-model, generate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from activeamp.cli.deploy import FORMATS, parse_formats
from tests.cli.commands import run

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny default g g → γ γ surrogate (symmetry images and envelope), trained on one torch thread."""
    import torch

    from activeamp.surrogate.surrogate import Surrogate
    from oracles.mock import MockOracle
    from tests.conftest import physical_points

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = physical_points("gg_yy", 300, seed=1)
        s = Surrogate({"hidden": [8, 8], "max_steps": 50, "batch_size": 64, "process": "gg_yy", "seed": 1})
        s.fit(x, MockOracle(process="gg_yy")(x), progress=False)
        return s.save(tmp_path_factory.mktemp("model") / "model.pt")
    finally:
        torch.set_num_threads(threads)


def test_formats_are_parsed_from_repeated_and_comma_separated_options() -> None:
    from activeamp.deploy.export import DEFAULT_FORMATS
    from activeamp.deploy.export import FORMATS as LIBRARY_FORMATS

    assert FORMATS == LIBRARY_FORMATS and parse_formats(None) == DEFAULT_FORMATS
    assert parse_formats(["onnx,pt2", "aoti", "pt2"]) == ("onnx", "pt2", "aoti")
    with pytest.raises(ValueError, match="--format: tflite is not one of pt2, onnx, aoti"):
        parse_formats(["pt2,tflite"])


def test_export_model_writes_the_artefacts(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnxruntime", reason="the ONNX export needs activeamp[export]")
    out = tmp_path / "export"
    code, stdout, err = run(capsys, "export-model", "--model", str(model), "--out", str(out), "--check", "50")
    assert code == 0, err
    lines = stdout.splitlines()
    assert lines[0].startswith(f"pt2: {out / 'surrogate.pt2'} (max relative difference ")
    assert lines[1].startswith(f"onnx: {out / 'surrogate.onnx'} (max relative difference ")
    assert lines[1].endswith(" on 50 points)")
    assert lines[2] == f"metadata: {out / 'export.json'}" and len(lines) == 3
    doc = json.loads((out / "export.json").read_text())
    assert doc["process"] == "gg_yy" and doc["amplitude_units"] == "1" and doc["check"]["n_points"] == 50
    assert set(doc["check"]["max_rel_diff"]) == {"pt2", "onnx"}  # the agreement itself: tests/deploy/test_export.py


def test_one_format_without_check(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "export"
    code, stdout, _ = run(capsys, "export-model", "--model", str(model), "--out", str(out), "--format", "pt2",
                          "--check", "0")  # fmt: skip
    assert code == 0 and stdout.splitlines()[0] == f"pt2: {out / 'surrogate.pt2'}"
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "surrogate.pt2"]


def test_mistakes_are_one_line_and_exit_2(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "out")
    code, _, err = run(capsys, "export-model", "--model", str(tmp_path / "none.pt"), "--out", out)
    assert code == 2 and "none.pt: no such checkpoint" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "notes.pt").write_text("not a checkpoint")
    code, _, err = run(capsys, "export-model", "--model", str(tmp_path / "notes.pt"), "--out", out)
    assert code == 2 and "not an activeamp surrogate checkpoint" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "export-model", "--model", str(model), "--out", out, "--format", "pt2,tflite")
    assert code == 2 and "--format: tflite is not one of" in err
    code, _, err = run(capsys, "export-model", "--model", str(model), "--out", out, "--check", "-1")
    assert code == 2 and "--check: must be >= 0" in err
    assert not (tmp_path / "out").exists()


def test_unsupported_models_and_missing_packages_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from activeamp.surrogate.surrogate import Surrogate
    from oracles.mock import MockOracle
    from tests.conftest import physical_points

    x = physical_points("gg_yy", 60, seed=2)
    ensemble = Surrogate({"family": "ensemble", "hidden": [4], "max_epochs": 1, "process": "gg_yy"})
    ensemble.fit(x, MockOracle(process="gg_yy")(x), progress=False)
    path = str(ensemble.save(tmp_path / "ensemble.pt"))
    code, _, err = run(capsys, "export-model", "--model", path, "--out", str(tmp_path / "out"), "--format", "pt2")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "export-model: error: family 'ensemble' is not supported: only 'laplace' (the default)" in err
    find_spec = importlib.util.find_spec
    hide = {"onnx", "onnxruntime"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in hide else find_spec(name, *a))
    code, _, err = run(capsys, "export-model", "--model", path, "--out", str(tmp_path / "out"))
    assert code == 2 and "needs the packages onnx, onnxruntime: pip install 'activeamp[export]'" in err


def test_generate_writes_events_and_a_report_and_refuses_a_missing_model(
    capsys: pytest.CaptureFixture[str], model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "gen"
    code, stdout, err = run(
        capsys, "generate", "--model", str(model), "--events", "50", "--out", str(out), "--oracle", "mock",
        "--direct", "50", "--pilot", "2000", "--ratio-pilot", "20", "--batch-size", "5000", "--format", "hdf5",
        "--no-progress",
    )
    assert code == 0, err
    assert "oracle calls per event" in stdout and "closure chi2/ndf" in stdout
    report = json.loads((out / "generate.json").read_text())
    assert report["two_stage"]["n_events"] >= 50 and (out / "events.h5").is_file() and (out / "closure.png").is_file()
    code, _, err = run(capsys, "generate", "--model", str(tmp_path / "none.pt"), "--events", "5", "--out", str(out))
    assert code == 2 and "none.pt" in err and len(err.strip().splitlines()) == 1


def test_predict_writes_every_point_and_names_mistakes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import h5py

    from activeamp.surrogate.surrogate import Surrogate
    from oracles.mock import MockOracle
    from tests.conftest import physical_points

    x = physical_points("gg_yy", 300, seed=1)
    model = Surrogate({"hidden": [8, 8], "max_steps": 50, "batch_size": 64, "process": "gg_yy", "seed": 1})
    model.fit(x, MockOracle(process="gg_yy")(x), progress=False)
    path = model.save(tmp_path / "model.pt")
    np.save(tmp_path / "m.npy", x[:120])
    code, out, err = run(capsys, "predict", "--model", str(path), "--npy", str(tmp_path / "m.npy"),
                         "--out", str(tmp_path / "p.h5"), "--chunk", "50", "--no-progress")
    assert code == 0 and "predicted 120 points" in out, err
    with h5py.File(tmp_path / "p.h5", "r") as f:
        assert f["mean"].shape == (120,) and f.attrs["units"] == "1"
    code, _, err = run(capsys, "predict", "--model", str(tmp_path / "none.pt"), "--npy", "m.npy", "--out", "p.h5")
    assert code == 2 and "none.pt: no such checkpoint" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "predict", "--model", str(path), "--out", str(tmp_path / "q.h5"))
    assert code == 2 and "exactly one input" in err
