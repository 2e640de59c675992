"""Files of the experiment folder, a local path or a URI (``s3://...``): atomic writes and tolerant reads."""

from __future__ import annotations

import pyarrow.fs as pafs

from activeamp.atomic import write_atomic

__all__ = ["read_file", "write_file"]


def _is_uri(folder: str) -> bool:
    return "://" in folder


def write_file(folder: str, name: str, data: bytes) -> str:
    """Write ``data`` to ``<folder>/<name>`` (the folder is created) and return that path or URI.

    Local folders get an atomic write (:func:`activeamp.atomic.write_atomic`); on an object store the upload
    becomes visible only once complete.
    """
    target = folder.rstrip("/") + "/" + name
    if not _is_uri(folder):
        write_atomic(target, data)
        return target
    fs, path = pafs.FileSystem.from_uri(folder)
    fs.create_dir(path, recursive=True)
    with fs.open_output_stream(f"{path}/{name}") as out:
        out.write(data)
    return target


def read_file(folder: str, name: str) -> bytes | None:
    """The bytes of ``<folder>/<name>``, or None when it does not exist or cannot be read."""
    if _is_uri(folder):
        fs, path = pafs.FileSystem.from_uri(folder)
    else:
        fs, path = pafs.LocalFileSystem(), folder
    try:
        with fs.open_input_stream(f"{path}/{name}") as stream:
            return stream.read()
    except (FileNotFoundError, OSError):
        return None
