"""VVAMP q q̄′ → V1 V2 form factors as a vector-valued oracle through a C++ shim, with its unit-hypercube phase space."""

from __future__ import annotations

import abc
import ctypes
import logging
import math
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from activeamp.physics.process import Process, get_process
from oracles.base import OracleError, OracleInputError, code_versions

__all__ = [
    "COEFFICIENT_TYPES",
    "PRECISIONS",
    "SHIM_ABI_VERSION",
    "VV_PROCESSES",
    "VVAMPError",
    "VVAmpOracle",
    "VVPhaseSpace",
    "VVProcess",
    "VVSample",
    "VectorOracle",
    "VectorOracleOutputError",
    "VectorOracleResult",
    "build_shim",
    "default_targets",
    "get_vv_process",
    "invariants_from_momenta",
    "invariants_from_variables",
    "parse_target",
    "shim_build_command",
    "shim_source",
    "validate_kinematics",
    "variables_from_invariants",
    "vv_momenta",
]

logger = logging.getLogger(__name__)

#: Coupling types of VVAMP's coefficients (second index of ``A[i][type][loop][re/im]``).
COEFFICIENT_TYPES: tuple[str, ...] = ("A", "B", "C", "F")
#: Numerical precisions of the shim: double, quad (``qqvvamp<__float128>``), or double checked and redone in quad.
PRECISIONS: tuple[str, ...] = ("double", "quad", "auto")
#: ABI version the shim must report (``vvamp_shim_abi_version``).
SHIM_ABI_VERSION = 1
_IR_SCHEMES = {"qt": 0, "catani": 1}
_N_LOOP = 3
_N_REIM = 2


class VVAMPError(OracleError):
    """The VVAMP shim could not be found, loaded or used; the message says which and how to fix it."""


# --------------------------------------------------------------------------------------------------------------
# Processes and kinematics


@dataclass(frozen=True)
class VVProcess:
    """A q q̄′ → V1 V2 process with off-shell bosons (each decaying to a lepton pair).

    Every VV process is also registered in :mod:`activeamp.physics.process` under the same name (particle kinds
    ``("quark", "antiquark")`` → ``("Z"|"W", "Z"|"W")``), so that stores, cuts and the active loop know it; the
    name and PDG codes must agree with that registry (checked on construction, see :meth:`as_process`).

    Attributes
    ----------
    name : str
        Identifier, e.g. ``"uu_ZZ"``; a process of :data:`activeamp.physics.process.PROCESSES`.
    description : str
        Human-readable form.
    pdg : tuple of int
        PDG codes ``(q, q̄′, V1, V2)``, equal to those of the registered process.
    sqrt_s_range : tuple of float
        Default partonic √s range (GeV) of the phase-space mapping.
    m34_range, m56_range : tuple of float
        Default ranges (GeV) of the virtualities of V1 (leptons 3, 4) and V2 (leptons 5, 6).
    """

    name: str
    description: str
    pdg: tuple[int, int, int, int]
    sqrt_s_range: tuple[float, float]
    m34_range: tuple[float, float]
    m56_range: tuple[float, float]

    def __post_init__(self) -> None:
        try:
            registered = get_process(self.name)
        except KeyError as exc:
            raise ValueError(
                f"VV process {self.name!r} is not registered in activeamp.physics.process: {exc.args[0]}"
            ) from None
        if tuple(self.pdg) != registered.pdg:
            raise ValueError(
                f"VV process {self.name!r}: PDG codes {tuple(self.pdg)} differ from those in activeamp.physics.process, "
                f"{registered.pdg}"
            )
        if registered.n_particles != 4 or registered.massless:
            raise ValueError(
                f"VV process {self.name!r}: activeamp.physics.process has {registered.description!r}, not q q̄′ → V V"
            )

    def as_process(self) -> Process:
        """The :class:`activeamp.physics.process.Process` of the same name (momenta ``(N, 4, 4)``: q, q̄′, V1, V2)."""
        return get_process(self.name)


VV_PROCESSES: dict[str, VVProcess] = {
    p.name: p
    for p in (
        VVProcess("uu_ZZ", "u ū → Z Z → ℓ⁺ℓ⁻ ℓ′⁺ℓ′⁻", (2, -2, 23, 23), (200.0, 1000.0), (66.0, 116.0), (66.0, 116.0)),
        VVProcess("dd_ZZ", "d d̄ → Z Z → ℓ⁺ℓ⁻ ℓ′⁺ℓ′⁻", (1, -1, 23, 23), (200.0, 1000.0), (66.0, 116.0), (66.0, 116.0)),
        VVProcess("ud_WZ", "u d̄ → W⁺ Z → ℓ⁺ν ℓ′⁺ℓ′⁻", (2, -1, 24, 23), (200.0, 1000.0), (40.0, 120.0), (66.0, 116.0)),
        VVProcess("uu_WW", "u ū → W⁺ W⁻ → ℓ⁺ν ℓ′⁻ν̄", (2, -2, 24, -24), (200.0, 1000.0), (40.0, 120.0), (40.0, 120.0)),
    )
}


def get_vv_process(name: str) -> VVProcess:
    """The VV process called ``name``.

    Raises
    ------
    KeyError
        If unknown; the message lists the known VV processes.
    """
    try:
        return VV_PROCESSES[name]
    except KeyError:
        raise KeyError(f"unknown VV process {name!r}; known: {', '.join(sorted(VV_PROCESSES))}") from None


