"""Exchange symmetries of identical particles: the permutation group of a process, acting on momenta."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from activeamp.physics.process import Process

__all__ = ["SymmetryGroup"]


@dataclass(frozen=True)
class SymmetryGroup:
    """Permutations of particle labels under which |M|² is invariant (exchange of identical particles).

    The group is the direct product of the full permutation groups of each set of identical particles
    (:meth:`activeamp.physics.process.Process.identical_groups`): for g g → γ γ g, the exchange of the incoming
    gluons times the exchange of the photons, 4 elements. An element that swaps the two incoming particles
    is followed by a rotation by π about the x axis, ``(E, px, py, pz) → (E, px, −py, −pz)``, so the first
    incoming particle stays along +z (the convention of the momenta); |M|² is rotation invariant, so the
    combined map is still a symmetry, and the invariants ``s_ij`` are permuted exactly.

    Attributes
    ----------
    permutations : tuple of tuple of int
        One tuple per group element, identity first: image particle ``i`` is original particle ``perm[i]``.
    """

    permutations: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        if not self.permutations:
            raise ValueError("a symmetry group needs at least the identity")
        n = len(self.permutations[0])
        for perm in self.permutations:
            if sorted(perm) != list(range(n)):
                raise ValueError(f"symmetry group: {perm} is not a permutation of 0..{n - 1}")
        if tuple(self.permutations[0]) != tuple(range(n)):
            raise ValueError("symmetry group: the first element must be the identity")

    @classmethod
    def trivial(cls, n_particles: int) -> SymmetryGroup:
        """The group with the identity only."""
        return cls((tuple(range(n_particles)),))

    @classmethod
    def of(cls, process: Process) -> SymmetryGroup:
        """The identical-particle group of ``process`` (identity first, then in lexicographic order)."""
        n = process.n_particles
        factors = [list(itertools.permutations(group)) for group in process.identical_groups()]
        perms: list[tuple[int, ...]] = []
        for choice in itertools.product(*factors):
            perm = list(range(n))
            for group, image in zip(process.identical_groups(), choice, strict=True):
                for slot, source in zip(group, image, strict=True):
                    perm[slot] = source
            perms.append(tuple(perm))
        identity = tuple(range(n))
        perms.sort(key=lambda p: (p != identity, p))
        return cls(tuple(perms))

    @property
    def order(self) -> int:
        """Number of group elements."""
        return len(self.permutations)

    @property
    def n_particles(self) -> int:
        """Number of particles the permutations act on."""
        return len(self.permutations[0])

    def images(self, momenta: np.ndarray) -> np.ndarray:
        """All images of ``momenta`` under the group.

        Parameters
        ----------
        momenta : numpy.ndarray
            Shape ``(N, n, 4)`` float64, (E, px, py, pz) in GeV.

        Returns
        -------
        numpy.ndarray
            Shape ``(G, N, n, 4)`` float64, the identity image first.
        """
        p = np.asarray(momenta, dtype=np.float64)
        if p.ndim != 3 or p.shape[1:] != (self.n_particles, 4):
            raise ValueError(f"symmetry group of {self.n_particles} particles: "
                             f"expected momenta (N, {self.n_particles}, 4), "
                             f"got shape {p.shape}")
        out = np.empty((self.order, *p.shape))
        flip = np.array([1.0, 1.0, -1.0, -1.0])
        for g, perm in enumerate(self.permutations):
            out[g] = p[:, list(perm)]
            if perm[0] != 0:  # incoming particles exchanged: rotate by π about x so p1 is along +z again
                out[g] *= flip
        return out

    def invariant_columns(self) -> np.ndarray:
        """Shape ``(G, n(n−1)/2)``: for each element, the column of ``s_ij`` (pairs ``i < j`` in order) that image
        column ``(i, j)`` takes, since ``s'_ij = s_{perm[i] perm[j]}`` (the rotation of swapped beams leaves
        invariants alone). Features of all images then cost one invariant computation."""
        n = self.n_particles
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        column = {pair: k for k, pair in enumerate(pairs)}
        return np.array(
            [[column[tuple(sorted((perm[i], perm[j])))] for i, j in pairs] for perm in self.permutations],
            dtype=np.int64,
        )

    def state(self) -> dict[str, Any]:
        """Plain state for checkpoints; inverse of :meth:`from_state`."""
        return {"permutations": [list(p) for p in self.permutations]}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SymmetryGroup:
        """Rebuild from :meth:`state`."""
        perms: Sequence[Sequence[int]] = state["permutations"]
        return cls(tuple(tuple(int(i) for i in p) for p in perms))
