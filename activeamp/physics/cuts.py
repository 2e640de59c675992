"""Composable phase-space cuts by particle kind (pT, |η|, leading pT, ΔR) and the paper's presets."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from activeamp.physics.kinematics import as_momenta
from activeamp.physics.process import PARTICLE_KINDS, Process, get_process

__all__ = [
    "JET",
    "CUT_KINDS",
    "KindCut",
    "DeltaRCut",
    "Cuts",
    "CutLike",
    "as_cuts",
    "default_cuts",
    "kind_indices",
    "paper_cuts",
]

#: Pseudo-kind selecting all outgoing QCD partons (gluons, quarks, antiquarks): the jets.
JET = "jet"
#: Kinds a cut can be configured for: the particle kinds plus ``"jet"``.
CUT_KINDS: tuple[str, ...] = PARTICLE_KINDS + (JET,)
_JET_KINDS = ("gluon", "quark", "antiquark")
_KIND_KEYS = ("pt_min", "eta_max", "pt_leading")


def kind_indices(process: Process, kind: str) -> tuple[int, ...]:
    """Indices (into all particles, incoming first) of the outgoing particles a cut on ``kind`` applies to.

    Parameters
    ----------
    process : Process
        The process whose momenta are cut.
    kind : str
        One of :data:`CUT_KINDS`; ``"jet"`` selects every outgoing gluon, quark and antiquark.

    Returns
    -------
    tuple of int
        Sorted particle indices (``≥ 2``: incoming particles are never cut).
    """
    if kind not in CUT_KINDS:
        raise ValueError(f"unknown cut kind {kind!r}; known: {', '.join(CUT_KINDS)}")
    kinds = _JET_KINDS if kind == JET else (kind,)
    return tuple(2 + i for i, k in enumerate(process.outgoing) if k in kinds)


def _check_number(where: str, value: Any, *, allow_inf: bool = False, positive: bool = False) -> float:
    """Return ``value`` as a float, or raise a ValueError naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    x = float(value)
    if math.isnan(x) or (math.isinf(x) and not allow_inf):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    if x < 0 or (positive and x == 0):
        raise ValueError(f"{where}: expected a {'positive' if positive else 'non-negative'} number, got {value!r}")
    return x


def _fmt(x: float) -> str:
    return f"{x:g}"


class _Kinematics:
    """Per-call cache of the per-particle quantities that cuts need (``pT²``, η, φ), computed on demand."""

    def __init__(self, momenta: np.ndarray) -> None:
        self.momenta = momenta
        self._pt2: dict[int, np.ndarray] = {}
        self._eta: dict[int, np.ndarray] = {}
        self._phi: dict[int, np.ndarray] = {}

    @property
    def n_points(self) -> int:
        return self.momenta.shape[0]

    def pt2(self, i: int) -> np.ndarray:
        if i not in self._pt2:
            px = self.momenta[:, i, 1]
            py = self.momenta[:, i, 2]
            self._pt2[i] = px * px + py * py
        return self._pt2[i]

    def eta(self, i: int) -> np.ndarray:
        if i not in self._eta:
            with np.errstate(divide="ignore", invalid="ignore"):
                self._eta[i] = np.arcsinh(self.momenta[:, i, 3] / np.sqrt(self.pt2(i)))
        return self._eta[i]

    def phi(self, i: int) -> np.ndarray:
        if i not in self._phi:
            self._phi[i] = np.arctan2(self.momenta[:, i, 2], self.momenta[:, i, 1])
        return self._phi[i]


