"""Tests of the data commands (activeamp.cli.data): sample, label, info, export, import, dataset, oracles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.cli.commands import VECTOR_DATA, run


def test_sample_label_info_export_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "st")
    assert run(capsys, "sample", "--store", store, "-n", "400", "--seed", "3")[0] == 0
    assert run(capsys, "sample", "--store", store, "-n", "100", "--split", "test", "--seed", "3")[0] == 0
    code, out, _ = run(
        capsys,
        "label",
        "--store",
        store,
        "--oracle",
        "mock",
        "-o",
        "nan_rate=0.05",
        "--no-progress",
        "--batch-size",
        "64",
    )
    assert code == 0 and "labelled 500 points with mock" in out
    code, out, _ = run(capsys, "info", "--store", store, "--json")
    summary = json.loads(out)
    assert summary["n_points"] == 500 and summary["process"] == "gg_yyg"
    n_ok = sum(c.get("ok", 0) for c in summary["counts"].values())
    assert 430 < n_ok < 500
    code, out, _ = run(capsys, "info", "--store", store, "--validate")
    assert code == 0 and "store is valid" in out and "train" in out
    h5 = str(tmp_path / "ok.h5")
    code, out, _ = run(capsys, "export", "--store", store, "--out", h5)
    assert code == 0 and f"exported {n_ok} points" in out
    code, out, _ = run(capsys, "import", "--store", str(tmp_path / "copy"), "--h5", h5)
    assert code == 0 and f"imported {n_ok} points" in out
    code, _, err = run(capsys, "import", "--store", str(tmp_path / "copy"), "--h5", h5)
    assert code == 2 and "already have a label" in err and "\n" == err[-1] and err.count("\n") == 1


def test_import_npy_pair(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import physical_points

    p = physical_points("gg_yy", 50)
    np.save(tmp_path / "p.npy", p)
    np.save(tmp_path / "a.npy", np.linspace(1.0, 2.0, 50))
    code, out, _ = run(
        capsys, "import", "--store", str(tmp_path / "s"), "--process", "gg_yy", "--npy", str(tmp_path / "p.npy"),
        str(tmp_path / "a.npy"),
    )  # fmt: skip
    assert code == 0 and "imported 50 points" in out


def test_import_refuses_unphysical_points_naming_file_and_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import h5py

    from tests.conftest import physical_points, unphysical

    p = unphysical(physical_points("gg_yy", 20), "px")  # +10 GeV in px at rows 3 and 5
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f.create_dataset("momenta", data=p)
        f.create_dataset("amplitude", data=np.ones(20))
        f.attrs["process"] = "gg_yy"
    np.save(tmp_path / "p.npy", p)
    np.save(tmp_path / "a.npy", np.ones(20))
    store = str(tmp_path / "s")
    code, _, err = run(capsys, "import", "--store", store, "--h5", str(tmp_path / "bad.h5"))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"{tmp_path / 'bad.h5'}:/momenta: momentum not conserved at point 3" in err
    assert "2 of 20 points fail this check, at rows 3, 5" in err
    assert not (tmp_path / "s").exists()  # a bad file creates no store
    npy = ["--npy", str(tmp_path / "p.npy"), str(tmp_path / "a.npy")]
    code, _, err = run(capsys, "import", "--store", store, "--process", "gg_yy", *npy)
    assert code == 2 and err.count("\n") == 1
    assert f"{tmp_path / 'p.npy'}: momentum not conserved at point 3" in err and "at rows 3, 5" in err
    assert not (tmp_path / "s").exists()


def test_import_outside_the_cuts_needs_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from activeamp.physics.cuts import paper_cuts
    from tests.conftest import physical_points

    p = physical_points("gg_yyg", 300, seed=11, cuts=False)
    n_out = int((~paper_cuts("gg_yyg").mask(p, "gg_yyg")).sum())
    assert 0 < n_out < 300
    np.save(tmp_path / "p.npy", p)
    np.save(tmp_path / "a.npy", np.ones(300))
    argv = ["import", "--store", str(tmp_path / "s"), "--process", "gg_yyg"]
    argv += ["--npy", str(tmp_path / "p.npy"), str(tmp_path / "a.npy")]
    code, _, err = run(capsys, *argv)
    assert code == 2 and err.count("\n") == 1
    assert f"p.npy: point {int(np.argmax(~paper_cuts('gg_yyg').mask(p, 'gg_yyg')))} is outside the cuts" in err
    assert f"{n_out} of 300 points fail this check" in err and "--allow-outside-cuts" in err
    assert not (tmp_path / "s").exists()  # refused before a store was created for the file
    with caplog.at_level("WARNING", logger="activeamp.data.interchange"):
        code, out, _ = run(capsys, *argv, "--allow-outside-cuts")
    assert code == 0 and "imported 300 points" in out
    assert f"{n_out} of 300 points lie outside the cuts of gg_yyg" in caplog.text


def test_dataset_writes_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "data"
    code, out, _ = run(
        capsys, "dataset", "--out", str(out_dir), "--no-progress", "--set", "n_train=300", "--set", "n_test=100"
    )
    assert code == 0 and "data set folder" in out and "oracle gg_yyg" in out
    assert (out_dir / "config.yaml").exists() and (out_dir / "store" / "store.json").exists()
    assert "train       ok 300" in (out_dir / "summary.txt").read_text()


def test_unknown_oracle_lists_available(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "sample", "--store", str(tmp_path / "s"), "-n", "5")
    code, _, err = run(capsys, "label", "--store", str(tmp_path / "s"), "--oracle", "nope")
    assert code == 2 and "unknown oracle 'nope'; available oracles:" in err and "mock" in err
    code, out, _ = run(capsys, "oracles")
    assert code == 0 and "mock" in out.split()


def test_info_export_import_of_a_vector_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    code, out, _ = run(
        capsys,
        "dataset",
        "--out",
        str(data),
        "--no-progress",
        *VECTOR_DATA,
        "--set",
        "n_train=150",
        "--set",
        "n_test=50",
    )
    assert code == 0 and "oracle mock_vv" in out
    code, out, _ = run(capsys, "info", "--store", str(data / "store"), "--json")
    summary = json.loads(out)
    assert summary["outputs"] == ["c1", "c2"] and summary["amplitude_min"] is None
    low, high = summary["values_min"], summary["values_max"]
    assert len(low) == 2 and low[1] < 0 < high[1]  # signed outputs
    code, out, _ = run(capsys, "info", "--store", str(data / "store"))
    lines = out.splitlines()
    assert code == 0 and "  outputs: 2 per point (c1, c2)" in lines and "amplitude" not in out
    assert f"  c1 (ok points): min {low[0]:.4g}, max {high[0]:.4g}" in lines
    assert f"  c2 (ok points): min {low[1]:.4g}, max {high[1]:.4g}" in lines
    h5 = str(tmp_path / "vv.h5")
    code, out, _ = run(capsys, "export", "--store", str(data / "store"), "--out", h5)
    assert code == 0 and "exported 200 points" in out
    code, out, _ = run(capsys, "import", "--store", str(tmp_path / "copy"), "--h5", h5)  # a new vector store
    assert code == 0 and "imported 200 points" in out
    code, out, _ = run(capsys, "info", "--store", str(tmp_path / "copy"), "--json")
    assert json.loads(out)["values_max"] == high
