"""Scattering processes: the one place that names particles, so that sampler, cuts, oracles and networks agree."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PARTICLE_KINDS", "Process", "PROCESSES", "get_process"]

#: Particle kinds understood by cuts and oracles. Gluons in the final state are jets.
PARTICLE_KINDS: tuple[str, ...] = ("gluon", "photon", "quark", "antiquark")


@dataclass(frozen=True)
class Process:
    """A 2 → n partonic process with massless particles.

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
        PDG codes of all particles, incoming first (used by BLHA order files).

    Notes
    -----
    Momenta of a process are arrays of shape ``(N, n_particles, 4)`` (float64, GeV) ordered as
    ``incoming + outgoing``, each row ``(E, px, py, pz)``.
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
    def n_particles(self) -> int:
        """Number of particles, incoming included."""
        return 2 + len(self.outgoing)

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
        """Groups of particle indices that are identical (Bose symmetry), incoming and outgoing separately."""
        groups: list[tuple[int, ...]] = []
        if self.incoming[0] == self.incoming[1]:
            groups.append((0, 1))
        for kind in dict.fromkeys(self.outgoing):
            idx = self.outgoing_indices(kind)
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
