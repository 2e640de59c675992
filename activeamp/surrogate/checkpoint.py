"""Surrogate checkpoint files: the format version, the pipeline's state in plain tensors, atomic write, checked read.

The state itself is :meth:`activeamp.surrogate.surrogate.Surrogate.state_dict` (plain types and tensors, loadable
with ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor

from activeamp.atomic import atomic_open
from activeamp.surrogate.config import SurrogateConfig
from activeamp.surrogate.pipeline import Pipeline

__all__ = [
    "FORMAT_VERSION",
    "MEMBERS_KEY",
    "build_from_state",
    "checkpoint_sha256",
    "CheckpointMixin",
    "check_format",
    "dump_state",
    "load_state",
    "pipeline_from_state",
    "pipeline_state",
    "read_checkpoint",
    "sigma_sees_inputs",
    "write_checkpoint",
]

logger = logging.getLogger(__name__)

_S = TypeVar("_S", bound="CheckpointMixin")
_T = TypeVar("_T")

#: Version of the checkpoint layout; a checkpoint of another version is refused.
FORMAT_VERSION = 1

#: Key of a committee checkpoint (:mod:`activeamp.surrogate.committee`) that holds the members' states.
MEMBERS_KEY = "members"


def _to_torch_state(state: dict[str, Any]) -> dict[str, Any]:
    return {k: torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray) else v for k, v in state.items()}


def _to_numpy_state(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v.numpy() if isinstance(v, Tensor) else v for k, v in state.items()}


def pipeline_state(pipeline: Pipeline) -> dict[str, Any]:
    """The checkpoint entries of a fitted pipeline: ``input_transform``, ``target_transform`` (with its kind),
    ``envelope`` and ``symmetry`` (None where the pipeline has none); arrays as tensors."""
    envelope = pipeline.envelope
    return {
        "input_transform": _to_torch_state(pipeline.inputs.state()),
        "target_transform": pipeline.target.state(),
        "envelope": None if envelope is None else _to_torch_state(envelope.state()),
        "symmetry": None if pipeline.group is None else pipeline.group.state(),
    }


def pipeline_from_state(state: Mapping[str, Any]) -> Pipeline:
    """Inverse of :func:`pipeline_state`, from a checkpoint (one without ``envelope``/``symmetry``: none)."""
    return Pipeline.from_state(
        {
            "input_transform": _to_numpy_state(state["input_transform"]),
            "target_transform": state["target_transform"],
            "envelope": None if state.get("envelope") is None else _to_numpy_state(state["envelope"]),
            "symmetry": state.get("symmetry"),
        }
    )


def check_format(state: Mapping[str, Any]) -> None:
    """Raise ValueError unless ``state`` has the checkpoint layout :data:`FORMAT_VERSION`."""
    if state.get("format") != FORMAT_VERSION:
        raise ValueError(f"checkpoint format {state.get('format')!r} is not supported (expected {FORMAT_VERSION})")


def sigma_sees_inputs(model: Mapping[str, Tensor], last_hidden: int) -> bool:
    """Whether the σ head of a ``laplace`` network's state ``model`` takes the inputs besides the last features.

    False for checkpoints written before it did: their first σ layer has ``last_hidden`` inputs.
    """
    sigma_in = model.get("sigma_head.0.weight")  # (1, width, H) where the σ head saw φ only
    features_only = sigma_in is not None and sigma_in.shape[-1] == last_hidden
    return not features_only


def checkpoint_sha256(path: str | Path) -> str:
    """Hex sha256 of a checkpoint file (read in blocks), the provenance that exports and the hybrid oracle record."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dump_state(state: Mapping[str, Any]) -> bytes:
    """A checkpoint state as bytes (the content of a checkpoint file)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def load_state(data: bytes) -> Mapping[str, Any]:
    """Inverse of :func:`dump_state`, read on the CPU with ``weights_only=True``."""
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def write_checkpoint(path: str | Path, state: Mapping[str, Any]) -> Path:
    """Write ``state`` with :func:`torch.save` atomically (temporary file, then rename) and return its path."""
    path = Path(path)
    with atomic_open(path, "wb") as fh:
        torch.save(state, fh)
    return path


def read_checkpoint(path: str | Path) -> Mapping[str, Any]:
    """The state in a checkpoint file, read on the CPU with ``weights_only=True``.

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        If there is no file at ``path``; the message names it.
    ValueError
        If the file is not an activeamp surrogate checkpoint (not a torch file, or no ``format``/``config``).
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such checkpoint") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{path}: is a folder, not a checkpoint (its model.pt?)") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for files that are not checkpoints
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ValueError(f"{path}: not an activeamp surrogate checkpoint ({reason})") from None
    missing = [key for key in ("format", "config") if not isinstance(state, Mapping) or key not in state]
    if missing:
        raise ValueError(
            f"{path}: not an activeamp surrogate checkpoint (no {' or '.join(repr(k) for k in missing)} field; "
            "write one with `activeamp train` or Surrogate.save)"
        )
    return state


