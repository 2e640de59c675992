"""Tests of atomic writes: all or nothing, no temporary files left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from activeamp.atomic import atomic_open, write_atomic


def test_write_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "state.json"
    write_atomic(target, "old\n")
    write_atomic(target, b"new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "model.pt"
    write_atomic(target, b"good")
    with pytest.raises(RuntimeError, match="crash"), atomic_open(target, "wb") as fh:
        fh.write(b"partial")
        raise RuntimeError("crash while writing")
    assert target.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_atomic_files_get_the_permissions_of_a_plain_open(tmp_path: Path) -> None:
    import os

    umask = os.umask(0o022)
    try:
        path = write_atomic(tmp_path / "plain.txt", "x")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644