class _Composable:
    """Mixin: ``a & b`` combines any two cut objects into a :class:`Cuts`."""

    def __and__(self, other: CutLike) -> Cuts:
        if not isinstance(other, (KindCut, DeltaRCut, Cuts)):
            return NotImplemented
        return Cuts.all_of([self, other])  # type: ignore[list-item]

    def mask(self, momenta: np.ndarray, process: Process | str, *, check: bool = True) -> np.ndarray:
        """Boolean mask of the points passing the cut.

        Parameters
        ----------
        momenta : numpy.ndarray
            Shape ``(N, n_particles, 4)`` (GeV), ordered as ``process.kinds``.
        process : Process or str
            The process (or its name) the momenta belong to.
        check : bool
            Validate shape and finiteness of ``momenta`` (skip only for trusted, freshly generated arrays).

        Returns
        -------
        numpy.ndarray
            Shape ``(N,)``, bool: True where the point passes.
        """
        proc = get_process(process) if isinstance(process, str) else process
        if check:
            momenta = as_momenta(momenta, proc.n_particles)
        kin = _Kinematics(momenta)
        return self._mask(kin, proc)

    def __call__(self, momenta: np.ndarray, process: Process | str) -> np.ndarray:
        """Same as :meth:`mask`."""
        return self.mask(momenta, process)

    def _mask(self, kin: _Kinematics, process: Process) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class KindCut(_Composable):
    """Single-particle cuts on every outgoing particle of one kind.

    A point passes when every particle of the kind has ``pT > pt_min`` and ``|η| < eta_max``, and the
    k-th hardest particle of the kind has ``pT > pt_leading[k]`` (leading, subleading, …).

    Attributes
    ----------
    kind : str
        One of :data:`CUT_KINDS` (``"jet"`` = all outgoing gluons, quarks and antiquarks).
    pt_min : float
        Minimum transverse momentum for every particle of the kind (GeV); 0 disables.
    eta_max : float
        Maximum absolute pseudorapidity; ``inf`` disables.
    pt_leading : tuple of float
        Minimum pT of the hardest, second-hardest, … particle of the kind (GeV). Applying it to a process
        with fewer particles of the kind than thresholds is an error.
    """

    kind: str
    pt_min: float = 0.0
    eta_max: float = math.inf
    pt_leading: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in CUT_KINDS:
            raise ValueError(f"KindCut: unknown kind {self.kind!r}; known: {', '.join(CUT_KINDS)}")
        where = f"cut on {self.kind}"
        object.__setattr__(self, "pt_min", _check_number(f"{where}: pt_min", self.pt_min))
        object.__setattr__(
            self, "eta_max", _check_number(f"{where}: eta_max", self.eta_max, allow_inf=True, positive=True)
        )
        if isinstance(self.pt_leading, (str, bytes)) or not isinstance(self.pt_leading, Iterable):
            raise ValueError(f"{where}: pt_leading: expected a list of numbers, got {self.pt_leading!r}")
        leading = tuple(
            _check_number(f"{where}: pt_leading[{k}]", v)
            for k, v in enumerate(self.pt_leading)  # type: ignore[union-attr]
        )
        object.__setattr__(self, "pt_leading", leading)

    def merge(self, other: KindCut) -> KindCut:
        """The single cut equivalent to ``self`` and ``other`` together (same kind): the tighter of each."""
        if other.kind != self.kind:
            raise ValueError(f"cannot merge cuts on {self.kind!r} and {other.kind!r}")
        a, b = self.pt_leading, other.pt_leading
        common = tuple(max(x, y) for x, y in zip(a, b, strict=False))
        leading = common + (a[len(common) :] if len(a) > len(b) else b[len(common) :])
        return KindCut(self.kind, max(self.pt_min, other.pt_min), min(self.eta_max, other.eta_max), leading)

    def describe(self) -> str:
        """Readable one-line form, e.g. ``"photon: pT > 30 GeV, |η| < 2.37, pT(1st, 2nd) > 40, 30 GeV"``."""
        parts = []
        if self.pt_min > 0:
            parts.append(f"pT > {_fmt(self.pt_min)} GeV")
        if math.isfinite(self.eta_max):
            parts.append(f"|η| < {_fmt(self.eta_max)}")
        if self.pt_leading:
            ranks = ", ".join(_ordinal(k + 1) for k in range(len(self.pt_leading)))
            parts.append(f"pT({ranks}) > {', '.join(_fmt(t) for t in self.pt_leading)} GeV")
        return f"{self.kind}: {', '.join(parts) if parts else 'no cut'}"

    def to_dict(self) -> dict[str, Any]:
        """Configuration form (the non-default fields), as accepted under the kind's key by :meth:`Cuts.from_dict`."""
        out: dict[str, Any] = {}
        if self.pt_min > 0:
            out["pt_min"] = self.pt_min
        if math.isfinite(self.eta_max):
            out["eta_max"] = self.eta_max
        if self.pt_leading:
            out["pt_leading"] = list(self.pt_leading)
        return out

    def _mask(self, kin: _Kinematics, process: Process) -> np.ndarray:
        idx = kind_indices(process, self.kind)
        mask = np.ones(kin.n_points, dtype=bool)
        if not idx:
            if self.pt_leading:
                raise ValueError(
                    f"{self.describe()}: requires {len(self.pt_leading)} {self.kind}(s), "
                    f"process {process.name!r} has none"
                )
            return mask
        if len(self.pt_leading) > len(idx):
            raise ValueError(
                f"{self.describe()}: requires {len(self.pt_leading)} {self.kind}(s), "
                f"process {process.name!r} has {len(idx)}"
            )
        pt2 = [kin.pt2(i) for i in idx]
        if self.pt_min > 0:
            t2 = self.pt_min * self.pt_min
            for p in pt2:
                mask &= p > t2
        if math.isfinite(self.eta_max):
            # |η| < η_max  ⇔  |pz| < pT sinh(η_max): no transcendental function per point.
            c2 = math.sinh(self.eta_max) ** 2
            for i, p in zip(idx, pt2, strict=True):
                pz = kin.momenta[:, i, 3]
                mask &= pz * pz < c2 * p
        if self.pt_leading:
            if len(idx) == 1:
                ordered = pt2
            elif len(idx) == 2:
                ordered = [np.maximum(pt2[0], pt2[1]), np.minimum(pt2[0], pt2[1])]
            else:
                stacked = np.sort(np.stack(pt2, axis=1), axis=1)[:, ::-1]
                ordered = [stacked[:, k] for k in range(len(idx))]
            for t, p in zip(self.pt_leading, ordered, strict=False):
                mask &= p > t * t
        return mask


