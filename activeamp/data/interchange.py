"""HDF5 and ``.npy`` import and export of labelled phase-space points for a shard store (scalar or vector labels)."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from activeamp.atomic import atomic_open
from activeamp.data.imported import (
    ImportedData,
    InterchangeError,
    attr_str,
    check_amplitude,
    check_cuts,
    check_file_momenta,
    check_ids,
    check_values,
    parse_outputs,
    resolve_process,
)
from activeamp.data.store import (
    STATUSES,
    ShardStore,
    StoreInputError,
    make_point_ids,
    momenta_from_arrow,
    values_from_arrow,
)
from activeamp.jsonio import plain
from activeamp.physics.process import Process, get_process

__all__ = [
    "InterchangeError",
    "ImportedData",
    "export_hdf5",
    "read_hdf5",
    "import_hdf5",
    "read_npy",
    "import_npy",
]

logger = logging.getLogger(__name__)



# --------------------------------------------------------------------------------------------- validation


# ------------------------------------------------------------------------------------------------- HDF5


def read_hdf5(
    path: str | os.PathLike[str],
    process: str | Process | None = None,
    *,
    momenta_key: str = "momenta",
    amplitude_key: str = "amplitude",
    ids_key: str = "point_id",
    values_key: str = "values",
    outputs: Sequence[str] | None = None,
) -> ImportedData:
    """Read and validate labelled points from an HDF5 file.

    Parameters
    ----------
    path : str or os.PathLike
        File with datasets ``/momenta`` ``(N, n, 4)`` (or ``(N, n*4)``) in GeV and ``/amplitude``
        ``(N,)``, optional ``/point_id`` ``(N,)`` strings, and optional attributes ``process`` and
        ``provenance`` (JSON string). Vector labels (as written by :func:`export_hdf5` for a vector store)
        are a dataset ``/values`` ``(N, K)`` instead of ``/amplitude``, with the attribute ``outputs`` (JSON
        list of the ``K`` names).
    process : str or Process, optional
        Expected process; required when the file has no ``process`` attribute.
    momenta_key, amplitude_key, ids_key, values_key : str
        Dataset names.
    outputs : sequence of str, optional
        Expected output names of vector labels (e.g. :attr:`ShardStore.outputs`): the file must then hold
        ``/values`` (and, if it has the attribute ``outputs``, the same names). Without it, a file with
        ``/amplitude`` is read as scalar labels and one with only ``/values`` as vector labels.

    Returns
    -------
    ImportedData

    Raises
    ------
    InterchangeError
        Naming file, dataset and problem: unreadable file, missing dataset, wrong shape for the
        process or outputs, N mismatch, non-finite or negative values, unphysical momenta (non-positive
        energies, momentum not conserved, off-shell massless particles: the rows), process or outputs
        mismatch, bad ids.
    """
    path = os.fspath(path)
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise InterchangeError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        vector = outputs is not None or (amplitude_key not in f and values_key in f)
        for key in (momenta_key, values_key if vector else amplitude_key):
            if key not in f or not isinstance(f[key], h5py.Dataset):
                raise InterchangeError(
                    f"{path}: dataset '/{key}' missing (file has: {', '.join(sorted(f.keys())) or 'nothing'})"
                    + (f"; vector labels with outputs {list(outputs)} need '/{values_key}'" if outputs else "")
                )
        attrs = dict(f.attrs)
        proc = resolve_process(process, attr_str(attrs["process"]) if "process" in attrs else None, path)
        momenta = check_file_momenta(f[momenta_key][()], proc, f"{path}:/{momenta_key}")
        values = names = None
        if vector:
            names = parse_outputs(attrs["outputs"], path) if "outputs" in attrs else None
            if outputs is not None and names is not None and tuple(outputs) != names:
                raise InterchangeError(f"{path}: attribute 'outputs' is {list(names)}, expected {list(outputs)}")
            if names is None:
                if outputs is None:
                    raise InterchangeError(
                        f"{path}: no attribute 'outputs' naming the columns of '/{values_key}'; pass outputs="
                    )
                names = tuple(outputs)
            values = check_values(
                f[values_key][()], momenta.shape[0], names, f"{path}:/{values_key}", f"/{momenta_key}"
            )
            amplitude = np.full(momenta.shape[0], np.nan)
        else:
            amplitude = check_amplitude(
                f[amplitude_key][()], momenta.shape[0], f"{path}:/{amplitude_key}", f"/{momenta_key}"
            )
        ids = None
        if ids_key in f:
            ids = check_ids(f[ids_key][()], momenta.shape[0], f"{path}:/{ids_key}")
        provenance: dict[str, Any] = {}
        if "provenance" in attrs:
            text = attr_str(attrs["provenance"])
            try:
                parsed = json.loads(text)
                provenance = parsed if isinstance(parsed, dict) else {"value": parsed}
            except ValueError:
                logger.warning("%s: attribute 'provenance' is not JSON; kept as text", path)
                provenance = {"text": text}
    return ImportedData(momenta, amplitude, proc.name, ids, provenance, os.path.abspath(path), values, names)


def export_hdf5(
    store: ShardStore,
    path: str | os.PathLike[str],
    *,
    split: str | list[str] | None = None,
    status: str | list[str] = "ok",
    include_ids: bool = True,
    compression: str | None = None,
) -> int:
    """Write points of a store to an HDF5 file (atomically: temporary file, fsync, rename).

    Datasets: ``/momenta`` ``(N, n, 4)`` float64 [GeV], ``/amplitude`` ``(N,)`` float64 (NaN where a
    point has no value), ``/point_id`` ``(N,)`` strings (with ``include_ids``) and ``/status``
    ``(N,)`` strings when statuses other than ``ok`` are exported. Attributes: ``process``,
    ``description``, ``n_particles``, ``momentum_units``, ``amplitude_units``, ``schema_version`` and
    ``provenance`` (JSON: store, selection, export time and the provenance of every oracle involved).

    A vector store (:attr:`ShardStore.outputs`) writes ``/values`` ``(N, K)`` float64 (NaN rows where a point
    has no value) instead of ``/amplitude``, and the attribute ``outputs`` (JSON list of the ``K`` names)
    instead of ``amplitude_units``.

    Parameters
    ----------
    store : ShardStore
        Source store (resolved view).
    path : str or os.PathLike
        Output file; replaced if it exists.
    split : str or list of str, optional
        Splits to export (default all).
    status : str or list of str
        Resolved statuses to export (default ``"ok"``: labelled training data).
    include_ids : bool
        Write ``/point_id``.
    compression : str, optional
        h5py compression filter for the datasets (e.g. ``"gzip"``).

    Returns
    -------
    int
        Number of points written.
    """
    path = os.fspath(path)
    statuses = [status] if isinstance(status, str) else list(status)
    for s in statuses:
        if s not in STATUSES:
            raise InterchangeError(f"{path}: unknown status {s!r}; allowed: {', '.join(STATUSES)}")
    vector = store.outputs is not None
    label = "values" if vector else "amplitude"
    table = store.read(split, statuses, ["point_id", "momenta", label, "status", "oracle", "provenance"])
    momenta = momenta_from_arrow(table["momenta"], store.process)
    if vector:
        labels = values_from_arrow(table["values"], len(store.outputs or ()))
    else:
        labels = table["amplitude"].to_numpy(zero_copy_only=False).astype(np.float64)
    oracles: dict[str, Any] = {}
    for name, prov in set(zip(table["oracle"].to_pylist(), table["provenance"].to_pylist(), strict=True)):
        if name is not None:
            oracles.setdefault(name, []).append(json.loads(prov) if prov else {})
    proc = store.process
    provenance = {
        "store": store.path,
        "store_created": store.manifest.get("created"),
        "split": split,
        "status": statuses,
        "exported": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "oracles": oracles,
    }
    target = Path(path).absolute()
    # "w+b": HDF5 reads back what it has written, so the temporary file is opened for reading too
    with atomic_open(target, "w+b") as fh, h5py.File(fh, "w") as f:
        f.attrs["process"] = proc.name
        f.attrs["description"] = proc.description
        f.attrs["n_particles"] = proc.n_particles
        f.attrs["momentum_units"] = "GeV"
        if vector:
            f.attrs["outputs"] = json.dumps(list(store.outputs or ()))
        else:
            f.attrs["amplitude_units"] = proc.amplitude_units
        f.attrs["schema_version"] = store.manifest["schema_version"]
        f.attrs["provenance"] = json.dumps(plain(provenance), sort_keys=True, default=str)
        f.create_dataset("momenta", data=momenta, dtype=np.float64, compression=compression)
        f.create_dataset(label, data=labels, dtype=np.float64, compression=compression)
        if include_ids:
            f.create_dataset(
                "point_id", data=table["point_id"].to_pylist(), dtype=h5py.string_dtype(), compression=compression
            )
        if statuses != ["ok"]:
            f.create_dataset(
                "status", data=table["status"].to_pylist(), dtype=h5py.string_dtype(), compression=compression
            )
    logger.info("exported %d points of %s to %s", table.num_rows, store.path, target)
    return table.num_rows


# -------------------------------------------------------------------------------------------------- .npy


def _load_npy(path: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False, mmap_mode=None)
    except (OSError, ValueError, EOFError) as exc:
        raise InterchangeError(f"{path}: not a readable .npy file ({exc})") from None


def read_npy(
    momenta_path: str | os.PathLike[str],
    amplitude_path: str | os.PathLike[str],
    process: str | Process,
    *,
    outputs: Sequence[str] | None = None,
) -> ImportedData:
    """Read and validate a momenta/amplitude pair of ``.npy`` files (as written by earlier amplitude-network code).

    Parameters
    ----------
    momenta_path : str or os.PathLike
        Array ``(N, n, 4)`` or flattened ``(N, n*4)``, (E, px, py, pz) in GeV, incoming particles first.
    amplitude_path : str or os.PathLike
        Array ``(N,)`` (or ``(N, 1)``) of squared matrix elements in the units of the process; with ``outputs``,
        array ``(N, K)`` of vector labels (finite, signed), columns in the order of ``outputs``.
    process : str or Process
        The process of the points.
    outputs : sequence of str, optional
        Names of the ``K`` components of vector labels (e.g. :attr:`ShardStore.outputs`); None for amplitudes.

    Raises
    ------
    InterchangeError
        Naming the file and problem (unreadable, wrong shape, N mismatch, non-finite or negative values,
        unphysical momenta with their rows).
    """
    mp, ap = os.fspath(momenta_path), os.fspath(amplitude_path)
    proc = get_process(process) if isinstance(process, str) else process
    momenta = check_file_momenta(_load_npy(mp), proc, mp)
    values = names = None
    if outputs is None:
        amplitude = check_amplitude(_load_npy(ap), momenta.shape[0], ap, mp)
        provenance = {"format": "npy", "momenta_file": os.path.abspath(mp), "amplitude_file": os.path.abspath(ap)}
    else:
        names = tuple(outputs)
        if not names:
            raise InterchangeError(f"{ap}: outputs must name at least one component of the values")
        values = check_values(_load_npy(ap), momenta.shape[0], names, ap, mp)
        amplitude = np.full(momenta.shape[0], np.nan)
        provenance = {
            "format": "npy",
            "momenta_file": os.path.abspath(mp),
            "values_file": os.path.abspath(ap),
            "outputs": list(names),
        }
    return ImportedData(
        momenta,
        amplitude,
        proc.name,
        None,
        provenance,
        f"{os.path.abspath(mp)}, {os.path.abspath(ap)}",
        values,
        names,
    )


# ------------------------------------------------------------------------------------------------ import


def _import(
    store: ShardStore,
    data: ImportedData,
    file_name: str,
    *,
    split: str,
    round: int,
    batch: int,
    id_prefix: str | None,
    skip_existing: bool,
    allow_outside_cuts: bool,
    momenta_where: str,
) -> int:
    if data.process != store.process.name:
        raise InterchangeError(f"{data.source}: process {data.process!r} but store has {store.process.name!r}")
    if data.outputs != store.outputs:

        def kind(outputs: tuple[str, ...] | None) -> str:
            return "scalar amplitudes" if outputs is None else f"vector labels with outputs {list(outputs)}"

        raise InterchangeError(
            f"{data.source}: file has {kind(data.outputs)} but {store.path} holds {kind(store.outputs)}"
        )
    check_cuts(data, store.process, momenta_where, allow_outside_cuts)
    ids = data.point_ids
    if ids is None:
        stem = re.sub(r"[^A-Za-z0-9_.\-]+", "_", Path(file_name).stem) or "file"
        prefix = id_prefix or f"import-{stem}-{data.digest()}"
        ids = make_point_ids(prefix, round, batch, len(data))
    momenta = data.momenta
    labels = data.amplitude if data.values is None else data.values
    already = store.labelled_ids(include_failed=False)
    present = np.array([v in already for v in ids.tolist()], dtype=bool)
    if present.any():
        if not skip_existing:
            raise InterchangeError(
                f"{data.source}: {int(present.sum())} of {len(ids)} points already have a label in {store.path} "
                f"(e.g. {ids[np.argmax(present)]!r}); imported before? pass skip_existing=True to add only new ones"
            )
        logger.info("%s: skipping %d points already labelled in the store", data.source, int(present.sum()))
        ids, momenta, labels = ids[~present], momenta[~present], labels[~present]
    if ids.shape[0] == 0:
        return 0
    provenance = {
        "source": data.source,
        "content_digest": data.digest(),
        "imported": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "file_provenance": data.provenance,
    }
    try:
        store.append_labels(
            ids,
            momenta,
            labels,
            oracle=f"import:{file_name}",
            provenance=provenance,
            split=split,
            round=round,
            batch=batch,
            on_duplicate="raise",
        )
    except StoreInputError as exc:
        raise InterchangeError(f"{data.source}: cannot import into {store.path}: {exc}") from exc
    logger.info("imported %d points from %s into %s", ids.shape[0], data.source, store.path)
    return int(ids.shape[0])


def import_hdf5(
    store: ShardStore,
    path: str | os.PathLike[str],
    *,
    split: str = "train",
    round: int = 0,
    batch: int = 0,
    id_prefix: str | None = None,
    skip_existing: bool = False,
    momenta_key: str = "momenta",
    amplitude_key: str = "amplitude",
    ids_key: str = "point_id",
    values_key: str = "values",
    allow_outside_cuts: bool = False,
) -> int:
    """Import labelled points from an HDF5 file into ``store`` (oracle name ``"import:<file name>"``).

    A vector store takes the file's ``/values`` (its ``outputs`` attribute, if present, must name the store's
    outputs); a scalar store takes ``/amplitude``.

    Point ids come from ``/point_id`` if present, otherwise they are derived deterministically from
    the file name and a hash of its content (``import-<stem>-<digest>/r<round>/b<batch>/<index>``),
    so that importing the same data twice is detected.

    Parameters
    ----------
    store : ShardStore
        Target store; its process must match the file's ``process`` attribute (if any).
    path : str or os.PathLike
        HDF5 file (see :func:`read_hdf5`).
    split : str
        Split of the imported points.
    round, batch : int
        Recorded round and batch (also used in derived ids).
    id_prefix : str, optional
        Prefix for derived ids instead of the file-based one.
    skip_existing : bool
        Skip points whose id already has an ok label instead of raising.
    momenta_key, amplitude_key, ids_key, values_key : str
        Dataset names.
    allow_outside_cuts : bool
        Import points outside the process's default cuts (:func:`activeamp.physics.cuts.default_cuts`, those of
        ``activeamp run``) with a warning saying how many, instead of refusing the file.

    Returns
    -------
    int
        Number of points imported.

    Raises
    ------
    InterchangeError
        Naming file, dataset and problem, as :func:`read_hdf5` (unphysical momenta: the rows), and for points
        outside the default cuts (the rows and the cuts they fail) unless ``allow_outside_cuts``.
    """
    data = read_hdf5(
        path,
        store.process,
        momenta_key=momenta_key,
        amplitude_key=amplitude_key,
        ids_key=ids_key,
        values_key=values_key,
        outputs=store.outputs,
    )
    return _import(
        store,
        data,
        Path(path).name,
        split=split,
        round=round,
        batch=batch,
        id_prefix=id_prefix,
        skip_existing=skip_existing,
        allow_outside_cuts=allow_outside_cuts,
        momenta_where=f"{os.fspath(path)}:/{momenta_key}",
    )


def import_npy(
    store: ShardStore,
    momenta_path: str | os.PathLike[str],
    amplitude_path: str | os.PathLike[str],
    *,
    split: str = "train",
    round: int = 0,
    batch: int = 0,
    id_prefix: str | None = None,
    skip_existing: bool = False,
    allow_outside_cuts: bool = False,
) -> int:
    """Import a momenta/amplitude ``.npy`` pair (see :func:`read_npy`) into ``store`` as labelled points.

    The oracle name is ``"import:<momenta file name>"``; ids are derived as in :func:`import_hdf5`. For a vector
    store the second file holds the values ``(N, K)``, columns in the order of :attr:`ShardStore.outputs`. The
    momenta must be physical and, unless ``allow_outside_cuts``, inside the process's default cuts (as in
    :func:`import_hdf5`).

    Returns
    -------
    int
        Number of points imported.
    """
    data = read_npy(momenta_path, amplitude_path, store.process, outputs=store.outputs)
    return _import(
        store,
        data,
        Path(momenta_path).name,
        split=split,
        round=round,
        batch=batch,
        id_prefix=id_prefix,
        skip_existing=skip_existing,
        allow_outside_cuts=allow_outside_cuts,
        momenta_where=os.fspath(momenta_path),
    )
