"""Vegas-adapted phase-space sampler: a ``vegas.AdaptiveMap`` on the unit hypercube in front of RAMBO."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import vegas

from activeamp.physics.cuts import CutLike
from activeamp.physics.phasespace import DEFAULT_SQRT_S, PhaseSpaceSampler, RngLike, as_generator, rambo_core
from activeamp.physics.process import Process

__all__ = ["VegasIteration", "VegasSampler", "WeightFunction"]

logger = logging.getLogger(__name__)

WeightFunction = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class VegasIteration:
    """One adaptation iteration of :class:`VegasSampler`.

    Attributes
    ----------
    integral : float
        Estimate of ``∫_cuts f dΦ_n`` with the map before this iteration's update (units of f × GeV^(2n−4)).
    error : float
        Its one-sigma statistical error.
    n_eval : int
        Number of points evaluated.
    acceptance : float
        Fraction of the points that passed the cuts.
    """

    integral: float
    error: float
    n_eval: int
    acceptance: float


class VegasSampler(PhaseSpaceSampler):
    """Phase-space sampler whose unit-hypercube points go through a ``vegas.AdaptiveMap`` before RAMBO.

    :meth:`adapt` trains the map on a weight function ``f(momenta) → (N,)`` (e.g. ``|M|²`` from an oracle, or
    a surrogate's uncertainty), so that :meth:`sample` concentrates points where ``|f|`` is large. Weights
    are ``V_n`` × the map's Jacobian (× cut indicator), so weighted sums stay unbiased integrals.

    The adaptation drives vegas' own :class:`vegas.AdaptiveMap` (``add_training_data`` / ``adapt``) with
    uniform points drawn from the caller's :class:`numpy.random.Generator`, instead of
    :class:`vegas.Integrator`, whose random numbers come from its own global generator: this way every
    result is reproducible from a seed. The sampler (map included) pickles; :meth:`get_state` /
    :meth:`set_state` move just the map.

    Parameters
    ----------
    process, sqrt_s, cuts, chunk_size
        As for :class:`activeamp.physics.phasespace.PhaseSpaceSampler`.
    ninc : int
        Number of map increments per dimension.
    alpha : float
        Default damping exponent for :meth:`vegas.AdaptiveMap.adapt` (larger adapts faster).
    """

    def __init__(
        self,
        process: Process | str,
        sqrt_s: float = DEFAULT_SQRT_S,
        cuts: CutLike | Mapping[str, Any] | list[CutLike] | None = None,
        *,
        ninc: int = 50,
        alpha: float = 0.5,
        chunk_size: int = 1 << 15,
    ) -> None:
        super().__init__(process, sqrt_s, cuts, chunk_size=chunk_size)
        if int(ninc) < 1:
            raise ValueError(f"ninc must be positive, got {ninc!r}")
        self.alpha: float = float(alpha)
        self.map: vegas.AdaptiveMap = vegas.AdaptiveMap(self.dim * [[0.0, 1.0]], ninc=int(ninc))

    def _map_into(self, y: np.ndarray, momenta: np.ndarray) -> np.ndarray:
        y = np.ascontiguousarray(y, dtype=np.float64)
        x = np.empty_like(y)
        jac = np.empty(y.shape[0])
        self.map.map(y, x, jac)
        # Guard against round-off at the upper edge of the hypercube.
        np.clip(x, 0.0, 1.0, out=x)
        rambo_core(np.array(x.T, order="C"), self.sqrt_s, momenta)
        jac *= self.volume
        return jac

    def adapt(
        self,
        f: WeightFunction | None,
        rng: RngLike,
        *,
        nitn: int = 10,
        neval: int = 20_000,
        alpha: float | None = None,
    ) -> list[VegasIteration]:
        """Adapt the map to ``|f|`` inside the cuts.

        Each iteration draws ``neval`` uniform points ``y``, maps them (current map, then RAMBO), evaluates
        ``f`` only on the points passing the cuts, feeds ``(jac · V_n · f)²`` to
        ``AdaptiveMap.add_training_data`` and calls ``AdaptiveMap.adapt(alpha)``.

        Parameters
        ----------
        f : callable or None
            ``f(momenta) → (M,)`` for momenta of shape ``(M, n_particles, 4)`` (GeV), called on points inside
            the cuts only; ``None`` means ``f = 1`` (adapt to the cut region itself).
        rng : numpy.random.Generator or int
            Source of randomness.
        nitn : int
            Number of iterations.
        neval : int
            Points per iteration.
        alpha : float, optional
            Damping exponent; defaults to the sampler's ``alpha``.

        Returns
        -------
        list of VegasIteration
            Per-iteration integral estimates (each with the map as it was before that iteration's update).
        """
        rng = as_generator(rng)
        alpha = self.alpha if alpha is None else float(alpha)
        history: list[VegasIteration] = []
        for it in range(int(nitn)):
            y = rng.random((int(neval), self.dim))
            momenta = np.empty((y.shape[0], self.process.n_particles, 4))
            w = self._map_into(y, momenta)
            ok = self.passes(momenta)
            if f is None:
                fw = np.where(ok, w, 0.0)
            else:
                fw = np.zeros(y.shape[0])
                if ok.any():
                    values = np.asarray(f(momenta[ok]), dtype=np.float64)
                    if values.shape != (int(ok.sum()),):
                        raise ValueError(f"f returned shape {values.shape}, expected ({int(ok.sum())},)")
                    fw[ok] = w[ok] * values
            mean = float(fw.mean())
            err = float(fw.std(ddof=1) / math.sqrt(fw.size)) if fw.size > 1 else float("nan")
            history.append(VegasIteration(mean, err, int(fw.size), float(ok.mean()) if ok.size else float("nan")))
            logger.debug("vegas iteration %d: integral %.6g ± %.2g, acceptance %.3f", it, mean, err, ok.mean())
            if not np.any(fw):
                logger.warning("vegas iteration %d: f vanishes on all %d points; map left unchanged", it, fw.size)
                continue
            self.map.add_training_data(y, fw * fw)
            self.map.adapt(alpha=alpha)
        return history

    def get_state(self) -> dict[str, Any]:
        """The adapted map as plain data: ``{"grid": (4n, ninc+1) float64 array}``; see :meth:`set_state`."""
        return {"grid": np.array(self.map.extract_grid(), dtype=np.float64)}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Replace the map by one saved with :meth:`get_state`.

        Raises
        ------
        ValueError
            If the grid does not have ``4n`` rows of increasing nodes spanning ``[0, 1]``.
        """
        if "grid" not in state:
            raise ValueError("vegas state: missing key 'grid'")
        grid = np.asarray(state["grid"], dtype=np.float64)
        if grid.ndim != 2 or grid.shape[0] != self.dim or grid.shape[1] < 2:
            raise ValueError(f"vegas state: grid must have shape ({self.dim}, ninc+1), got {grid.shape}")
        if np.any(np.diff(grid, axis=1) <= 0) or np.any(grid[:, 0] != 0.0) or np.any(grid[:, -1] != 1.0):
            raise ValueError("vegas state: every grid row must increase strictly from 0 to 1")
        self.map = vegas.AdaptiveMap(grid)