def _ordinal(k: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(k, f"{k}th")


@dataclass(frozen=True)
class DeltaRCut(_Composable):
    """Minimum angular separation ``ΔR = sqrt(Δη² + Δφ²)`` (``Δφ`` wrapped into ``[−π, π]``) between kinds.

    A point passes when every pair of distinct outgoing particles, one of ``kinds[0]`` and one of
    ``kinds[1]``, has ``ΔR > dr_min``. For two equal kinds this means all pairs within the kind.

    Attributes
    ----------
    kinds : tuple of (str, str)
        The two kinds (from :data:`CUT_KINDS`), stored sorted.
    dr_min : float
        Minimum separation (dimensionless).
    """

    kinds: tuple[str, str]
    dr_min: float

    def __post_init__(self) -> None:
        if isinstance(self.kinds, str) or len(self.kinds) != 2:
            raise ValueError(f"DeltaRCut: kinds must be a pair of kinds, got {self.kinds!r}")
        for k in self.kinds:
            if k not in CUT_KINDS:
                raise ValueError(f"DeltaRCut: unknown kind {k!r}; known: {', '.join(CUT_KINDS)}")
        object.__setattr__(self, "kinds", tuple(sorted(self.kinds)))
        object.__setattr__(self, "dr_min", _check_number(f"ΔR cut {self.pair_name}", self.dr_min))

    @property
    def pair_name(self) -> str:
        """The pair as written in configurations, e.g. ``"jet-photon"``."""
        return f"{self.kinds[0]}-{self.kinds[1]}"

    def describe(self) -> str:
        """Readable one-line form, e.g. ``"ΔR(jet, photon) > 0.4"``."""
        return f"ΔR({self.kinds[0]}, {self.kinds[1]}) > {_fmt(self.dr_min)}"

    def pairs(self, process: Process) -> list[tuple[int, int]]:
        """Particle-index pairs ``(i, j)``, ``i < j``, this cut applies to in ``process``."""
        a = kind_indices(process, self.kinds[0])
        b = kind_indices(process, self.kinds[1])
        return sorted({(min(i, j), max(i, j)) for i in a for j in b if i != j})

    def _mask(self, kin: _Kinematics, process: Process) -> np.ndarray:
        mask = np.ones(kin.n_points, dtype=bool)
        r2 = self.dr_min * self.dr_min
        for i, j in self.pairs(process):
            deta = kin.eta(i) - kin.eta(j)
            dphi = np.abs(kin.phi(i) - kin.phi(j))
            np.minimum(dphi, 2.0 * np.pi - dphi, out=dphi)
            mask &= deta * deta + dphi * dphi > r2
        return mask


@dataclass(frozen=True)
class Cuts(_Composable):
    """A conjunction of cuts: at most one :class:`KindCut` per kind and one :class:`DeltaRCut` per pair.

    Cuts act on outgoing particles only. Combine with ``a & b`` or :meth:`all_of`; cuts on the same kind
    (or pair) merge into the tighter one, so the combination is again in this normal form.

    Attributes
    ----------
    particles : tuple of KindCut
        Single-particle cuts, one per kind.
    delta_r : tuple of DeltaRCut
        Separation cuts, one per pair of kinds.

    Examples
    --------
    >>> cuts = Cuts.from_dict({"photon": {"pt_min": 30, "eta_max": 2.37}, "delta_r": {"photon-photon": 0.4}})
    >>> print(cuts.describe())
    photon: pT > 30 GeV, |η| < 2.37; ΔR(photon, photon) > 0.4
    """

    particles: tuple[KindCut, ...] = field(default=())
    delta_r: tuple[DeltaRCut, ...] = field(default=())

    def __post_init__(self) -> None:
        merged_p: dict[str, KindCut] = {}
        for c in self.particles:
            if not isinstance(c, KindCut):
                raise TypeError(f"Cuts.particles: expected KindCut, got {type(c).__name__}")
            merged_p[c.kind] = merged_p[c.kind].merge(c) if c.kind in merged_p else c
        merged_r: dict[tuple[str, str], DeltaRCut] = {}
        for c in self.delta_r:
            if not isinstance(c, DeltaRCut):
                raise TypeError(f"Cuts.delta_r: expected DeltaRCut, got {type(c).__name__}")
            old = merged_r.get(c.kinds)
            merged_r[c.kinds] = c if old is None or c.dr_min > old.dr_min else old
        object.__setattr__(self, "particles", tuple(merged_p.values()))
        object.__setattr__(self, "delta_r", tuple(merged_r.values()))

    @classmethod
    def all_of(cls, cuts: Iterable[CutLike | None]) -> Cuts:
        """Combine cut objects (``None`` entries are skipped) into one :class:`Cuts`."""
        particles: list[KindCut] = []
        delta_r: list[DeltaRCut] = []
        for c in cuts:
            if c is None:
                continue
            if isinstance(c, KindCut):
                particles.append(c)
            elif isinstance(c, DeltaRCut):
                delta_r.append(c)
            elif isinstance(c, Cuts):
                particles.extend(c.particles)
                delta_r.extend(c.delta_r)
            else:
                raise TypeError(f"cannot combine a {type(c).__name__} with cuts")
        return cls(tuple(particles), tuple(delta_r))

    @classmethod
    def from_dict(cls, config: Mapping[str, Any] | None, *, where: str = "cuts") -> Cuts:
        """Build cuts from a configuration mapping (e.g. a YAML section).

        Parameters
        ----------
        config : mapping or None
            Keys are cut kinds (``"photon"``, ``"gluon"``, ``"jet"``, ``"quark"``, ``"antiquark"``) mapping
            to ``{"pt_min": GeV, "eta_max": float, "pt_leading": [GeV, ...]}``, and ``"delta_r"`` mapping
            pairs ``"kind-kind"`` to the minimum ΔR. ``None`` or ``{}`` means no cuts. ``null`` values
            mean "no cut" for that field.
        where : str
            Prefix for error messages (the configuration path of the section).

        Raises
        ------
        ValueError
            Naming the offending key or value.

        Examples
        --------
        ``{"photon": {"eta_max": 2.37, "pt_leading": [40, 30]}, "jet": {"pt_min": 20, "eta_max": 5},
        "delta_r": {"jet-jet": 0.4, "jet-photon": 0.4, "photon-photon": 0.4}}``
        """
        if config is None:
            return cls()
        if not isinstance(config, Mapping):
            raise ValueError(f"{where}: expected a mapping, got {type(config).__name__}")
        particles: list[KindCut] = []
        delta_r: list[DeltaRCut] = []
        for key, value in config.items():
            if key == "delta_r":
                delta_r.extend(_delta_r_from_dict(value, f"{where}.delta_r"))
            elif key in CUT_KINDS:
                particles.append(_kind_cut_from_dict(key, value, f"{where}.{key}"))
            else:
                raise ValueError(
                    f"{where}: unknown key {key!r}; expected a particle kind ({', '.join(CUT_KINDS)}) or 'delta_r'"
                )
        return cls(tuple(particles), tuple(delta_r))

    def to_dict(self) -> dict[str, Any]:
        """Configuration form; ``Cuts.from_dict(c.to_dict()) == c``."""
        out: dict[str, Any] = {c.kind: c.to_dict() for c in self.particles}
        if self.delta_r:
            out["delta_r"] = {c.pair_name: c.dr_min for c in self.delta_r}
        return out

    def describe(self) -> str:
        """Readable one-line form, parts separated by ``"; "`` (``"no cuts"`` when empty)."""
        parts = [c.describe() for c in self.particles] + [c.describe() for c in self.delta_r]
        return "; ".join(parts) if parts else "no cuts"

    def __str__(self) -> str:
        return self.describe()

    def __bool__(self) -> bool:
        """False for the empty set of cuts."""
        return bool(self.particles or self.delta_r)

    def _mask(self, kin: _Kinematics, process: Process) -> np.ndarray:
        mask = np.ones(kin.n_points, dtype=bool)
        # Cheap single-particle cuts first, then the ΔR cuts (which need η and φ).
        for c in self.particles:
            mask &= c._mask(kin, process)
        for c in self.delta_r:
            mask &= c._mask(kin, process)
        return mask


#: Any single cut object: combine with ``&`` or :meth:`Cuts.all_of`.
CutLike = KindCut | DeltaRCut | Cuts


def _kind_cut_from_dict(kind: str, value: Any, where: str) -> KindCut:
    if value is None:
        return KindCut(kind)
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a mapping with keys {', '.join(_KIND_KEYS)}, got {value!r}")
    unknown = [k for k in value if k not in _KIND_KEYS]
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(_KIND_KEYS)}")
    pt_min = value.get("pt_min")
    eta_max = value.get("eta_max")
    leading = value.get("pt_leading")
    if leading is None:
        leading = ()
    elif isinstance(leading, (str, bytes)) or not isinstance(leading, Iterable):
        raise ValueError(f"{where}.pt_leading: expected a list of numbers, got {leading!r}")
    return KindCut(
        kind,
        pt_min=0.0 if pt_min is None else _check_number(f"{where}.pt_min", pt_min),
        eta_max=math.inf
        if eta_max is None
        else _check_number(f"{where}.eta_max", eta_max, allow_inf=True, positive=True),
        pt_leading=tuple(_check_number(f"{where}.pt_leading[{k}]", v) for k, v in enumerate(leading)),
    )


