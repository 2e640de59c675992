"""Tests of the activeamp command: sub-commands work end to end, user mistakes give one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from activeamp.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


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


TINY_RUN = """
seed: 3
n_initial: 200
n_validation: 50
n_test: 100
pool: {n_actors: 1, num_cpus: 0.5, batch_size: 100}
surrogate: {max_epochs: 20, patience: 5, batch_size: 64, hidden: [8, 8], n_weight_samples: 5}
trainer: {round_epochs: 5, num_cpus: 0.5}
acquisition: {n_candidates: 500, batch_size: 40, n_weight_samples: 5}
budget: {max_rounds: 1}
plots: false
"""


def test_run_and_resume_extend_a_run(ray_local: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(TINY_RUN)
    out_dir = tmp_path / "run"
    code, out, _ = run(capsys, "run", "--config", str(config), "--out", str(out_dir), "--no-progress")
    assert code == 0, out
    assert "round 0: 250 oracle calls" in out and "round 1: 290 oracle calls" in out
    assert "run folder" in out and (out_dir / "model.pt").exists()
    code, _, err = run(capsys, "run", "--config", str(config), "--out", str(out_dir))
    assert code == 2 and "holds a run already; continue it with --resume" in err
    code, out, _ = run(capsys, "run", "--resume", str(out_dir), "--set", "budget.max_rounds=2", "--no-progress")
    assert code == 0 and "round 2: 330 oracle calls" in out and "round 1:" not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["info", "--store", "{tmp}/none"], "not a shard store (store.json missing)"),
        (["label", "--store", "{tmp}/none"], "not a shard store"),
        (["run", "--set", "n_trian=5"], "unknown key n_trian; allowed:"),
        (["run", "--config", "{tmp}/missing.yaml"], "missing.yaml: cannot read config file"),
        (["sample", "--store", "{tmp}/s", "-n", "0"], "--n-points: must be >= 1, got 0"),
        (["import", "--store", "{tmp}/s", "--h5", "{tmp}/no.h5", "--process", "gg_yy"], "no.h5"),
    ],
)
def test_user_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_unknown_oracle_lists_available(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "sample", "--store", str(tmp_path / "s"), "-n", "5")
    code, _, err = run(capsys, "label", "--store", str(tmp_path / "s"), "--oracle", "nope")
    assert code == 2 and "unknown oracle 'nope'; available oracles:" in err and "mock" in err
    code, out, _ = run(capsys, "oracles")
    assert code == 0 and "mock" in out.split()


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


VECTOR_DATA = (
    "--set",
    "phasespace.process=uu_ZZ",
    "--set",
    "oracle.name=mock_vv",
    "--set",
    "oracle.options.n_outputs=2",
)


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


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--set", "budget.bogus=1"], "budget.bogus"),
        (["run", "--config", "/nonexistent/run.yaml"], "/nonexistent/run.yaml"),
        (["run", "--resume", "/nonexistent/run"], "not a run folder"),
        (["train", "--store", "/nonexistent/store", "--out", "/tmp/unused"], "/nonexistent/store"),
        (["evaluate", "--model", "/no/model.pt", "--store", "/x", "--out", "/tmp/unused"], "no such checkpoint"),
    ],
)
def test_mistakes_are_reported_before_torch_and_ray_load(argv: list[str], message: str) -> None:
    """Argument and config errors come at once: the command fails before it imports torch or Ray."""
    import subprocess
    import sys

    script = (
        "import sys\nfrom activeamp.cli import main\nrc = main(sys.argv[1:])\n"
        "loaded = [m for m in ('torch', 'ray') if m in sys.modules]\n"
        "print('LOADED', ','.join(loaded))\nsys.exit(rc)\n"
    )
    run = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], run.stderr
    assert run.stdout.strip() == "LOADED", run.stdout
