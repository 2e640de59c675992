"""A committee of independently trained surrogates, used as one model: the mixture of their predictions.

Several trainer actors (``trainer.n_actors`` of an active-learning run) each train their own surrogate on the same
data: independent seeds, or the members of one deep ensemble split across actors. No weights are exchanged or
averaged: every member keeps warm-starting from its own state, and only the predictions are combined, as an
equal-weight mixture of the members' predictive distributions (:func:`combine_predictions`):

* ⟨A⟩ = (1/K) Σ_k ⟨A⟩_k,
* σ_model² = (1/K) Σ_k σ_model,k² (the learned systematic uncertainty of Eq. 11, averaged),
* σ_pred² = (1/K) Σ_k [σ_pred,k² + (⟨A⟩_k − ⟨A⟩)²] (Eq. 10 over the union of the members' weight samples: their own
  spread plus the spread between members),

so σ_tot² = σ_model² + σ_pred² is the variance of the mixture. With weight samples attached, the committee's
samples are the members' samples side by side, and the formulas above are Eqs. 8, 10, 11 over them.

A committee is saved as one checkpoint holding every member's state (:meth:`SurrogateCommittee.save`);
:func:`load_model` reads either kind of checkpoint.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from activeamp.surrogate.checkpoint import (
    FORMAT_VERSION,
    MEMBERS_KEY,
    build_from_state,
    check_format,
    read_checkpoint,
    write_checkpoint,
)
from activeamp.surrogate.config import SurrogateConfig
from activeamp.surrogate.prediction import Prediction
from activeamp.surrogate.surrogate import Surrogate

__all__ = [
    "MEMBERS_KEY",
    "Model",
    "SurrogateCommittee",
    "combine_predictions",
    "committee_state",
    "is_committee_state",
    "load_model",
    "member_configs",
]



def combine_predictions(predictions: Sequence[Prediction]) -> Prediction:
    """The equal-weight mixture of K members' predictions (see the module docstring for the rule).

    Parameters
    ----------
    predictions : sequence of Prediction
        One per member, for the same N points: arrays ``(N,)`` or ``(N, K_out)`` in amplitude units.

    Returns
    -------
    Prediction
        ``mean``, ``sigma_model``, ``sigma_pred`` of the mixture; ``samples`` (and ``sigma_model_samples``)
        ``(Σ M_k, N[, K_out])`` when every member has them.
    """
    if not predictions:
        raise ValueError("combine_predictions: no predictions to combine")
    if len(predictions) == 1:
        return predictions[0]
    means = np.stack([p.mean for p in predictions])
    mean = means.mean(axis=0)
    sigma_model = np.sqrt(np.mean(np.stack([p.sigma_model**2 for p in predictions]), axis=0))
    within = np.mean(np.stack([p.sigma_pred**2 for p in predictions]), axis=0)
    between = np.mean((means - mean) ** 2, axis=0)
    samples = sigma_samples = None
    if all(p.samples is not None for p in predictions):
        samples = np.concatenate([p.samples for p in predictions])  # type: ignore[misc]
    if all(p.sigma_model_samples is not None for p in predictions):
        sigma_samples = np.concatenate([p.sigma_model_samples for p in predictions])  # type: ignore[misc]
    return Prediction(mean, sigma_model, np.sqrt(within + between), samples, sigma_samples)


def member_configs(config: SurrogateConfig, n_members: int) -> tuple[SurrogateConfig, ...]:
    """The surrogate configs of a committee of ``n_members`` from one run's ``config``.

    Member k gets the seed ``config.seed + k``. A deep ensemble (``family="ensemble"``) is split: each member holds
    ``config.n_members / n_members`` of its networks (so the committee is that ensemble, trained in parallel); any
    other family, repulsive ensembles included (their networks interact at every step), gives independent copies.

    Raises
    ------
    ValueError
        If an ensemble's networks do not split evenly.
    """
    if n_members < 1:
        raise ValueError(f"a committee needs at least one member, got {n_members}")
    per_member = config.n_members
    if config.family == "ensemble" and n_members > 1:
        if config.n_members % n_members:
            raise ValueError(
                f"surrogate.n_members: {config.n_members} ensemble networks do not split evenly over "
                f"{n_members} trainer actors; use a multiple of {n_members}"
            )
        per_member = config.n_members // n_members
    return tuple(dataclasses.replace(config, seed=config.seed + k, n_members=per_member) for k in range(n_members))


class SurrogateCommittee:
    """K trained surrogates predicting as one model (the mixture of :func:`combine_predictions`).

    Parameters
    ----------
    members : sequence of Surrogate
        The members, trained on the same process and outputs.

    Examples
    --------
    >>> committee = SurrogateCommittee([s1, s2, s3])                      # doctest: +SKIP
    >>> pred = committee.predict(momenta)                                # doctest: +SKIP
    """

    def __init__(self, members: Sequence[Surrogate]) -> None:
        if not members:
            raise ValueError("a committee needs at least one member")
        outputs = {m.n_outputs for m in members}
        processes = {m.config.process for m in members}
        if len(outputs) > 1 or len(processes) > 1:
            raise ValueError(
                f"committee members disagree: outputs {sorted(map(str, outputs))}, "
                f"processes {sorted(map(str, processes))}"
            )
        self.members: tuple[Surrogate, ...] = tuple(members)

    def __repr__(self) -> str:
        return f"SurrogateCommittee({len(self.members)} × {self.members[0]!r})"

    def __len__(self) -> int:
        return len(self.members)

    @property
    def config(self) -> SurrogateConfig:
        """The first member's config (the members differ only in their seeds and ensemble sizes)."""
        return self.members[0].config

    @property
    def is_fitted(self) -> bool:
        """Whether every member is trained."""
        return all(m.is_fitted for m in self.members)

    @property
    def n_outputs(self) -> int | None:
        """Outputs per point (None: a scalar |M|² model)."""
        return self.members[0].n_outputs

    @property
    def closed_form(self) -> bool:
        """Whether every member predicts in closed form (then so does the committee)."""
        return all(m.closed_form for m in self.members)

    @property
    def epoch(self) -> int:
        """Epochs of the first member."""
        return self.members[0].epoch

    @property
    def history(self) -> list[dict[str, Any]]:
        """The first member's learning curve (each member has its own, see ``members``)."""
        return self.members[0].history

    @property
    def n_parameters(self) -> int:
        """Trainable parameters of all members together."""
        return sum(m.n_parameters for m in self.members)

    def transform_inputs(self, x: np.ndarray) -> np.ndarray:
        """The first member's network inputs for momenta ``(N, n, 4)`` (raises ValueError on a process mismatch)."""
        return self.members[0].transform_inputs(x)

    def sample_count(self, n_samples: int | None = None) -> int:
        """Weight samples behind a sampled prediction: the sum of the members' (see :meth:`Surrogate.sample_count`)."""
        return sum(m.sample_count(n_samples) for m in self.members)

    def predict(
        self,
        x: np.ndarray,
        n_samples: int | None = None,
        *,
        return_samples: bool = False,
        batch_size: int | None = None,
        seed: int | None = None,
        closed_form: bool | None = None,
    ) -> Prediction:
        """The mixture prediction in amplitude units for momenta ``x`` ``(N, n, 4)`` [GeV].

        Every member predicts with :meth:`Surrogate.predict` (``n_samples`` each; member k's draws use
        ``seed + k`` when ``seed`` is given), then :func:`combine_predictions` mixes them.
        """
        return combine_predictions(
            [
                member.predict(
                    x,
                    n_samples,
                    return_samples=return_samples,
                    batch_size=batch_size,
                    seed=None if seed is None else seed + k,
                    closed_form=closed_form,
                )
                for k, member in enumerate(self.members)
            ]
        )

    def state_dict(self) -> dict[str, Any]:
        """Checkpoint state: the format, the first member's config and every member's :meth:`Surrogate.state_dict`."""
        return committee_state([m.state_dict() for m in self.members])

    def save(self, path: str | Path) -> Path:
        """Write one checkpoint with every member, atomically; return its path."""
        return write_checkpoint(path, self.state_dict())

    @classmethod
    def from_state(cls, state: Mapping[str, Any], device: str | None = None) -> SurrogateCommittee:
        """Committee from :meth:`state_dict` (members moved to ``device`` if given)."""
        check_format(state)
        if not is_committee_state(state):
            raise ValueError("a single surrogate, not a committee (load it with load_model)")
        return cls([Surrogate.from_state(s, device=device) for s in state[MEMBERS_KEY]])

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> SurrogateCommittee:
        """Committee from a :meth:`save` checkpoint (one ValueError naming the file when it cannot be read)."""
        return build_from_state(cls.from_state, read_checkpoint(path), path, device)


#: What :func:`load_model` returns: one surrogate or a committee, with the same prediction interface.
Model = Surrogate | SurrogateCommittee


def committee_state(members: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The checkpoint state of a committee from its members' :meth:`Surrogate.state_dict` (the format, the first
    member's config, every member's state)."""
    return {"format": FORMAT_VERSION, "config": members[0]["config"], MEMBERS_KEY: list(members)}


def is_committee_state(state: Mapping[str, Any]) -> bool:
    """Whether a checkpoint's state holds a committee (the members' states) rather than one surrogate."""
    return MEMBERS_KEY in state


def load_model(path: str | Path, device: str | None = None) -> Model:
    """The model in a checkpoint file: a :class:`Surrogate`, or a :class:`SurrogateCommittee` (``model.pt`` of a
    run with several trainer actors). Errors name the file."""
    state = read_checkpoint(path)
    kind = SurrogateCommittee if is_committee_state(state) else Surrogate
    return build_from_state(kind.from_state, state, path, device)
