"""The store directory: file listing, reading, removal and atomic writes through ``pyarrow.fs``."""

from __future__ import annotations

import os
import secrets

import pyarrow as pa
import pyarrow.fs as pafs

__all__ = ["MANIFEST_NAME", "TMP_PREFIX", "StoreDir", "is_missing_file"]

#: Name of the manifest at the store root.
MANIFEST_NAME: str = "store.json"
#: Prefix of the temporary files of writes in progress (or interrupted).
TMP_PREFIX = ".tmp-"


def is_missing_file(exc: BaseException) -> bool:
    """True if ``exc`` says that a file does not exist (as Python or as Arrow words it)."""
    return isinstance(exc, FileNotFoundError) or "No such file" in str(exc)


class StoreDir:
    """File operations on the store directory through ``pyarrow.fs`` (local paths get fsync'd atomic writes).

    Parameters
    ----------
    path : str or os.PathLike
        The directory, or a ``pyarrow.fs`` URI (``scheme://...``).
    filesystem : pyarrow.fs.FileSystem, optional
        Filesystem holding ``path`` (default: local, or derived from a URI).
    """

    def __init__(self, path: str | os.PathLike[str], filesystem: pafs.FileSystem | None = None) -> None:
        path = os.fspath(path)
        if filesystem is None:
            if "://" in path:
                filesystem, path = pafs.FileSystem.from_uri(path)
            else:
                filesystem, path = pafs.LocalFileSystem(), os.path.abspath(path)
        self.fs = filesystem
        self.root = path.rstrip("/") or "/"
        self.local = isinstance(filesystem, pafs.LocalFileSystem)

    def path(self, name: str) -> str:
        """Full path of the entry ``name`` of the directory."""
        return f"{self.root}/{name}"

    def exists(self, name: str | None = None) -> bool:
        """Whether ``name`` (None: the directory itself) exists."""
        target = self.root if name is None else self.path(name)
        return self.fs.get_file_info(target).type != pafs.FileType.NotFound

    def listdir(self) -> list[pafs.FileInfo]:
        """Entries of the directory (not recursive), sorted by name."""
        return sorted(self.fs.get_file_info(pafs.FileSelector(self.root, recursive=False)), key=lambda i: i.base_name)

    def read_bytes(self, name: str) -> bytes:
        """Whole content of the file ``name``."""
        with self.fs.open_input_stream(self.path(name)) as f:
            return f.read()

    def remove(self, name: str) -> bool:
        """Delete the file ``name``; False if it was already gone."""
        try:
            self.fs.delete_file(self.path(name))
        except FileNotFoundError:
            return False
        return True

    def fsync_dir(self) -> None:
        """Make renames and removals in the directory durable (local filesystems; a no-op elsewhere)."""
        if not self.local or not hasattr(os, "O_DIRECTORY"):
            return
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def write_atomic(self, name: str, data: bytes | pa.Buffer, *, exclusive: bool = False) -> None:
        """Write ``data`` to ``name`` so that readers see either nothing or the whole file.

        The bytes go to a ``.tmp-`` file in the same directory, are flushed and fsync'd, and the file
        is then renamed into place (``exclusive``: hard-linked, failing if ``name`` exists); finally
        the directory is fsync'd.
        """
        tmp = f"{TMP_PREFIX}{name}.{secrets.token_hex(4)}"
        if not self.local:
            if exclusive and self.exists(name):
                raise FileExistsError(self.path(name))
            with self.fs.open_output_stream(self.path(tmp)) as out:
                out.write(data)
            self.fs.move(self.path(tmp), self.path(name))
            return
        tmp_path, final = self.path(tmp), self.path(name)
        try:
            with open(tmp_path, "xb") as f:
                f.write(memoryview(data))
                f.flush()
                os.fsync(f.fileno())
            if exclusive:
                os.link(tmp_path, final)
                os.unlink(tmp_path)
            else:
                os.replace(tmp_path, final)
        except BaseException:
            try:
                os.unlink(tmp_path)
            except FileNotFoundError:
                pass
            raise
        self.fsync_dir()
