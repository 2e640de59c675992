"""Unweighted events and their files: Arrow (IPC), HDF5 and Les Houches (LHE 3.0), each written atomically."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyarrow as pa

from activeamp.atomic import atomic_open
from activeamp.physics.process import Process

__all__ = ["EVENT_FORMATS", "GEV2_TO_PB", "EventSample", "write_events", "write_lhe"]

#: Formats of :func:`write_events`, by file suffix.
EVENT_FORMATS: dict[str, str] = {".arrow": "arrow", ".feather": "arrow", ".h5": "hdf5", ".hdf5": "hdf5"}

#: ħ²c² in GeV² pb: a cross section in GeV⁻² times this is in pb.
GEV2_TO_PB = 0.3893793721e9


@dataclass(frozen=True)
class EventSample:
    """Unweighted events of one process at fixed √s.

    Attributes
    ----------
    momenta : numpy.ndarray
        Shape ``(N, n, 4)`` float64 [GeV], (E, px, py, pz), incoming first (``process.kinds`` order).
    weights : numpy.ndarray
        Shape ``(N,)`` float64: event weights, 1 except for overweights (> 1).
    amplitude : numpy.ndarray
        Shape ``(N,)`` float64: the oracle's |M|² (NaN where the oracle was not called).
    surrogate : numpy.ndarray
        Shape ``(N,)`` float64: the surrogate's ⟨A⟩ (NaN where none was used).
    sigma_tot : numpy.ndarray
        Shape ``(N,)`` float64: the surrogate's σ_tot (NaN where none was used); units of ``amplitude``.
    process : Process
        The process.
    sqrt_s : float
        √s [GeV].
    cross_section_pb : float
        σ = (1/2s) ∫ |M|² dΦ in pb estimated from these events' sampling (the sum of event weights times the
        LHE weight per unit event weight).
    attributes : dict
        Extra metadata written with the events (JSON-serialisable).
    """

    momenta: np.ndarray
    weights: np.ndarray
    amplitude: np.ndarray
    surrogate: np.ndarray
    sigma_tot: np.ndarray
    process: Process
    sqrt_s: float
    cross_section_pb: float
    attributes: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.momenta.shape[0])

    def columns(self) -> dict[str, np.ndarray]:
        """Flat columns: ``weight``, ``amplitude``, ``surrogate``, ``sigma_tot`` and ``p{i}_{E,px,py,pz}``."""
        cols = {"weight": self.weights, "amplitude": self.amplitude, "surrogate": self.surrogate,
                "sigma_tot": self.sigma_tot}
        for i in range(self.momenta.shape[1]):
            for j, comp in enumerate(("E", "px", "py", "pz")):
                cols[f"p{i}_{comp}"] = np.ascontiguousarray(self.momenta[:, i, j])
        return cols

    def metadata(self) -> dict[str, Any]:
        """Process, √s, units, cross section and :attr:`attributes`."""
        return {
            "process": self.process.name,
            "particles": list(self.process.kinds),
            "pdg": list(self.process.pdg),
            "sqrt_s_gev": self.sqrt_s,
            "momentum_units": "GeV",
            "cross_section_pb": self.cross_section_pb,
            "n_events": len(self),
            **self.attributes,
        }


def write_events(events: EventSample, path: Path) -> Path:
    """Write ``events`` as Arrow IPC (``.arrow``/``.feather``) or HDF5 (``.h5``/``.hdf5``) by suffix.

    Arrow: one column per :meth:`EventSample.columns` entry, metadata as JSON in the schema's ``activeamp`` key.
    HDF5: ``/momenta`` ``(N, n, 4)``, ``/weight``, ``/amplitude``, ``/surrogate``, ``/sigma_tot``, metadata as
    attributes (nested values as JSON).
    """
    path = Path(path)
    kind = EVENT_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"{path}: unknown event file suffix {path.suffix!r} (use {', '.join(EVENT_FORMATS)})")
    meta = events.metadata()
    if kind == "arrow":
        table = pa.table(events.columns()).replace_schema_metadata({"activeamp": json.dumps(meta)})
        with atomic_open(path, "wb") as fh, pa.ipc.new_file(fh, table.schema) as writer:
            writer.write_table(table)
        return path
    columns = {"weight": events.weights, "amplitude": events.amplitude, "surrogate": events.surrogate,
               "sigma_tot": events.sigma_tot}
    with atomic_open(path, "w+b") as fh, h5py.File(fh, "w") as h5:
        h5.create_dataset("momenta", data=events.momenta)
        for name, values in columns.items():
            h5.create_dataset(name, data=values)
        for key, value in meta.items():
            h5.attrs[key] = value if isinstance(value, (int, float, str)) else json.dumps(value)
    return path


#: Colour flows (ICOLUP pairs per particle) of the processes :func:`write_lhe` knows, incoming first.
_COLOUR_FLOWS: dict[tuple[str, ...], tuple[tuple[int, int], ...]] = {
    ("gluon", "gluon", "photon", "photon"): ((501, 502), (502, 501), (0, 0), (0, 0)),
    ("gluon", "gluon", "photon", "photon", "gluon"): ((501, 502), (503, 501), (0, 0), (0, 0), (503, 502)),
    ("gluon", "gluon", "photon", "photon", "gluon", "gluon"): (
        (501, 502), (503, 501), (0, 0), (0, 0), (503, 504), (504, 502)),
}


def write_lhe(events: EventSample, path: Path) -> Path:
    """Write ``events`` as a Les Houches event file (version 3.0), atomically.

    The beams are the incoming partons at fixed √s (no PDFs: ``PDFGUP = 0``); ``IDWTUP = 3`` when every event
    weight is 1, else 4; ``XWGTUP`` is the event weight times σ/Σw in pb, so the weights sum to the cross section.
    One leading-colour flow per process (gluons and photons only).

    Raises
    ------
    ValueError
        For a process with particles other than gluons and photons.
    """
    flow = _COLOUR_FLOWS.get(tuple(events.process.kinds))
    if flow is None:
        raise ValueError(f"LHE output: no colour flow for {events.process.name} (gluons and photons only)")
    n_in = 2
    e_beam = events.sqrt_s / 2.0
    total = float(events.weights.sum())
    per_weight = events.cross_section_pb / total if total > 0 else 0.0
    idwtup = 3 if np.all(events.weights == 1.0) else 4
    pdg = events.process.pdg
    massless = events.process.massless
    with atomic_open(path, "w") as fh:
        fh.write('<LesHouchesEvents version="3.0">\n<header>\n<activeamp>\n')
        fh.write(json.dumps(events.metadata(), indent=1).replace("<", "&lt;") + "\n</activeamp>\n</header>\n")
        fh.write("<init>\n")
        fh.write(f"{pdg[0]} {pdg[1]} {e_beam:.10e} {e_beam:.10e} 0 0 0 0 {idwtup} 1\n")
        fh.write(f"{events.cross_section_pb:.10e} 0.0 {per_weight * float(events.weights.max(initial=1.0)):.10e} 1\n")
        fh.write("</init>\n")
        for p, w in zip(events.momenta, events.weights, strict=True):
            fh.write(f"<event>\n{len(pdg)} 1 {w * per_weight:.10e} {events.sqrt_s:.10e} -1 -1\n")
            for i, (code, (c1, c2)) in enumerate(zip(pdg, flow, strict=True)):
                status, mothers = (-1, (0, 0)) if i < n_in else (1, (1, 2))
                mass = 0.0 if massless else math.sqrt(max(p[i, 0] ** 2 - float(np.sum(p[i, 1:] ** 2)), 0.0))
                fh.write(
                    f"{code} {status} {mothers[0]} {mothers[1]} {c1} {c2} {p[i, 1]:.12e} {p[i, 2]:.12e} "
                    f"{p[i, 3]:.12e} {p[i, 0]:.12e} {mass:.6e} 0 9\n"
                )
            fh.write("</event>\n")
        fh.write("</LesHouchesEvents>\n")
    return Path(path)
