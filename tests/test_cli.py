"""Tests of the activeamp command's error policy: user mistakes give one line and exit 2, before torch and Ray load."""

from __future__ import annotations

from pathlib import Path

import pytest

from activeamp.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err




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