def _delta_r_from_dict(value: Any, where: str) -> list[DeltaRCut]:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a mapping 'kind-kind' -> minimum ΔR, got {value!r}")
    out = []
    for pair, dr in value.items():
        kinds = str(pair).split("-")
        if len(kinds) != 2 or any(k not in CUT_KINDS for k in kinds):
            raise ValueError(
                f"{where}: bad pair {pair!r}; expected 'kind-kind' with kinds from {', '.join(CUT_KINDS)}, "
                "e.g. 'jet-photon'"
            )
        out.append(DeltaRCut((kinds[0], kinds[1]), _check_number(f"{where}.{pair}", dr)))
    return out


def as_cuts(cuts: CutLike | Mapping[str, Any] | Iterable[CutLike] | None) -> Cuts:
    """Normalise the accepted forms of a cut specification to :class:`Cuts`.

    Parameters
    ----------
    cuts : Cuts, KindCut, DeltaRCut, mapping, iterable of cut objects, or None
        A mapping goes through :meth:`Cuts.from_dict`; an iterable through :meth:`Cuts.all_of`;
        ``None`` gives the empty cuts.

    Returns
    -------
    Cuts
    """
    if cuts is None:
        return Cuts()
    if isinstance(cuts, Cuts):
        return cuts
    if isinstance(cuts, (KindCut, DeltaRCut)):
        return Cuts.all_of([cuts])
    if isinstance(cuts, Mapping):
        return Cuts.from_dict(cuts)
    if isinstance(cuts, Iterable) and not isinstance(cuts, (str, bytes)):
        return Cuts.all_of(cuts)
    raise TypeError(f"cannot interpret {cuts!r} as cuts")