def _kallen(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return a * a + b * b + c * c - 2 * a * b - 2 * a * c - 2 * b * c


def invariants_from_variables(variables: np.ndarray) -> np.ndarray:
    """Map ``(√s, cos θ*, m34, m56)`` to VVAMP's invariants ``(s, t, ma2, mb2)``.

    ``t = (p1 − p3)²`` with the quark ``p1`` along +z and V1 = ``p3`` at angle θ* in the centre-of-mass
    frame: ``t = (ma2 + mb2 − s + cos θ* · λ^½(s, ma2, mb2)) / 2``.

    Parameters
    ----------
    variables : numpy.ndarray
        Shape ``(N, 4)``: √s [GeV], cos θ*, m34 [GeV], m56 [GeV].

    Returns
    -------
    numpy.ndarray
        Shape ``(N, 4)``: s, t, ma2, mb2 [GeV²].
    """
    v = np.asarray(variables, dtype=np.float64)
    s = v[:, 0] ** 2
    ma2 = v[:, 2] ** 2
    mb2 = v[:, 3] ** 2
    root = np.sqrt(np.maximum(_kallen(s, ma2, mb2), 0.0))
    t = 0.5 * (ma2 + mb2 - s + v[:, 1] * root)
    return np.stack([s, t, ma2, mb2], axis=1)


def variables_from_invariants(kinematics: np.ndarray) -> np.ndarray:
    """Inverse of :func:`invariants_from_variables`: ``(s, t, ma2, mb2)`` [GeV²] → ``(√s, cos θ*, m34, m56)``."""
    k = np.asarray(kinematics, dtype=np.float64)
    s, t, ma2, mb2 = k.T
    root = np.sqrt(np.maximum(_kallen(s, ma2, mb2), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = (2 * t + s - ma2 - mb2) / root
    return np.stack([np.sqrt(s), cos, np.sqrt(ma2), np.sqrt(mb2)], axis=1)


def _minkowski(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[..., 0] * b[..., 0] - a[..., 1] * b[..., 1] - a[..., 2] * b[..., 2] - a[..., 3] * b[..., 3]


def invariants_from_momenta(momenta: np.ndarray) -> np.ndarray:
    """VVAMP's invariants of four-momenta: the inverse of :func:`vv_momenta`, in any Lorentz frame.

    Parameters
    ----------
    momenta : numpy.ndarray
        Shape ``(N, 4, 4)``: ``(E, px, py, pz)`` [GeV] of q (``p1``), q̄′ (``p2``), V1 (``p3``), V2 (``p4``).

    Returns
    -------
    numpy.ndarray
        Shape ``(N, 4)``: ``s = (p1 + p2)²``, ``t = (p1 − p3)²``, ``ma2 = p3²``, ``mb2 = p4²`` [GeV²].

    Raises
    ------
    ValueError
        If ``momenta`` is not of shape ``(N, 4, 4)``.
    """
    p = np.asarray(momenta, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (4, 4):
        raise ValueError(
            f"momenta: expected shape (N, 4, 4) as q, q̄′, V1, V2 with (E, px, py, pz) in GeV, got {p.shape}"
        )
    p1, p2, p3, p4 = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
    ma2 = _minkowski(p3, p3)
    # massless quarks: s = 2 p1·p2 and t = ma2 − 2 p1·p3 (no p1², p2² round-off)
    s = 2.0 * _minkowski(p1, p2)
    t = ma2 - 2.0 * _minkowski(p1, p3)
    return np.stack([s, t, ma2, _minkowski(p4, p4)], axis=1)


def vv_momenta(kinematics: np.ndarray) -> np.ndarray:
    """Four-momenta ``(N, 4, 4)`` [GeV] of q, q̄′, V1, V2 in the centre-of-mass frame (V1 in the x–z plane).

    Parameters
    ----------
    kinematics : numpy.ndarray
        Shape ``(N, 4)``: s, t, ma2, mb2 [GeV²].
    """
    v = variables_from_invariants(kinematics)
    rs, cos = v[:, 0], np.clip(v[:, 1], -1.0, 1.0)
    s, ma2, mb2 = rs**2, v[:, 2] ** 2, v[:, 3] ** 2
    p = np.sqrt(np.maximum(_kallen(s, ma2, mb2), 0.0)) / (2 * rs)
    sin = np.sqrt(1 - cos**2)
    out = np.zeros((len(rs), 4, 4))
    out[:, 0] = np.stack([rs / 2, 0 * rs, 0 * rs, rs / 2], axis=1)
    out[:, 1] = np.stack([rs / 2, 0 * rs, 0 * rs, -rs / 2], axis=1)
    out[:, 2] = np.stack([(s + ma2 - mb2) / (2 * rs), p * sin, 0 * rs, p * cos], axis=1)
    out[:, 3] = out[:, 0] + out[:, 1] - out[:, 2]
    return out


def _momenta_to_invariants(momenta: np.ndarray, what: str, rtol_conservation: float, rtol_mass: float) -> np.ndarray:
    """Check momenta ``(N, 4, 4)`` (finite, momentum conserved, massless quarks) and return their invariants."""
    p = np.ascontiguousarray(momenta)
    if p.shape[0] == 0:
        return np.empty((0, 4))
    finite = np.isfinite(p).all(axis=(1, 2))
    if not finite.all():
        raise OracleInputError(f"{what}: non-finite momenta at point {int(np.argmin(finite))}")
    energy = p[:, :2, 0]
    if (energy <= 0).any():
        i, j = np.argwhere(energy <= 0)[0]
        raise OracleInputError(f"{what}: point {i}, particle {j} has energy {energy[i, j]:g} GeV, must be > 0")
    scale = energy.sum(axis=1)
    violation = np.abs(p[:, 0] + p[:, 1] - p[:, 2] - p[:, 3]).max(axis=1) / scale
    if (violation > rtol_conservation).any():
        i = int(np.argmax(violation))
        raise OracleInputError(
            f"{what}: momentum not conserved at point {i} "
            f"(relative violation {violation[i]:.3g} > {rtol_conservation:g})"
        )
    for j, name in ((0, "q"), (1, "q̄′")):
        mass = np.abs(_minkowski(p[:, j], p[:, j])) / p[:, j, 0] ** 2
        if (mass > rtol_mass).any():
            i = int(np.argmax(mass))
            raise OracleInputError(
                f"{what}: point {i}, particle {j} ({name}) is not massless: |p²|/E² = {mass[i]:.3g} > {rtol_mass:g}"
            )
    return invariants_from_momenta(p)


def validate_kinematics(
    kinematics: Any,
    *,
    what: str = "kinematics",
    rtol: float = 1e-9,
    rtol_conservation: float = 1e-8,
    rtol_mass: float = 1e-6,
) -> np.ndarray:
    """Check that ``kinematics`` are physical q q̄′ → V1 V2 points, given as invariants or as momenta.

    Parameters
    ----------
    kinematics : numpy.ndarray
        Shape ``(N, 4)`` float64: s, t, ma2, mb2 [GeV²]; or shape ``(N, 4, 4)`` float64: momenta of q, q̄′, V1,
        V2 [GeV] in any frame (as from :func:`vv_momenta` or the activeamp store), converted with
        :func:`invariants_from_momenta` after checking momentum conservation and massless quarks.
    what : str
        Name of the array in error messages.
    rtol : float
        Allowed excess of ``|cos θ*|`` over 1.
    rtol_conservation : float
        Momenta only: allowed ``|p1 + p2 − p3 − p4|`` relative to the incoming energy.
    rtol_mass : float
        Momenta only: allowed ``|p²|/E²`` of the quarks.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, 4)``: the invariants as a C-contiguous float64 array.

    Raises
    ------
    OracleInputError
        On wrong type, shape or dtype, non-finite values, non-conserved momenta or massive quarks, non-positive
        ``s``, ``ma2``, ``mb2``, points below threshold (``√s ≤ √ma2 + √mb2``) or ``t`` outside its physical
        range; the first offending point is named.
    """
    if not isinstance(kinematics, np.ndarray):
        raise OracleInputError(f"{what}: expected a numpy array, got {type(kinematics).__name__}")
    if kinematics.dtype != np.float64:
        raise OracleInputError(f"{what}: expected dtype float64, got {kinematics.dtype}")
    if kinematics.ndim == 3 and kinematics.shape[1:] == (4, 4):
        k = _momenta_to_invariants(kinematics, what, rtol_conservation, rtol_mass)
    elif kinematics.ndim == 2 and kinematics.shape[1] == 4:
        k = np.ascontiguousarray(kinematics)
    else:
        raise OracleInputError(
            f"{what}: expected shape (N, 4) as (s, t, ma2, mb2) in GeV² or (N, 4, 4) as momenta of q, q̄′, V1, V2 "
            f"in GeV, got {kinematics.shape}"
        )
    if k.shape[0] == 0:
        return k
    finite = np.isfinite(k).all(axis=1)
    if not finite.all():
        raise OracleInputError(f"{what}: non-finite entries at point {int(np.argmin(finite))}")
    for col, name in ((0, "s"), (2, "ma2"), (3, "mb2")):
        bad = k[:, col] <= 0
        if bad.any():
            i = int(np.argmax(bad))
            raise OracleInputError(f"{what}: point {i} has {name} = {k[i, col]:g} GeV², must be > 0")
    s, t, ma2, mb2 = k.T
    below = np.sqrt(s) <= np.sqrt(ma2) + np.sqrt(mb2)
    if below.any():
        i = int(np.argmax(below))
        raise OracleInputError(
            f"{what}: point {i} is below threshold: √s = {math.sqrt(s[i]):g} GeV <= √ma2 + √mb2 = "
            f"{math.sqrt(ma2[i]) + math.sqrt(mb2[i]):g} GeV"
        )
    cos = (2 * t + s - ma2 - mb2) / np.sqrt(_kallen(s, ma2, mb2))
    out = np.abs(cos) > 1 + rtol
    if out.any():
        i = int(np.argmax(out))
        raise OracleInputError(
            f"{what}: point {i} has t = {t[i]:g} GeV² outside its physical range (cos θ* = {cos[i]:.6g})"
        )
    return k


@dataclass(frozen=True, eq=False)
class VVSample:
    """Points of :class:`VVPhaseSpace`.

    Attributes
    ----------
    kinematics : numpy.ndarray
        Shape ``(N, 4)``: s, t, ma2, mb2 [GeV²] (the oracle's input).
    unit : numpy.ndarray
        Shape ``(N, 4)``: the unit-hypercube points they came from.
    weights : numpy.ndarray
        Shape ``(N,)``: Jacobian ``∂(√s, cos θ*, m34, m56)/∂u`` [GeV³].
    """

    kinematics: np.ndarray
    unit: np.ndarray
    weights: np.ndarray

    def __len__(self) -> int:
        return self.kinematics.shape[0]

    @property
    def momenta(self) -> np.ndarray:
        """Shape ``(N, 4, 4)``: momenta of q, q̄′, V1, V2 [GeV] in the centre-of-mass frame (:func:`vv_momenta`).

        The layout of :attr:`activeamp.physics.phasespace.PhaseSpaceSample.momenta`, for the store and the active loop.
        """
        return vv_momenta(self.kinematics)


class VVPhaseSpace:
    """Unit-hypercube mapping for q q̄′ → V1* V2*: ``u ∈ [0, 1]⁴ → (√s, cos θ*, m34, m56) → (s, t, ma2, mb2)``.

    ``√s`` runs over ``sqrt_s_range`` (linearly, or logarithmically with ``sqrt_s_map="log"``), ``cos θ* = 2u₂ − 1``,
    ``m34`` over ``[m34_min, min(m34_max, √s − m56_min)]`` and ``m56`` over ``[m56_min, min(m56_max, √s − m34)]``,
    so every point is above threshold. The weight is the Jacobian of the map, so that
    ``∫ f d√s dcos θ* dm34 dm56 = ∫_{[0,1]⁴} f(u) w(u) du``; physical cross sections add the Breit–Wigner
    and two-body phase-space factors to ``f``. Same interface as :class:`activeamp.physics.phasespace.PhaseSpaceSampler`
    where it matters to the active loop: :attr:`dim`, :meth:`from_unit`, :meth:`sample`.

    Parameters
    ----------
    process : str or VVProcess
        Supplies the default ranges.
    sqrt_s_range, m34_range, m56_range : tuple of float, optional
        Ranges in GeV (defaults from the process).
    sqrt_s_map : {"linear", "log"}
        How ``u₁`` maps to √s.
    """

    dim = 4

    def __init__(
        self,
        process: str | VVProcess = "uu_ZZ",
        *,
        sqrt_s_range: tuple[float, float] | None = None,
        m34_range: tuple[float, float] | None = None,
        m56_range: tuple[float, float] | None = None,
        sqrt_s_map: str = "linear",
    ) -> None:
        self.process = get_vv_process(process) if isinstance(process, str) else process
        self.sqrt_s_range = self._range("sqrt_s_range", sqrt_s_range or self.process.sqrt_s_range)
        self.m34_range = self._range("m34_range", m34_range or self.process.m34_range)
        self.m56_range = self._range("m56_range", m56_range or self.process.m56_range)
        if sqrt_s_map not in ("linear", "log"):
            raise ValueError(f"sqrt_s_map must be 'linear' or 'log', got {sqrt_s_map!r}")
        self.sqrt_s_map = sqrt_s_map
        if self.sqrt_s_range[0] <= self.m34_range[0] + self.m56_range[0]:
            raise ValueError(
                f"sqrt_s_range starts at {self.sqrt_s_range[0]:g} GeV, not above m34_min + m56_min = "
                f"{self.m34_range[0] + self.m56_range[0]:g} GeV"
            )

    @staticmethod
    def _range(name: str, value: Sequence[float]) -> tuple[float, float]:
        lo, hi = (float(x) for x in value)
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
            raise ValueError(f"{name} must be (lo, hi) with 0 < lo < hi in GeV, got {tuple(value)!r}")
        return lo, hi

    def _m34_hi(self, rs: np.ndarray) -> np.ndarray:
        return np.minimum(self.m34_range[1], rs - self.m56_range[0])

    def from_unit(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map unit-hypercube points to invariants and Jacobians.

        Parameters
        ----------
        u : numpy.ndarray
            Shape ``(N, 4)``, values in ``[0, 1]``.

        Returns
        -------
        kinematics : numpy.ndarray
            Shape ``(N, 4)``: s, t, ma2, mb2 [GeV²].
        weights : numpy.ndarray
            Shape ``(N,)``: ``∂(√s, cos θ*, m34, m56)/∂u`` [GeV³].
        """
        u = np.asarray(u, dtype=np.float64)
        if u.ndim != 2 or u.shape[1] != 4:
            raise ValueError(f"u: expected shape (N, 4), got {u.shape}")
        if u.size and (u.min() < 0 or u.max() > 1):
            raise ValueError("u: values must lie in [0, 1]")
        lo, hi = self.sqrt_s_range
        if self.sqrt_s_map == "linear":
            rs = lo + u[:, 0] * (hi - lo)
            jac = np.full(len(u), hi - lo)
        else:
            rs = lo * (hi / lo) ** u[:, 0]
            jac = rs * math.log(hi / lo)
        cos = 2 * u[:, 1] - 1
        m34_hi = self._m34_hi(rs)
        m34 = self.m34_range[0] + u[:, 2] * (m34_hi - self.m34_range[0])
        m56_hi = np.minimum(self.m56_range[1], rs - m34)
        m56 = self.m56_range[0] + u[:, 3] * (m56_hi - self.m56_range[0])
        jac = jac * 2 * (m34_hi - self.m34_range[0]) * (m56_hi - self.m56_range[0])
        return invariants_from_variables(np.stack([rs, cos, m34, m56], axis=1)), jac

    def to_unit(self, kinematics: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`from_unit`: invariants ``(N, 4)`` [GeV²] → unit-hypercube points ``(N, 4)``."""
        rs, cos, m34, m56 = variables_from_invariants(kinematics).T
        lo, hi = self.sqrt_s_range
        u1 = (rs - lo) / (hi - lo) if self.sqrt_s_map == "linear" else np.log(rs / lo) / math.log(hi / lo)
        u3 = (m34 - self.m34_range[0]) / (self._m34_hi(rs) - self.m34_range[0])
        m56_hi = np.minimum(self.m56_range[1], rs - m34)
        u4 = (m56 - self.m56_range[0]) / (m56_hi - self.m56_range[0])
        return np.stack([u1, (cos + 1) / 2, u3, u4], axis=1)

    def sample(self, n: int, rng: np.random.Generator | int, only_accepted: bool = True) -> VVSample:
        """Draw ``n`` points uniformly on the hypercube.

        Parameters
        ----------
        n : int
            Number of points.
        rng : numpy.random.Generator or int
            Source of randomness (an int is used as a seed).
        only_accepted : bool
            Accepted for the interface of :meth:`activeamp.physics.phasespace.PhaseSpaceSampler.sample`; every point of
            the map is physical (there are no cuts), so it changes nothing.

        Returns
        -------
        VVSample
            ``n`` points; ``.kinematics`` ``(n, 4)`` [GeV²] for the oracle, ``.momenta`` ``(n, 4, 4)`` [GeV].
        """
        del only_accepted  # every point passes
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(int(rng))
        u = gen.random((int(n), 4))
        kin, w = self.from_unit(u)
        return VVSample(kin, u, w)


# --------------------------------------------------------------------------------------------------------------
# Coefficient selection

_TARGET = re.compile(r"^([AE])(\d+)\.([ABCF])\.([012])\.(re|im)$")


def parse_target(spec: str) -> tuple[str, int, int, int, int]:
    """Parse a coefficient name like ``"A3.B.2.re"``: array ``A``/``E``, index (A: 1–10, E: 1–9), coupling type
    (``A``, ``B``, ``C``, ``F``), loop order (0, 1, 2), real/imaginary part.

    Returns
    -------
    tuple
        ``(array, index, type, loop, part)`` with ``type`` 0–3 and ``part`` 0 (re) / 1 (im).

    Raises
    ------
    ValueError
        If ``spec`` does not name a coefficient.
    """
    m = _TARGET.match(spec)
    limit = {"A": 10, "E": 9}
    if m is None or not 1 <= int(m.group(2)) <= limit[m.group(1)]:
        raise ValueError(
            f"target {spec!r}: expected '<A1..A10|E1..E9>.<A|B|C|F>.<loop 0|1|2>.<re|im>', e.g. 'A3.B.2.re'"
        )
    return (
        m.group(1),
        int(m.group(2)),
        COEFFICIENT_TYPES.index(m.group(3)),
        int(m.group(4)),
        0 if m.group(5) == "re" else 1,
    )


def default_targets(loop: int = 2, coupling_type: str = "A") -> tuple[str, ...]:
    """Real and imaginary parts of ``A1 … A10`` of one coupling type at one loop order (20 targets)."""
    return tuple(f"A{i}.{coupling_type}.{loop}.{part}" for i in range(1, 11) for part in ("re", "im"))


# --------------------------------------------------------------------------------------------------------------
# The vector-valued oracle protocol


@dataclass(frozen=True)
class VectorOracleResult:
    """Per-point outcome of a vector-valued oracle call.

    Attributes
    ----------
    values : numpy.ndarray
        Shape ``(N, K)`` float64; rows of failed points are NaN.
    ok : numpy.ndarray
        Shape ``(N,)`` bool: True where every component is finite (negative values are legitimate).
    reasons : tuple of str
        Length ``N``: ``""`` or why the point failed.
    """

    values: np.ndarray
    ok: np.ndarray
    reasons: tuple[str, ...] = field(default=())

    @property
    def n_failed(self) -> int:
        """Number of points without a usable value."""
        return int((~self.ok).sum())


class VectorOracleOutputError(OracleError):
    """Some points of a vector-valued batch failed; ``result`` holds every point."""

    def __init__(self, message: str, result: VectorOracleResult) -> None:
        super().__init__(message)
        self.result = result


class VectorOracle(abc.ABC):
    """A sibling of :class:`oracles.base.Oracle` for targets that are vectors of signed numbers.

    :class:`~oracles.base.Oracle` is a non-negative scalar |M|² of momenta ``(N, n, 4)``; form factors are
    signed, several per point, and functions of a few invariants. Same shape of interface: ``name``,
    ``cost_hint``, :meth:`evaluate` → :class:`VectorOracleResult`, ``oracle(x)`` raising on failed points,
    :meth:`options`, :meth:`versions`, :meth:`provenance`. Subclasses implement :meth:`_evaluate` and
    :meth:`validate`, and set :attr:`input_names` and :attr:`output_names`. Oracles of scattering processes also
    set ``process``, an object whose ``name`` is the :mod:`activeamp.physics.process` name of their points (a
    :class:`VVProcess` for :class:`VVAmpOracle` and :class:`oracles.mock.MockVectorOracle`), so that the active
    loop can pair them with a store and a phase-space sampler.
    """

    name: str = "vector-oracle"
    cost_hint: float = 1e-3
    input_names: tuple[str, ...] = ()

    @property
    @abc.abstractmethod
    def output_names(self) -> tuple[str, ...]:
        """Names of the ``K`` output components, in column order."""

    @property
    def n_outputs(self) -> int:
        """Number of output components ``K``."""
        return len(self.output_names)

    @abc.abstractmethod
    def validate(self, x: Any) -> np.ndarray:
        """Check inputs ``(N, len(input_names))``; return them C-contiguous or raise :class:`OracleInputError`."""

    @abc.abstractmethod
    def _evaluate(self, x: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Raw values ``(N, K)`` and per-point failure reasons (``""`` for good points) for validated ``x``."""

    def options(self) -> dict[str, Any]:
        """Constructor options (JSON-serialisable)."""
        return {}

    def versions(self) -> dict[str, str]:
        """Versions of the code and libraries behind this oracle."""
        return code_versions()

    def provenance(self) -> dict[str, Any]:
        """Name, inputs, outputs, options and versions (JSON-serialisable)."""
        return {
            "name": self.name,
            "inputs": list(self.input_names),
            "outputs": list(self.output_names),
            "options": self.options(),
            "versions": self.versions(),
            "cost_hint_s": self.cost_hint,
        }

    def evaluate(self, x: Any) -> VectorOracleResult:
        """Validate ``x`` ``(N, d)``, evaluate, and report every point's status."""
        k = self.validate(x)
        raw, reasons = self._evaluate(k)
        values = np.asarray(raw, dtype=np.float64)
        if values.shape != (k.shape[0], self.n_outputs):
            raise OracleError(
                f"oracle {self.name}: returned shape {values.shape}, expected ({k.shape[0]}, {self.n_outputs})"
            )
        finite = np.isfinite(values).all(axis=1) if values.size else np.ones(k.shape[0], dtype=bool)
        out_reasons = [r if r else ("" if f else "nan") for r, f in zip(reasons, finite, strict=True)]
        ok = np.array([r == "" for r in out_reasons], dtype=bool)
        values = np.where(ok[:, None], values, np.nan)
        return VectorOracleResult(values=values, ok=ok, reasons=tuple(out_reasons))

    def __call__(self, x: Any) -> np.ndarray:
        """Values ``(N, K)``; raises :class:`VectorOracleOutputError` if any point failed."""
        result = self.evaluate(x)
        if result.n_failed:
            bad = np.flatnonzero(~result.ok)
            detail = ", ".join(f"{i}: {result.reasons[i]}" for i in bad[:5])
            raise VectorOracleOutputError(
                f"oracle {self.name}: {result.n_failed} of {len(result.ok)} points failed ({detail}"
                f"{', ...' if len(bad) > 5 else ''})",
                result,
            )
        return result.values

    def __repr__(self) -> str:
        return f"{type(self).__name__}(options={self.options()!r})"


# --------------------------------------------------------------------------------------------------------------
# The shim


def shim_source() -> Path:
    """Path of the C++ shim source shipped with activeamp (``oracles/shim/vvamp_shim.cpp``)."""
    return Path(__file__).with_name("shim") / "vvamp_shim.cpp"


def shim_build_command(
    prefix: str | os.PathLike[str] | None = None,
    output: str | os.PathLike[str] = "libvvamp_shim.so",
    *,
    include_dir: str | os.PathLike[str] | None = None,
    lib_dir: str | os.PathLike[str] | None = None,
    cxx: str = "c++",
    libraries: Sequence[str] = ("qqvvamp", "ginac", "cln", "quadmath"),
) -> list[str]:
    """The one-line compiler command that builds the shim against a VVAMP installation.

    Parameters
    ----------
    prefix : path, optional
        VVAMP installation prefix (headers in ``prefix/include``, library in ``prefix/lib``).
    output : path
        The shared library to write.
    include_dir, lib_dir : path, optional
        Override ``prefix/include`` and ``prefix/lib``.
    cxx : str
        C++ compiler.
    libraries : sequence of str
        Libraries to link (``-l``); ``ginac`` and ``cln`` may be dropped when ``libqqvvamp.so`` links them.

    Returns
    -------
    list of str
        The command, e.g. ``c++ -O2 -std=c++11 -shared -fPIC .../vvamp_shim.cpp -I$VVAMP/include
        -L$VVAMP/lib -Wl,-rpath,$VVAMP/lib -lqqvvamp -lginac -lcln -lquadmath -o libvvamp_shim.so``.
    """
    if prefix is None and (include_dir is None or lib_dir is None):
        raise ValueError("shim_build_command: give the VVAMP prefix, or both include_dir and lib_dir")
    inc = Path(include_dir) if include_dir is not None else Path(prefix or "") / "include"
    lib = Path(lib_dir) if lib_dir is not None else Path(prefix or "") / "lib"
    return [
        cxx,
        "-O2",
        "-std=c++11",
        "-shared",
        "-fPIC",
        str(shim_source()),
        f"-I{inc}",
        f"-L{lib}",
        f"-Wl,-rpath,{lib}",
        *(f"-l{name}" for name in libraries),
        "-o",
        str(output),
    ]


def build_shim(
    prefix: str | os.PathLike[str] | None = None,
    output: str | os.PathLike[str] = "libvvamp_shim.so",
    **kwargs: Any,
) -> Path:
    """Run :func:`shim_build_command` and return the built library's path.

    Raises
    ------
    VVAMPError
        If the compiler is missing or fails (its output is in the message).
    """
    cmd = shim_build_command(prefix, output, **kwargs)
    if shutil.which(cmd[0]) is None:
        raise VVAMPError(f"build_shim: C++ compiler {cmd[0]!r} not found on PATH")
    logger.info("building the VVAMP shim: %s", shlex.join(cmd))
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise VVAMPError(f"build_shim: {shlex.join(cmd)} failed (status {done.returncode}):\n{done.stderr.strip()}")
    return Path(output).resolve()


def _rebuild(cls: type, options: dict[str, Any]) -> VectorOracle:
    return cls(**options)


class VVAmpOracle(VectorOracle):
    """VVAMP's q q̄′ → V1 V2 coefficients (tree, one- and two-loop) as a vector-valued oracle.

    Inputs are invariants ``(N, 4)`` = (s, t, ma2, mb2) [GeV²] (e.g. from :class:`VVPhaseSpace`) or momenta
    ``(N, 4, 4)`` of q, q̄′, V1, V2 [GeV] (converted by :func:`invariants_from_momenta`); outputs
    are the selected real and imaginary parts of the coefficients ``A[i][type][loop]`` and
    ``E[i][type][loop]`` (see :func:`parse_target`), shape ``(N, K)``. VVAMP is reached through the C++
    shim ``oracles/shim/vvamp_shim.cpp``, compiled by the user against their VVAMP (:func:`shim_build_command`).

    Parameters
    ----------
    process : str
        A :data:`VV_PROCESSES` name (provenance and default phase space; the coefficients themselves do
        not depend on the flavours).
    library : str, optional
        Path of the compiled shim; default ``$VVAMP_SHIM_LIB``.
    nf : int
        Number of light flavours in closed loops (VVAMP's ``Nf``).
    ir_scheme : {"qt", "catani"}
        VVAMP's IR subtraction scheme (``IRschemeQt`` or ``IRschemeCatani``).
    precision : {"double", "quad", "auto"}
        ``qqvvamp<double>``, ``qqvvamp<__float128>``, or double with an error estimate (double evaluations
        at the invariants scaled by 1/1.1 and 1.1, using ``c(λx) c(x/λ) = c(x)²`` for homogeneous
        coefficients) and quad where the estimate exceeds ``maxrel``.
    maxrel : float
        Largest accepted relative error estimate in ``"auto"`` mode.
    targets : sequence of str, optional
        Output components (default :func:`default_targets`: ``A1 … A10``, coupling type A, two loops, re and im).
    cost_hint : float, optional
        Seconds per point (default 0.05 double/auto, 2.0 quad).
    """

    name = "vvamp"
    input_names = ("s", "t", "ma2", "mb2")

    def __init__(
        self,
        process: str = "uu_ZZ",
        *,
        library: str | None = None,
        nf: int = 5,
        ir_scheme: str = "qt",
        precision: str = "auto",
        maxrel: float = 1e-7,
        targets: Sequence[str] | None = None,
        cost_hint: float | None = None,
    ) -> None:
        self.process = get_vv_process(process)
        if ir_scheme not in _IR_SCHEMES:
            raise ValueError(f"vvamp oracle: ir_scheme must be one of {sorted(_IR_SCHEMES)}, got {ir_scheme!r}")
        if precision not in PRECISIONS:
            raise ValueError(f"vvamp oracle: precision must be one of {PRECISIONS}, got {precision!r}")
        if not (isinstance(nf, int) and 0 <= nf <= 6):
            raise ValueError(f"vvamp oracle: nf must be an integer in 0..6, got {nf!r}")
        if not float(maxrel) > 0:
            raise ValueError(f"vvamp oracle: maxrel must be > 0, got {maxrel!r}")
        self.library_option = library
        self.nf = nf
        self.ir_scheme = ir_scheme
        self.precision = precision
        self.maxrel = float(maxrel)
        self.targets: tuple[str, ...] = tuple(targets) if targets is not None else default_targets()
        if not self.targets:
            raise ValueError("vvamp oracle: targets must name at least one coefficient")
        self._parsed = [parse_target(t) for t in self.targets]
        self.cost_hint_option = cost_hint
        self.cost_hint = float(cost_hint) if cost_hint is not None else (2.0 if precision == "quad" else 0.05)
        #: Per point of the last batch: 0 double, 1 quad, −1 failed.
        self.last_precision: np.ndarray = np.empty(0, dtype=np.int32)
        #: Per point of the last batch: ``"auto"`` mode's error estimate of the double result (NaN otherwise).
        self.last_relerr: np.ndarray = np.empty(0)
        self._last_error = ""
        self.library_path = self._resolve_library()
        self._lib = self._load()

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.targets

    def _resolve_library(self) -> str:
        given = self.library_option or os.environ.get("VVAMP_SHIM_LIB") or None
        hint = (
            "compile the shim against your VVAMP installation with `"
            + shlex.join(shim_build_command("$VVAMP", "libvvamp_shim.so"))
            + "` and pass library=/path/to/libvvamp_shim.so or set VVAMP_SHIM_LIB"
        )
        if given is None:
            raise VVAMPError(f"vvamp oracle: no shim library given; {hint}")
        path = Path(os.path.expanduser(given))
        if not path.is_file():
            origin = "option library" if self.library_option else "$VVAMP_SHIM_LIB"
            raise VVAMPError(f"vvamp oracle: shim library {path} ({origin}) not found; {hint}")
        return str(path.resolve())

    def _load(self) -> ctypes.CDLL:
        try:
            lib = ctypes.CDLL(self.library_path, mode=os.RTLD_LOCAL)
        except OSError as exc:
            raise VVAMPError(
                f"vvamp oracle: could not load {self.library_path}: {exc} (is VVAMP's library directory in the "
                "shim's rpath or LD_LIBRARY_PATH?)"
            ) from exc
        for symbol in ("vvamp_shim_abi_version", "vvamp_shim_layout", "vvamp_shim_has_quad", "vvamp_qq_compute"):
            if not hasattr(lib, symbol):
                raise VVAMPError(
                    f"vvamp oracle: {self.library_path} has no symbol {symbol}: not a VVAMP shim built from "
                    f"{shim_source()}"
                )
        lib.vvamp_shim_abi_version.restype = ctypes.c_int
        abi = lib.vvamp_shim_abi_version()
        if abi != SHIM_ABI_VERSION:
            raise VVAMPError(
                f"vvamp oracle: shim {self.library_path} has ABI version {abi}, this activeamp needs "
                f"{SHIM_ABI_VERSION}: rebuild it from {shim_source()}"
            )
        dims = [ctypes.c_int() for _ in range(5)]
        lib.vvamp_shim_layout(*(ctypes.byref(d) for d in dims))
        layout = tuple(d.value for d in dims)
        if layout != (10, 9, len(COEFFICIENT_TYPES), _N_LOOP, _N_REIM):
            raise VVAMPError(f"vvamp oracle: unexpected coefficient layout {layout} reported by {self.library_path}")
        lib.vvamp_shim_has_quad.restype = ctypes.c_int
        if self.precision != "double" and not lib.vvamp_shim_has_quad():
            raise VVAMPError(f"vvamp oracle: precision={self.precision!r} needs VVAMP built with QUAD_PRECISION")
        fn = lib.vvamp_qq_compute
        fn.restype = ctypes.c_int
        fn.argtypes = [
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_double,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        return lib

    def validate(self, x: Any) -> np.ndarray:
        return validate_kinematics(x)

    def coefficients(self, kinematics: np.ndarray, *, validate: bool = True) -> dict[str, np.ndarray]:
        """All coefficients at the given points.

        Parameters
        ----------
        kinematics : numpy.ndarray
            Shape ``(N, 4)``: s, t, ma2, mb2 [GeV²].
        validate : bool
            Check the kinematics first (:func:`validate_kinematics`).

        Returns
        -------
        dict
            ``"A"``: ``(N, 10, 4, 3, 2)`` = ``A[1..10][type][loop][re/im]``; ``"E"``: ``(N, 9, 4, 3, 2)``;
            ``"precision"``: ``(N,)`` int (0 double, 1 quad, −1 failed); ``"relerr"``: ``(N,)`` error
            estimate of the double result in ``"auto"`` mode (NaN otherwise). Failed points are NaN.
        """
        k = validate_kinematics(kinematics) if validate else np.ascontiguousarray(kinematics, dtype=np.float64)
        n = k.shape[0]
        a = np.empty((n, 10, len(COEFFICIENT_TYPES), _N_LOOP, _N_REIM))
        e = np.empty((n, 9, len(COEFFICIENT_TYPES), _N_LOOP, _N_REIM))
        used = np.empty(n, dtype=np.int32)
        relerr = np.empty(n)
        err = ctypes.create_string_buffer(1024)
        failed = self._lib.vvamp_qq_compute(
            n,
            k.ctypes.data,
            self.nf,
            _IR_SCHEMES[self.ir_scheme],
            PRECISIONS.index(self.precision),
            self.maxrel,
            a.ctypes.data,
            e.ctypes.data,
            used.ctypes.data,
            relerr.ctypes.data,
            err,
            len(err),
        )
        if failed < 0:
            raise VVAMPError(f"vvamp oracle: shim refused the call: {err.value.decode(errors='replace')}")
        if failed:
            logger.warning(
                "vvamp oracle: %d of %d points failed in VVAMP (first error: %s)",
                failed,
                n,
                err.value.decode(errors="replace"),
            )
        self._last_error = err.value.decode(errors="replace")
        self.last_precision = used
        self.last_relerr = relerr
        return {"A": a, "E": e, "precision": used, "relerr": relerr}

    def _evaluate(self, x: np.ndarray) -> tuple[np.ndarray, list[str]]:
        c = self.coefficients(x, validate=False)
        out = np.empty((x.shape[0], len(self._parsed)))
        for col, (array, index, ctype, loop, part) in enumerate(self._parsed):
            out[:, col] = c[array][:, index - 1, ctype, loop, part]
        reasons = ["vvamp error: " + self._last_error if u < 0 else "" for u in c["precision"]]
        return out, reasons

    def options(self) -> dict[str, Any]:
        return {
            "process": self.process.name,
            "library": self.library_option,
            "nf": self.nf,
            "ir_scheme": self.ir_scheme,
            "precision": self.precision,
            "maxrel": self.maxrel,
            "targets": list(self.targets),
            "cost_hint": self.cost_hint_option,
        }

    def versions(self) -> dict[str, str]:
        out = super().versions()
        out["vvamp_shim"] = self.library_path
        out["vvamp_shim_abi"] = str(SHIM_ABI_VERSION)
        return out

    def provenance(self) -> dict[str, Any]:
        out = super().provenance()
        out["process"] = self.process.name
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        # Only the configuration travels; the receiving process loads the shim itself.
        return (_rebuild, (type(self), self.options()))
