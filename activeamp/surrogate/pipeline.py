"""The surrogate's data pipeline: symmetry images, envelope, input features and target map, fitted together."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from activeamp.physics.process import get_process
from activeamp.physics.symmetry import SymmetryGroup
from activeamp.surrogate.envelope import MonomialEnvelope
from activeamp.surrogate.preprocessing import (
    AnyTargetTransform,
    InputTransform,
    as_features,
    fit_target_transform,
    target_transform_from_state,
)

__all__ = ["Pipeline"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pipeline:
    """How points and amplitudes are presented to the network, and how its outputs map back.

    The network learns ``y = T(A / E(x))`` from the standardised features of every image ``g·x`` of a point
    under the process's exchange group; predictions average the network over the images and multiply by
    ``E(x)``. ``E`` is 1 without an envelope and the group is trivial without symmetry, which recovers the
    plain map ``y = T(A)`` of arXiv:2206.14831.

    Attributes
    ----------
    inputs : InputTransform
        Standardisation of the raw features (fitted on all images).
    target : TargetTransform, LogTargetTransform or PerOutputTransform
        The target map ``T`` (fitted on ``A / E``).
    envelope : MonomialEnvelope or None
        ``E(x)``; None for ``E = 1``.
    group : SymmetryGroup or None
        Exchange group of identical particles; None for the identity only.
    """

    inputs: InputTransform
    target: AnyTargetTransform
    envelope: MonomialEnvelope | None = None
    group: SymmetryGroup | None = None

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        values: np.ndarray,
        *,
        inputs: str,
        target: str,
        sigma_a: str | float,
        envelope: str = "none",
        symmetry: str = "none",
        process: str | None = None,
    ) -> Pipeline:
        """Fit every stage on training points.

        Parameters
        ----------
        x : numpy.ndarray
            Momenta ``(N, n, 4)`` [GeV] or plain features ``(N, d)``.
        values : numpy.ndarray
            Targets ``(N,)`` or ``(N, K)`` (target units).
        inputs, target, sigma_a : str
            ``SurrogateConfig.inputs`` (``"auto"``: invariants for momenta, plain features as they are),
            ``.target_transform`` and ``.sigma_a``.
        envelope : {"none", "monomial", "auto"}
            ``"auto"``: the monomial where it applies (scalar targets > 0 given with momenta), else none.
        symmetry : {"none", "auto"}
            ``"auto"``: the exchange group of ``process`` for scalar targets given as momenta of that process, else
            none (the coefficients of a vector oracle need not be invariant: they multiply tensor structures).
        process : str, optional
            Process name (:func:`activeamp.physics.process.get_process`), needed for the symmetry group.
        """
        momenta = np.ndim(x) == 3
        group = None
        if symmetry == "auto" and momenta and process is not None and np.ndim(values) == 1:
            candidate = SymmetryGroup.of(get_process(process))
            if candidate.n_particles != np.shape(x)[1]:
                raise ValueError(
                    f"symmetry: process {process!r} has {candidate.n_particles} particles, "
                    f"momenta have {np.shape(x)[1]}"
                )
            group = candidate if candidate.order > 1 else None
        images = group.images(x).reshape(-1, *np.shape(x)[1:]) if group is not None else np.asarray(x)
        scalar_positive = np.ndim(values) == 1 and bool(np.all(np.asarray(values) > 0))
        env = None
        if envelope == "monomial" or (envelope == "auto" and momenta and scalar_positive and target != "signed"):
            if not momenta:
                raise ValueError("envelope 'monomial' needs momenta (N, n, 4), got plain features")
            reps = 1 if group is None else group.order
            env = MonomialEnvelope.fit(images, np.tile(np.asarray(values, dtype=np.float64), reps))
        scaled = values if env is None else np.asarray(values, dtype=np.float64) / env(x)
        if inputs == "auto":
            inputs = "invariants" if momenta else "momenta"
        pipeline = cls(InputTransform.fit(images, inputs), fit_target_transform(scaled, target, sigma_a), env, group)
        logger.info(
            "pipeline: %d inputs, target %s, envelope %s, symmetry group of order %d",
            pipeline.inputs.dim,
            target,
            "monomial" if env is not None else "none",
            pipeline.order,
        )
        return pipeline

    @property
    def order(self) -> int:
        """Number of images per point (1 without symmetry)."""
        return 1 if self.group is None else self.group.order

    def encode(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Network inputs of every image and the envelope in one pass.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray or None)
            Standardised features ``(G, N, d)`` float64 (identity image first) and ``E(x)`` ``(N,)`` (amplitude
            units) or None for ``E = 1``. With invariant inputs the ``log s_ij`` are computed once and permuted.
        """
        if self.inputs.mode == "invariants" and np.ndim(x) == 3:
            raw, _ = as_features(x, "invariants")
            scale = None if self.envelope is None else self.envelope.of_log_invariants(raw)
            if self.group is None:
                return self.inputs.standardise(raw)[None], scale
            return self.inputs.standardise(raw[:, self.group.invariant_columns()].transpose(1, 0, 2)), scale
        if self.group is None:
            feats = self.inputs(x)[None]
        else:
            images = self.group.images(x)
            g, n = images.shape[:2]
            feats = self.inputs(images.reshape(g * n, *images.shape[2:])).reshape(g, n, -1)
        return feats, self.scale(x)

    def features(self, x: np.ndarray) -> np.ndarray:
        """Standardised network inputs of every image, shape ``(G, N, d)`` float64 (identity image first)."""
        return self.encode(x)[0]

    def scale(self, x: np.ndarray) -> np.ndarray | None:
        """``E(x)`` ``(N,)`` float64 (amplitude units), or None for ``E = 1``."""
        return None if self.envelope is None else self.envelope(x)

    def targets(self, x: np.ndarray, values: np.ndarray, scale: np.ndarray | None = None) -> np.ndarray:
        """Preprocessed targets ``T(A / E(x))``, same shape as ``values``, float64.

        ``scale``: ``E(x)`` when already computed (:meth:`encode` returns it), else it is computed from ``x``.
        """
        e = self.scale(x) if scale is None else scale
        v = np.asarray(values, dtype=np.float64)
        return self.target(v if e is None else v / e)

    def state(self) -> dict[str, Any]:
        """Plain state for checkpoints; inverse of :meth:`from_state`."""
        return {
            "input_transform": self.inputs.state(),
            "target_transform": self.target.state(),
            "envelope": None if self.envelope is None else self.envelope.state(),
            "symmetry": None if self.group is None else self.group.state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Pipeline:
        """Rebuild from :meth:`state` (``envelope`` and ``symmetry`` may be missing: older checkpoints)."""
        env = state.get("envelope")
        sym = state.get("symmetry")
        return cls(
            InputTransform.from_state(state["input_transform"]),
            target_transform_from_state(dict(state["target_transform"])),
            None if env is None else MonomialEnvelope.from_state(env),
            None if sym is None else SymmetryGroup.from_state(sym),
        )
