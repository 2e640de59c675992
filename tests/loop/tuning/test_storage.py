"""Tests of the experiment-folder files: atomic local writes, URIs, tolerant reads."""

from __future__ import annotations

from pathlib import Path

from activeamp.loop.tuning.storage import read_file, write_file


def test_local_write_is_atomic_and_creates_the_folder(tmp_path: Path) -> None:
    folder = str(tmp_path / "tune" / "search")
    assert write_file(folder, "trials.txt", b"first\n") == f"{folder}/trials.txt"
    assert write_file(folder + "/", "trials.txt", b"second\n") == f"{folder}/trials.txt"  # replaced as a whole
    assert (tmp_path / "tune" / "search" / "trials.txt").read_bytes() == b"second\n"
    assert sorted(p.name for p in (tmp_path / "tune" / "search").iterdir()) == ["trials.txt"]  # no temporary left
    assert read_file(folder, "trials.txt") == b"second\n"


def test_uri_folders_and_missing_files(tmp_path: Path) -> None:
    uri = f"file://{tmp_path}/remote"
    assert write_file(uri, "best_run.yaml", b"surrogate: {}\n") == f"{uri}/best_run.yaml"
    assert (tmp_path / "remote" / "best_run.yaml").read_bytes() == b"surrogate: {}\n"
    assert read_file(uri, "best_run.yaml") == b"surrogate: {}\n"
    assert read_file(uri, "missing.yaml") is None
    assert read_file(str(tmp_path / "nothing"), "trials.txt") is None
