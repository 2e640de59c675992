"""Phase space of q q̄′ → V1* V2*: a unit-hypercube map of (√s, cos θ*, m34, m56) to the invariants (s, t, ma2, mb2)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from activeamp.physics.kinematics import vv_invariants_from_variables, vv_momenta, vv_variables
from activeamp.physics.phasespace import RngLike, as_generator
from activeamp.physics.process import Process, get_vv_process

__all__ = ["VV_RANGES", "VVPhaseSpace", "VVRanges", "VVSample"]


@dataclass(frozen=True)
class VVRanges:
    """Default windows (GeV) of the q q̄′ → V1 V2 map of one process.

    Attributes
    ----------
    sqrt_s_range : tuple of float
        Partonic √s.
    m34_range, m56_range : tuple of float
        Virtualities of V1 (leptons 3, 4) and V2 (leptons 5, 6).
    """

    sqrt_s_range: tuple[float, float]
    m34_range: tuple[float, float]
    m56_range: tuple[float, float]


_Z_WINDOW = (66.0, 116.0)
_W_WINDOW = (40.0, 120.0)

#: Default windows of :class:`VVPhaseSpace` for each of :data:`activeamp.physics.process.VV_PROCESSES`:
#: √s in 200–1000 GeV, Z virtualities in 66–116 GeV, W virtualities in 40–120 GeV.
VV_RANGES: dict[str, VVRanges] = {
    "uu_ZZ": VVRanges((200.0, 1000.0), _Z_WINDOW, _Z_WINDOW),
    "dd_ZZ": VVRanges((200.0, 1000.0), _Z_WINDOW, _Z_WINDOW),
    "ud_WZ": VVRanges((200.0, 1000.0), _W_WINDOW, _Z_WINDOW),
    "uu_WW": VVRanges((200.0, 1000.0), _W_WINDOW, _W_WINDOW),
}


@dataclass(frozen=True, eq=False)
class VVSample:
    """Points of :class:`VVPhaseSpace`.

    Attributes
    ----------
    kinematics : numpy.ndarray
        Shape ``(N, 4)``: s, t, ma2, mb2 [GeV²] (the invariants VVAMP takes).
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
        """Shape ``(N, 4, 4)``: momenta of q, q̄′, V1, V2 [GeV] in the centre-of-mass frame
        (:func:`activeamp.physics.kinematics.vv_momenta`), the layout of
        :attr:`activeamp.physics.phasespace.PhaseSpaceSample.momenta`."""
        return vv_momenta(self.kinematics)


class VVPhaseSpace:
    """Unit-hypercube mapping for q q̄′ → V1* V2*: ``u ∈ [0, 1]⁴ → (√s, cos θ*, m34, m56) → (s, t, ma2, mb2)``.

    ``√s`` runs over ``sqrt_s_range`` (linearly, or logarithmically with ``sqrt_s_map="log"``), ``cos θ* = 2u₂ − 1``,
    ``m34`` over ``[m34_min, min(m34_max, √s − m56_min)]`` and ``m56`` over ``[m56_min, min(m56_max, √s − m34)]``,
    so every point is above threshold. The weight is the Jacobian of the map, so that
    ``∫ f d√s dcos θ* dm34 dm56 = ∫_{[0,1]⁴} f(u) w(u) du``; physical cross sections add the Breit–Wigner
    and two-body phase-space factors to ``f``. Same interface as :class:`activeamp.physics.phasespace.PhaseSpaceSampler`
    where it matters to the active loop: :attr:`process`, :attr:`dim`, :meth:`from_unit`, :meth:`sample`.

    Parameters
    ----------
    process : str or Process
        A q q̄′ → V1 V2 process (:data:`activeamp.physics.process.VV_PROCESSES`); it supplies the default
        ranges (:data:`VV_RANGES`).
    sqrt_s_range, m34_range, m56_range : tuple of float, optional
        Ranges in GeV (defaults from :data:`VV_RANGES`).
    sqrt_s_map : {"linear", "log"}
        How ``u₁`` maps to √s.

    Raises
    ------
    KeyError
        If ``process`` is not a q q̄′ → V1 V2 process.
    ValueError
        For bad ranges or ``sqrt_s_map``; the message names the option.
    """

    dim = 4

    def __init__(
        self,
        process: str | Process = "uu_ZZ",
        *,
        sqrt_s_range: tuple[float, float] | None = None,
        m34_range: tuple[float, float] | None = None,
        m56_range: tuple[float, float] | None = None,
        sqrt_s_map: str = "linear",
    ) -> None:
        self.process: Process = get_vv_process(process)
        defaults = VV_RANGES[self.process.name]
        self.sqrt_s_range = self._range("sqrt_s_range", sqrt_s_range or defaults.sqrt_s_range)
        self.m34_range = self._range("m34_range", m34_range or defaults.m34_range)
        self.m56_range = self._range("m56_range", m56_range or defaults.m56_range)
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

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(process={self.process.name!r}, sqrt_s_range={self.sqrt_s_range}, "
            f"m34_range={self.m34_range}, m56_range={self.m56_range}, sqrt_s_map={self.sqrt_s_map!r})"
        )

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
        return vv_invariants_from_variables(np.stack([rs, cos, m34, m56], axis=1)), jac

    def to_unit(self, kinematics: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`from_unit`: invariants ``(N, 4)`` [GeV²] → unit-hypercube points ``(N, 4)``."""
        rs, cos, m34, m56 = vv_variables(kinematics).T
        lo, hi = self.sqrt_s_range
        u1 = (rs - lo) / (hi - lo) if self.sqrt_s_map == "linear" else np.log(rs / lo) / math.log(hi / lo)
        u3 = (m34 - self.m34_range[0]) / (self._m34_hi(rs) - self.m34_range[0])
        m56_hi = np.minimum(self.m56_range[1], rs - m34)
        u4 = (m56 - self.m56_range[0]) / (m56_hi - self.m56_range[0])
        return np.stack([u1, (cos + 1) / 2, u3, u4], axis=1)

    def sample(self, n: int, rng: RngLike, only_accepted: bool = True) -> VVSample:
        """Draw ``n`` points uniformly on the hypercube.

        Parameters
        ----------
        n : int
            Number of points.
        rng : numpy.random.Generator or int
            Source of randomness (an int is used as a seed).
        only_accepted : bool
            Accepted for the interface of :meth:`activeamp.physics.phasespace.PhaseSpaceSampler.sample`;
            every point of the map is physical (there are no cuts), so it changes nothing.

        Returns
        -------
        VVSample
            ``n`` points; ``.kinematics`` ``(n, 4)`` [GeV²] for the oracle, ``.momenta`` ``(n, 4, 4)`` [GeV].
        """
        del only_accepted  # every point passes
        u = as_generator(rng).random((int(n), 4))
        kin, w = self.from_unit(u)
        return VVSample(kin, u, w)
