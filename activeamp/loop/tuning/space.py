"""The search-space language of the ``space`` section: distributions per surrogate setting, parsed into dimensions."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ray import tune

from activeamp.config import ConfigError
from activeamp.jsonio import plain
from activeamp.surrogate.config import SurrogateConfig

__all__ = ["DEFAULT_SPACE", "DISTRIBUTIONS", "LAYER_KEYS", "Dimension", "SearchSpace"]

#: Distribution names of the ``space`` section; arguments and bounds as in :mod:`ray.tune`
#: (``randint``/``lograndint``: upper bound exclusive; ``qrandint``: inclusive).
DISTRIBUTIONS: tuple[str, ...] = (
    "uniform",
    "quniform",
    "loguniform",
    "qloguniform",
    "randint",
    "qrandint",
    "lograndint",
    "choice",
    "grid",
)

#: The default search space (what ``tune/search.yaml`` spells out). ``batch_size`` counts training points per
#: optimiser step; ``n_layers`` counts hidden layers and ``width`` the units of each.
DEFAULT_SPACE: dict[str, Any] = {
    "family": {"choice": ["laplace", "bnn", "ensemble"]},
    "prior_width": {"loguniform": [1e-2, 10.0]},
    "n_layers": {"randint": [3, 7]},
    "width": {"choice": [64, 128, 256]},
    "activation": {"choice": ["silu", "gelu"]},
    "lr": {"loguniform": [1e-3, 1.5e-2]},
    "batch_size": {"choice": [512, 1024, 2048]},
}

#: Keys of the conditional layer list: the number of hidden layers and the distribution of each one's width.
LAYER_KEYS: tuple[str, ...] = ("n_layers", "width")

_RESERVED = frozenset({"max_epochs"})  # set per trial from the search's epochs
_CONTINUOUS = ("uniform", "quniform", "loguniform", "qloguniform")


def _number(value: Any, where: str, *, integer: bool = False) -> float | int:
    """A bound of a distribution as float (or int); YAML strings such as ``1e-3`` are accepted."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    if integer:
        if float(value) != int(value):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return int(value)
    return float(value)


def _list(raw: Any, where: str, expected: str, length: int | None = None) -> Sequence[Any]:
    """``raw`` as a list (of ``length`` entries when given), else an error naming ``where`` and the value."""
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence) or not raw:
        raise ConfigError(f"{where}: expected {expected}, got {raw!r}")
    if length is not None and len(raw) != length:
        raise ConfigError(f"{where}: expected {expected}, got {raw!r}")
    return raw