class CheckpointMixin:
    """The state and checkpoint methods of :class:`activeamp.surrogate.surrogate.Surrogate`.

    They use the surrogate's ``config``, ``device``, ``epoch``, ``history``, ``stage``, ``pipeline``, ``net``,
    ``optimizer``, ``scheduler``, its RNGs and output count, ``is_fitted``, ``input_transform`` and ``_build``.
    """

    config: SurrogateConfig
    device: torch.device
    epoch: int
    history: list[dict[str, Any]]
    stage: dict[str, Any] | None
    pipeline: Pipeline | None
    _n_outputs: int | None
    _shuffle_gen: torch.Generator
    _noise_gen: torch.Generator

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: config, preprocessing (with the target map's kind), the number of outputs,
        network, optimiser, scheduler, epoch, history, stage and RNG states (plain types and tensors, loadable
        with ``torch.load(weights_only=True)``)."""
        state: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "epoch": self.epoch,
            "history": [dict(h) for h in self.history],
            "stage": dict(self.stage) if self.stage is not None else None,
            "rng": {
                "shuffle": self._shuffle_gen.get_state(),
                "noise": self._noise_gen.get_state(),
                "noise_device": self.device.type,
            },
            "fitted": self.is_fitted,
            "n_outputs": self._n_outputs,
        }
        if self.is_fitted:
            state.update(pipeline_state(self.pipeline))
            state["model"] = {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()}
            state["optimizer"] = self.optimizer.state_dict()
            state["scheduler"] = self.scheduler.state_dict() if self.scheduler is not None else None
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore from :meth:`state_dict` (the config must match this surrogate's, device aside).

        Checkpoints written before vector models existed (no ``n_outputs``, a target map without ``kind``)
        load as scalar models with the log map of Eq. (15).
        """
        check_format(state)
        self.epoch = int(state["epoch"])
        self.history = [dict(h) for h in state["history"]]
        self.stage = dict(state["stage"]) if state["stage"] is not None else None
        self._shuffle_gen.set_state(state["rng"]["shuffle"])
        if state["rng"]["noise_device"] == self.device.type:
            self._noise_gen.set_state(state["rng"]["noise"])
        else:
            logger.warning(
                "checkpoint was written on %s, loading on %s: weight-noise RNG reseeded, a resumed run "
                "will not repeat the original one bit for bit",
                state["rng"]["noise_device"],
                self.device.type,
            )
        if not state["fitted"]:
            return
        self.pipeline = pipeline_from_state(state)
        n_outputs = state.get("n_outputs")
        self._n_outputs = None if n_outputs is None else int(n_outputs)
        self._build(self.input_transform.dim, sigma_inputs=sigma_sees_inputs(state["model"], self.config.hidden[-1]))
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])

    def save(self, path: str | Path) -> Path:
        """Write a checkpoint atomically (temporary file, then rename) and return its path."""
        return write_checkpoint(path, self.state_dict())

    @classmethod
    def from_state(cls: type[_S], state: Mapping[str, Any], device: str | None = None) -> _S:
        """Surrogate from a :meth:`state_dict`, optionally on another ``device`` (errors as raised by the parts)."""
        if MEMBERS_KEY in state:
            raise ValueError(
                f"a committee of {len(state[MEMBERS_KEY])} surrogates (a run with several trainer actors), not one "
                "surrogate: load it with activeamp.surrogate.committee.load_model"
            )
        config = SurrogateConfig.from_dict(state["config"])
        if device is not None:
            config = dataclasses.replace(config, device=device)
        surrogate = cls(config)  # type: ignore[call-arg]  # Surrogate(config)
        surrogate.load_state_dict(state)
        return surrogate

    @classmethod
    def load(cls: type[_S], path: str | Path, device: str | None = None) -> _S:
        """Surrogate from a :meth:`save` checkpoint, optionally on another ``device``."""
        return build_from_state(cls.from_state, read_checkpoint(path), path, device)


def build_from_state(
    build: Callable[[Mapping[str, Any], str | None], _T], state: Mapping[str, Any], path: str | Path, device: str | None
) -> _T:
    """``build(state, device)`` for the state read from the checkpoint ``path``; any error in it becomes one
    ValueError naming the file."""
    try:
        return build(state, device)
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        text = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
        reason = " ".join(line.strip() for line in text.strip().splitlines())[:300]
        raise ValueError(f"{path}: cannot load the checkpoint: {reason}") from exc
