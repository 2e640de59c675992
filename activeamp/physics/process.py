"""Scattering processes: the one place that names particles, so that sampler, cuts, oracles and networks agree."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MASSIVE_KINDS", "PARTICLE_KINDS", "Process", "PROCESSES", "VV_PROCESSES", "get_process", "get_vv_process"]

#: Particle kinds understood by cuts and oracles. Gluons in the final state are jets; ``"Z"`` and ``"W"`` are
#: (off-shell) massive vector bosons, whose masses are those of their momenta.
PARTICLE_KINDS: tuple[str, ...] = ("gluon", "photon", "quark", "antiquark", "Z", "W")
#: The massive kinds among :data:`PARTICLE_KINDS`; a process with any of them is not :attr:`Process.massless`.
MASSIVE_KINDS: tuple[str, ...] = ("Z", "W")


@dataclass(frozen=True)
class Process:
    """A 2 → n partonic process: massless partons and photons, or massive (off-shell) vector bosons.

    Processes of massless particles only (:attr:`massless`) are sampled with RAMBO
    (:class:`activeamp.physics.phasespace.PhaseSpaceSampler`); the q q̄′ → V1 V2 processes with off-shell ``"Z"``/``"W"``
    bosons (:data:`VV_PROCESSES`) are sampled with :class:`activeamp.physics.vv_phasespace.VVPhaseSpace`.

    Attributes
    ----------
    name : str
        Short identifier, e.g. ``"gg_yyg"``.
    incoming : tuple of str
        Kinds of the two incoming particles (beam along +z first, then −z).
    outgoing : tuple of str
        Kinds of the outgoing particles, in the order the momenta are stored.
    description : str
        Human-readable form, e.g. ``"g g -> γ γ g"``.
    pdg : tuple of int
        PDG codes of all particles, incoming first (used by BLHA order files; they also tell apart particles
        of one kind that are not identical, e.g. W⁺ and W⁻).

    Notes
    -----
    Momenta of a process are arrays of shape ``(N, n_particles, 4)`` (float64, GeV) ordered as
    ``incoming + outgoing``, each row ``(E, px, py, pz)``. Massive bosons are off-shell: their masses are
    ``sqrt(p²)`` of their momenta.
    """

    name: str
    incoming: tuple[str, str]
    outgoing: tuple[str, ...]
    description: str
    pdg: tuple[int, ...]

    def __post_init__(self) -> None:
        for kind in self.incoming + self.outgoing:
            if kind not in PARTICLE_KINDS:
                raise ValueError(f"process {self.name!r}: unknown particle kind {kind!r}; known: {PARTICLE_KINDS}")
        if len(self.pdg) != self.n_particles:
            raise ValueError(f"process {self.name!r}: {len(self.pdg)} PDG codes for {self.n_particles} particles")

    @property
    def n_final(self) -> int:
        """Number of outgoing particles."""
        return len(self.outgoing)

    @property
    def amplitude_units(self) -> str:
        """Units of |M|² (2 → n): ``"1"`` for 2 → 2, else ``"GeV^-2(n-2)"``, e.g. ``"GeV^-2"`` for 2 → 3."""
        power = 2 * (self.n_final - 2)
        return "1" if power == 0 else f"GeV^-{power}"

    @property
    def n_particles(self) -> int:
        """Number of particles, incoming included."""
        return 2 + len(self.outgoing)

    @property
    def massless(self) -> bool:
        """True unless a particle is of a massive kind (:data:`MASSIVE_KINDS`)."""
        return not any(kind in MASSIVE_KINDS for kind in self.kinds)

    @property
    def kinds(self) -> tuple[str, ...]:
        """Kinds of all particles, incoming first."""
        return self.incoming + self.outgoing

    @property
    def momentum_shape(self) -> tuple[int, int]:
        """Shape of one phase-space point's momenta: ``(n_particles, 4)``."""
        return (self.n_particles, 4)

    def outgoing_indices(self, kind: str) -> tuple[int, ...]:
        """Indices (into all particles, incoming first) of outgoing particles of ``kind``."""
        return tuple(2 + i for i, k in enumerate(self.outgoing) if k == kind)

    def identical_groups(self) -> tuple[tuple[int, ...], ...]:
        """Groups of particle indices that are identical (same kind and PDG code), incoming and outgoing separately.

        W⁺ and W⁻ share the kind ``"W"`` but not the PDG code, so they do not form a group.
        """
        groups: list[tuple[int, ...]] = []
        if self.incoming[0] == self.incoming[1] and self.pdg[0] == self.pdg[1]:
            groups.append((0, 1))
        for key in dict.fromkeys(zip(self.outgoing, self.pdg[2:], strict=True)):
            idx = tuple(2 + i for i, k in enumerate(zip(self.outgoing, self.pdg[2:], strict=True)) if k == key)
            if len(idx) > 1:
                groups.append(idx)
        return tuple(groups)


PROCESSES: dict[str, Process] = {
    p.name: p
    for p in (
        Process("gg_yy", ("gluon", "gluon"), ("photon", "photon"), "g g -> γ γ", (21, 21, 22, 22)),
        Process("gg_yyg", ("gluon", "gluon"), ("photon", "photon", "gluon"), "g g -> γ γ g", (21, 21, 22, 22, 21)),
        Process(
            "gg_yygg",
            ("gluon", "gluon"),
            ("photon", "photon", "gluon", "gluon"),
            "g g -> γ γ g g",
            (21, 21, 22, 22, 21, 21),
        ),
        # q q̄′ → V1 V2 with off-shell bosons (VVAMP form factors, oracles.vvamp): the VV_PROCESSES
        Process("uu_ZZ", ("quark", "antiquark"), ("Z", "Z"), "u ū -> Z Z", (2, -2, 23, 23)),
        Process("dd_ZZ", ("quark", "antiquark"), ("Z", "Z"), "d d̄ -> Z Z", (1, -1, 23, 23)),
        Process("ud_WZ", ("quark", "antiquark"), ("W", "Z"), "u d̄ -> W⁺ Z", (2, -1, 24, 23)),
        Process("uu_WW", ("quark", "antiquark"), ("W", "W"), "u ū -> W⁺ W⁻", (2, -2, 24, -24)),
    )
}


def get_process(name: str) -> Process:
    """Return the process called ``name``.

    Raises
    ------
    KeyError
        If the name is unknown; the message lists the known processes.
    """
    try:
        return PROCESSES[name]
    except KeyError:
        raise KeyError(f"unknown process {name!r}; known processes: {', '.join(sorted(PROCESSES))}") from None


#: Names of the q q̄′ → V1 V2 processes (two off-shell massive bosons in the final state; VVAMP's processes).
VV_PROCESSES: tuple[str, ...] = tuple(
    name
    for name, p in PROCESSES.items()
    if p.incoming == ("quark", "antiquark") and p.n_final == 2 and all(k in MASSIVE_KINDS for k in p.outgoing)
)


def get_vv_process(name: str | Process) -> Process:
    """Return the q q̄′ → V1 V2 process called ``name`` (momenta ``(N, 4, 4)``: q, q̄′, V1, V2).

    Raises
    ------
    KeyError
        If the name is unknown or not a q q̄′ → V1 V2 process; the message lists the VV processes.
    """
    key = name.name if isinstance(name, Process) else name
    if key not in VV_PROCESSES:
        known = ", ".join(sorted(VV_PROCESSES))
        if key in PROCESSES:
            raise KeyError(f"process {key!r} is not a q q̄′ → V1 V2 process; the VV processes are {known}")
        raise KeyError(f"unknown VV process {key!r}; the VV processes are {known}")
    return PROCESSES[key]