@dataclass(frozen=True)
class Dimension:
    """One parsed entry of the ``space`` section: a distribution or a constant.

    Attributes
    ----------
    key : str
        The surrogate setting (or ``n_layers`` / ``width``).
    kind : str
        One of :data:`DISTRIBUTIONS`, or ``"constant"``.
    args : tuple
        The constant; the choices (``choice``, ``grid``); or the numeric bounds ``(low, high)`` /
        ``(low, high, q)`` (ints for the ``*randint`` kinds).
    """

    key: str
    kind: str
    args: tuple[Any, ...]

    @classmethod
    def parse(cls, key: str, spec: Any) -> Dimension:
        """Parse ``space.<key>``: a constant or ``{kind: args}``; errors name the key (``space.lr.loguniform: ...``).

        Raises
        ------
        activeamp.config.ConfigError
        """
        where = f"space.{key}"
        if not isinstance(spec, Mapping):
            return cls(key, "constant", (spec,))
        if len(spec) != 1:
            raise ConfigError(
                f"{where}: a distribution is a mapping with one key ({', '.join(DISTRIBUTIONS)}), got {dict(spec)!r}"
            )
        ((kind, raw),) = spec.items()
        if kind not in DISTRIBUTIONS:
            raise ConfigError(f"{where}: unknown distribution {kind!r}; use one of {', '.join(DISTRIBUTIONS)}")
        where = f"{where}.{kind}"
        if kind in ("choice", "grid"):
            return cls(key, kind, tuple(_list(raw, where, "a non-empty list of values")))
        n_args = 3 if kind.startswith("q") else 2
        raw = _list(raw, where, "[low, high, q]" if n_args == 3 else "[low, high]", n_args)
        integer = kind.endswith("randint")
        low, high = (_number(v, f"{where}[{i}]", integer=integer) for i, v in enumerate(raw[:2]))
        args: tuple[Any, ...] = (low, high)
        if n_args == 3:
            q = _number(raw[2], f"{where}[2]", integer=integer)
            if not q > 0:
                raise ConfigError(f"{where}: q must be > 0, got {q!r}")
            args += (q,)
        inclusive = kind == "qrandint"
        if not (low <= high if inclusive else low < high):
            raise ConfigError(f"{where}: need low {'<=' if inclusive else '<'} high, got [{low}, {high}]")
        if kind.startswith(("log", "qlog")) and not low > 0:
            raise ConfigError(f"{where}: a log distribution needs low > 0, got {low!r}")
        return cls(key, kind, args)

    def spec(self) -> Any:
        """The canonical YAML form: the constant, or ``{kind: [args]}`` with numeric bounds."""
        return self.args[0] if self.kind == "constant" else {self.kind: list(self.args)}

    def domain(self) -> Any:
        """The Tune domain (or constant) for ``param_space``."""
        if self.kind == "constant":
            return self.args[0]
        if self.kind == "choice":
            return tune.choice(list(self.args))
        if self.kind == "grid":
            return tune.grid_search(list(self.args))
        return getattr(tune, self.kind)(*self.args)

    def extremes(self) -> list[Any]:
        """Values that bound what this dimension can produce (checked against the surrogate config)."""
        if self.kind in ("constant", "choice", "grid"):
            return list(self.args)
        low, high = self.args[:2]
        if self.kind in ("randint", "lograndint"):
            return [low, high - 1]
        return [low, high]

    @property
    def n_grid(self) -> int:
        """Grid points of this dimension (1 unless it is a ``grid``)."""
        return len(self.args) if self.kind == "grid" else 1


def _check_value(base: SurrogateConfig, values: Mapping[str, Any], where: str) -> None:
    """``base`` with ``values`` applied must be a valid surrogate; errors are prefixed with ``where``."""
    try:
        SurrogateConfig.from_dict({**base.to_dict(), **values})
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