def paper_cuts(process: Process | str) -> Cuts:
    """The cuts of arXiv:2206.14831 for ``process``.

    With jets (g g → γ γ g, g g → γ γ g g): jets ``pT > 20 GeV``, ``|η_j| < 5``; photons leading
    ``pT > 40 GeV`` and subleading ``pT > 30 GeV``, ``|η_γ| < 2.37``; ``ΔR > 0.4`` for jet–jet,
    jet–photon and photon–photon pairs. Without jets (g g → γ γ): photons ``pT > 30 GeV``, ``|η_γ| < 2.37``.

    Parameters
    ----------
    process : Process or str
        The process or its name.

    Returns
    -------
    Cuts
    """
    proc = get_process(process) if isinstance(process, str) else process
    if kind_indices(proc, JET):
        return Cuts(
            particles=(
                KindCut("photon", eta_max=2.37, pt_leading=(40.0, 30.0)),
                KindCut(JET, pt_min=20.0, eta_max=5.0),
            ),
            delta_r=(
                DeltaRCut((JET, JET), 0.4),
                DeltaRCut((JET, "photon"), 0.4),
                DeltaRCut(("photon", "photon"), 0.4),
            ),
        )
    return Cuts(particles=(KindCut("photon", pt_min=30.0, eta_max=2.37),))


def default_cuts(process: Process | str) -> Cuts:
    """The cuts points of ``process`` lie inside by default (``phasespace.cuts: paper``, ``activeamp import``).

    :func:`paper_cuts` for the massless processes; none for the q q̄′ → V1 V2 processes, whose phase-space map's
    ranges select the points (:class:`activeamp.physics.vv_phasespace.VVPhaseSpace`).
    """
    proc = get_process(process) if isinstance(process, str) else process
    return paper_cuts(proc) if proc.massless else Cuts()