@dataclass(frozen=True)
class SearchSpace:
    """The parsed ``space`` section: Tune domains per surrogate field, plus the conditional layer list.

    The hidden layers are sampled as ``n_layers`` and ``max_layers`` independent widths ``width_0 …
    width_{max_layers-1}`` (each from the ``width`` distribution); a trial uses the first ``n_layers`` of
    them, so every trial has its own list of layer sizes. The flat encoding keeps the space reproducible
    from the search seed and usable by any Tune search algorithm.

    Attributes
    ----------
    dimensions : tuple of Dimension
        The entries that map one-to-one onto :class:`SurrogateConfig` fields.
    n_layers, width : Dimension or None
        The layer-count and per-layer-width entries (both or neither).
    max_layers : int
        Largest number of hidden layers ``n_layers`` can produce (0 without a layer search).
    """

    dimensions: tuple[Dimension, ...]
    n_layers: Dimension | None = None
    width: Dimension | None = None
    max_layers: int = 0

    @classmethod
    def parse(cls, space: Mapping[str, Any], base: SurrogateConfig | None = None) -> SearchSpace:
        """Parse ``space``; with ``base``, also :meth:`check` it. Errors name the key (``space.lr.loguniform[0]: ...``).

        Raises
        ------
        activeamp.config.ConfigError
        """
        if isinstance(space, SearchSpace):
            parsed = space
        else:
            parsed = cls._parse(space)
        if base is not None:
            parsed.check(base)
        return parsed

    @classmethod
    def _parse(cls, space: Any) -> SearchSpace:
        if not isinstance(space, Mapping):
            raise ConfigError(f"space: expected a mapping of surrogate fields to distributions, got {space!r}")
        fields = {f.name for f in dataclasses.fields(SurrogateConfig)}
        dims: list[Dimension] = []
        layer: dict[str, Dimension] = {}
        for key, spec in space.items():
            if key in LAYER_KEYS:
                layer[key] = Dimension.parse(key, spec)
                continue
            if key in _RESERVED:
                raise ConfigError(f"space.{key}: set by the search (epochs); remove it from the space")
            if key not in fields:
                allowed = ", ".join(sorted((fields - _RESERVED) | set(LAYER_KEYS)))
                raise ConfigError(f"space.{key}: not a surrogate setting; allowed: {allowed}")
            dims.append(Dimension.parse(key, spec))
        if "hidden" in {d.key for d in dims} and layer:
            raise ConfigError("space.hidden: give either hidden or n_layers/width, not both")
        if len(layer) == 1:
            missing = next(k for k in LAYER_KEYS if k not in layer)
            raise ConfigError(f"space.{missing}: n_layers and width go together (layers = n_layers widths)")
        if not layer:
            return cls(tuple(dims))
        n_dim, w_dim = layer["n_layers"], layer["width"]
        if n_dim.kind in _CONTINUOUS:
            raise ConfigError(f"space.n_layers: needs integers (randint, choice, ...), not {n_dim.kind}")
        if w_dim.kind == "grid":
            raise ConfigError("space.width: grid is not supported per layer; use choice")
        for value in n_dim.extremes():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"space.n_layers: layer counts must be integers >= 1, got {value!r}")
        for value in w_dim.extremes():
            if isinstance(value, bool) or not isinstance(plain(value), (int, float)) or float(value) != int(value):
                raise ConfigError(f"space.width: layer widths must be integers >= 1, got {value!r}")
        return cls(tuple(dims), n_dim, w_dim, max(n_dim.extremes()))

    def check(self, base: SurrogateConfig) -> None:
        """Every value the space can produce, applied to ``base``, must be a valid surrogate.

        Raises
        ------
        activeamp.config.ConfigError
            Naming the key, e.g. ``space.lr: lr: must be > 0, got 0.0``.
        """
        for dim in self.dimensions:
            for value in dim.extremes():
                _check_value(base, {dim.key: plain(value)}, f"space.{dim.key}")
        if self.width is not None:
            for value in self.width.extremes():
                _check_value(base, {"hidden": [int(value)]}, "space.width")

    def get(self, key: str) -> Dimension | None:
        """The dimension of the surrogate field ``key`` (None when the space does not set it)."""
        return next((d for d in self.dimensions if d.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        """The canonical ``space`` section (bounds as numbers, e.g. ``"1e-3"`` read by YAML as text → 0.001)."""
        out = {d.key: d.spec() for d in self.dimensions}
        if self.n_layers is not None and self.width is not None:
            out.update(n_layers=self.n_layers.spec(), width=self.width.spec())
        return out

    def param_space(self) -> dict[str, Any]:
        """The ``param_space`` of the Tuner: one flat key per sampled quantity."""
        space = {d.key: d.domain() for d in self.dimensions}
        if self.n_layers is not None and self.width is not None:
            space["n_layers"] = self.n_layers.domain()
            for i in range(self.max_layers):
                space[f"width_{i}"] = self.width.domain()  # a fresh domain per layer
        return space

    def surrogate_values(self, trial_config: Mapping[str, Any]) -> dict[str, Any]:
        """The :class:`SurrogateConfig` fields a trial's sampled config sets (``hidden`` built from the layers)."""
        values = {d.key: plain(trial_config[d.key]) for d in self.dimensions}
        if self.n_layers is not None:
            n = int(plain(trial_config["n_layers"]))
            values["hidden"] = [int(plain(trial_config[f"width_{i}"])) for i in range(n)]
        return values

    def n_trials(self, num_samples: int) -> int:
        """Trials a search creates: ``num_samples`` per point of the grid dimensions."""
        grid = math.prod(d.n_grid for d in self.dimensions)
        return num_samples * grid * (self.n_layers.n_grid if self.n_layers is not None else 1)
