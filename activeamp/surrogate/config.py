"""Configuration of the surrogate: network family and size, data pipeline, loss, optimiser and training stages."""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from activeamp import config as _config
from activeamp.physics.process import PROCESSES

if TYPE_CHECKING:
    import torch

__all__ = ["ACTIVATION_NAMES", "FAMILIES", "PAPER_HIDDEN", "SurrogateConfig", "resolve_device"]

#: Activation functions by name (the modules are in :data:`activeamp.surrogate.models.ACTIVATIONS`).
ACTIVATION_NAMES: tuple[str, ...] = ("tanh", "relu", "leaky_relu", "gelu", "silu", "softplus", "elu")
_DEVICE = re.compile(r"cpu|mps|(cuda|xpu)(:\d+)?")

#: Network families behind the :class:`Surrogate` interface.
FAMILIES: tuple[str, ...] = ("laplace", "bnn", "deterministic", "ensemble", "repulsive")

#: Hidden layer widths of arXiv:2206.14831 by process (2→2 reuses the 2→3 network).
PAPER_HIDDEN: dict[str, tuple[int, ...]] = {
    "gg_yy": (20, 20, 30, 40),
    "gg_yyg": (20, 20, 30, 40),
    "gg_yygg": (32, 64, 256, 512, 128, 64, 32),
}


@dataclass(frozen=True)
class SurrogateConfig:
    """Everything that defines a surrogate and its training; build with :meth:`from_dict` from YAML / Ray Tune.

    Attributes
    ----------
    family : {"laplace", "bnn", "deterministic", "ensemble", "repulsive"}
        ``"laplace"`` (default): a regressor with a Bayesian last layer whose posterior and σ_model head are
        fitted in closed form after each stage (:mod:`activeamp.surrogate.laplace`); mean-field BNN (paper); one
        heteroscedastic net; deep ensemble; repulsive ensemble.
    hidden : tuple of int
        Hidden widths (default 4 × 128). Paper: ``(20, 20, 30, 40)`` for 2→3, ``(32, 64, 256, 512, 128, 64, 32)``
        for 2→4.
    activation : str
        One of :data:`ACTIVATION_NAMES` (default silu; paper: tanh).
    prior_width : float
        σ_p of the Gaussian weight prior (BNN KL; L2 term of the repulsive ensemble; last-layer prior of
        ``"laplace"``).
    init_log_var : float
        Initial ``log σ²`` of the BNN's variational weights.
    local_reparam : bool
        BNN training with the local reparameterisation trick.
    bayesian_last_layer_only : bool
        BNN with only the output layer Bayesian.
    n_members : int
        Members of (repulsive) ensembles.
    repulsion : float
        Strength β of the repulsive term (1 = the Bayesian gradient flow).
    sigma_floor : float
        Lower bound on σ_model in preprocessed units (added after softplus).
    inputs : {"auto", "momenta", "invariants"}
        Standardised momentum components, or standardised ``log s_ij``. Plain ``(N, d)`` feature arrays are
        standardised as they are (with ``"momenta"``). ``"auto"`` (default): invariants for momenta, plain
        features as they are.
    sigma_a : {"std", "mean", "median"} or float
        σ_A of Eq. (15): a statistic of the training amplitudes or a fixed value (amplitude units). With
        ``target_transform="signed"`` (and for vector targets) the per-output scale ``c_k``, computed on ``|v_k|``.
    target_transform : {"pure_log", "log", "signed"}
        Target map. ``"pure_log"`` (default): standardised ``log A``, for scalar amplitudes > 0; relative errors
        weigh the same over all decades. ``"log"``: Eq. (15), ``log(1 + A/σ_A)`` standardised (per output for
        ``(N, K)`` targets); needs targets ≥ 0. ``"signed"``: per output ``(asinh(v_k/c_k) − μ_k)/s_k``, linear near
        zero and logarithmic for ``|v| ≫ c``, for signed targets such as form-factor coefficients that cross
        zero and span decades (:class:`activeamp.surrogate.preprocessing.SignedTargetTransform`).
    envelope : {"auto", "none", "monomial"}
        Smooth envelope E(x) divided out of the target (the network learns ``T(A/E)``): a monomial
        ``Π s_ij^c`` fitted on the training set
        (:class:`activeamp.surrogate.envelope.MonomialEnvelope`). ``"auto"``: the
        monomial for scalar amplitudes > 0 given as momenta, none otherwise.
    symmetry : {"auto", "none"}
        ``"auto"``: train on random images of each point under the exchange of identical particles of
        ``process`` and average predictions over all images (:class:`activeamp.physics.symmetry.SymmetryGroup`).
    process : str, optional
        Process of the training momenta (set by ``activeamp train`` and the active loop from the store);
        needed for ``symmetry``.
    loss : {"auto", "mse", "nll"}
        ``"auto"`` (default): ``"mse"`` for ``"laplace"``, ``"nll"`` for the other families.
        ``"mse"`` (``"laplace"`` only): the mean is fitted by least squares in the preprocessed
        space and σ_model afterwards on held-out residuals, so σ cannot absorb an under-fitted tail.
        ``"nll"``: the heteroscedastic likelihood of Eq. (14) for mean and σ together.
    optimizer : {"adamw", "adam"}
        Optimiser; ``weight_decay`` is AdamW's decoupled decay of the weight matrices.
    lr, batch_size : float, int
        Peak learning rate and optimiser batch size: training points per optimiser step (with data-parallel
        training the global batch, split over the workers). Defaults (6e-3, 1024): on 20 000 g g → γ γ g
        points and 40 000 steps, peaks of 1e-3 / 3e-3 / 6e-3 / 1.2e-2 gave Δ 68 % half-widths of
        1.5e-3 / 3.8e-4 / 3.2e-4 / 2.8e-4 (BENCHMARKS.md).
        The paper uses (1e-4, 8192), see :meth:`for_process`.
    max_epochs, max_steps, max_seconds : int, int, float
        Length of one training stage (one :meth:`Surrogate.fit` call): the first limit reached ends it
        (``max_steps``/``max_seconds`` 0: no limit). The cosine schedule runs over the stage's length, so a
        stage bounded by ``max_seconds`` depends on the machine's speed.
    patience, tol : int, float
        Plateau rule (not with the cosine schedule, whose stages run to their end): converged once the
        monitored loss (validation loss if a validation set is given, else the epoch-mean training loss) has
        not improved by more than ``tol · max(|best|, 1)`` for ``patience`` consecutive epochs.
    lr_schedule : {"cosine", "none", "exponential", "plateau"}
        ``"cosine"`` (default): per step, linear warm-up over ``warmup`` of the stage, then cosine decay to
        ``lr_min``. Per-epoch decay by ``lr_decay``, or reduction by ``lr_decay`` after
        ``max(patience // 4, 1)`` epochs without improvement.
    lr_decay : float
        Decay factor in (0, 1].
    warmup, lr_min : float
        Warm-up fraction of a cosine stage and its final learning rate.
    grad_clip : float
        Clip the gradient norm of each step to this value (0: no clipping).
    n_train_samples : int
        Weight samples per batch in the training loss (BNN).
    n_weight_samples : int
        Default M for predictions (BNN; ensembles always use their members).
    n_noise_samples : int
        Stratified normal nodes per weight sample for propagating σ_model to amplitude space.
    seed : int
        Run seed; initialisation, shuffling, weight noise and prediction draw independent derived seeds.
    device : str
        ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    """

    family: Literal["laplace", "bnn", "deterministic", "ensemble", "repulsive"] = "laplace"
    hidden: tuple[int, ...] = (128, 128, 128, 128)
    activation: str = "silu"
    prior_width: float = 1.0
    init_log_var: float = -9.0
    local_reparam: bool = False
    bayesian_last_layer_only: bool = False
    n_members: int = 8
    repulsion: float = 1.0
    sigma_floor: float = 1e-5
    inputs: Literal["auto", "momenta", "invariants"] = "auto"
    sigma_a: str | float = "std"
    target_transform: Literal["pure_log", "log", "signed"] = "pure_log"
    envelope: Literal["auto", "none", "monomial"] = "auto"
    symmetry: Literal["auto", "none"] = "auto"
    process: str | None = None
    loss: Literal["auto", "mse", "nll"] = "auto"
    optimizer: Literal["adamw", "adam"] = "adamw"
    weight_decay: float = 0.0
    lr: float = 6e-3
    batch_size: int = 1024
    max_epochs: int = 100_000
    max_steps: int = 200_000
    max_seconds: float = 0.0
    patience: int = 50
    tol: float = 1e-4
    lr_schedule: Literal["cosine", "none", "exponential", "plateau"] = "cosine"
    lr_decay: float = 0.99
    warmup: float = 0.01
    lr_min: float = 1e-6
    grad_clip: float = 1.0
    n_train_samples: int = 1
    n_weight_samples: int = 50
    n_noise_samples: int = 32
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            choices = typing.get_args(hints[f.name]) if typing.get_origin(hints[f.name]) is Literal else None
            if choices and getattr(self, f.name) not in choices:
                allowed = ", ".join(repr(a) for a in choices)
                raise _config.ConfigError(f"{f.name}: {getattr(self, f.name)!r} is not one of {allowed}")
        object.__setattr__(self, "hidden", tuple(self.hidden))  # lists from direct construction stay hashable
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise _config.ConfigError(f"hidden: expected a non-empty list of positive widths, got {self.hidden!r}")
        if self.activation not in ACTIVATION_NAMES:
            raise _config.ConfigError(f"activation: {self.activation!r} is not one of {', '.join(ACTIVATION_NAMES)}")
        positive = ("prior_width", "sigma_floor", "lr")
        at_least_one = ("n_members", "batch_size", "max_epochs", "patience", "n_train_samples", "n_weight_samples")
        for name in positive:
            if not getattr(self, name) > 0:
                raise _config.ConfigError(f"{name}: must be > 0, got {getattr(self, name)!r}")
        for name in at_least_one:
            if getattr(self, name) < 1:
                raise _config.ConfigError(f"{name}: must be >= 1, got {getattr(self, name)!r}")
        if self.n_noise_samples < 2:
            raise _config.ConfigError(f"n_noise_samples: must be >= 2, got {self.n_noise_samples}")
        non_negative = ("tol", "repulsion", "seed", "weight_decay", "max_steps", "max_seconds", "lr_min", "grad_clip")
        if any(getattr(self, n) < 0 for n in non_negative):
            bad = next(n for n in non_negative if getattr(self, n) < 0)
            raise _config.ConfigError(f"{bad}: must be >= 0, got {getattr(self, bad)!r}")
        if not 0 <= self.warmup < 1:
            raise _config.ConfigError(f"warmup: must be in [0, 1), got {self.warmup!r}")
        if self.loss == "mse" and self.family != "laplace":
            raise _config.ConfigError(
                f"loss: 'mse' fits σ_model after training, which only family 'laplace' does; "
                f"use loss: nll with family {self.family!r}"
            )
        if self.process is not None:
            if self.process not in PROCESSES:
                raise _config.ConfigError(f"process: {self.process!r} is not one of {', '.join(PROCESSES)}")
        if not 0 < self.lr_decay <= 1:
            raise _config.ConfigError(f"lr_decay: must be in (0, 1], got {self.lr_decay!r}")
        if isinstance(self.sigma_a, str) and self.sigma_a not in ("std", "mean", "median"):
            raise _config.ConfigError(f"sigma_a: {self.sigma_a!r} is not one of 'std', 'mean', 'median' or a number")
        if not isinstance(self.sigma_a, str) and not self.sigma_a > 0:
            raise _config.ConfigError(f"sigma_a: must be > 0, got {self.sigma_a!r}")
        if self.device != "auto" and not _DEVICE.fullmatch(self.device):
            raise _config.ConfigError(
                f"device: {self.device!r} is not 'auto', 'cpu', 'cuda', 'cuda:N', 'mps' or 'xpu:N'"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SurrogateConfig:
        """Validated config from a mapping (YAML section, Ray Tune ``param_space`` sample).

        Raises
        ------
        activeamp.config.ConfigError
            (a ``ValueError``) naming an unknown key (and listing the allowed ones) or a bad value.
        """
        return _config.from_dict(cls, data)

    @classmethod
    def for_process(cls, process: str, **overrides: Any) -> SurrogateConfig:
        """The paper's network and optimiser settings for ``process`` (batch 8192, lr 1e-4), with overrides."""
        if process not in PAPER_HIDDEN:
            raise _config.ConfigError(f"process: {process!r} has no paper preset; known: {', '.join(PAPER_HIDDEN)}")
        data = {
            "family": "bnn",
            "hidden": list(PAPER_HIDDEN[process]),
            "activation": "tanh",
            "inputs": "momenta",
            "target_transform": "log",
            "envelope": "none",
            "symmetry": "none",
            "loss": "nll",
            "optimizer": "adam",
            "lr_schedule": "none",
            "max_epochs": 1000,
            "max_steps": 0,
            "batch_size": 8192,
            "lr": 1e-4,
            **overrides,
        }
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists for tuples) that :meth:`from_dict` accepts."""
        return _config.to_dict(self)

    @property
    def training_loss(self) -> str:
        """The loss in use: ``"mse"`` or ``"nll"`` (``loss: auto`` resolved by family)."""
        if self.loss != "auto":
            return self.loss
        return "mse" if self.family == "laplace" else "nll"

    def with_process(self, process: str) -> SurrogateConfig:
        """This config with ``process`` set, unless it names one already (the store's process, for symmetry)."""
        return self if self.process is not None else dataclasses.replace(self, process=process)


def resolve_device(name: str) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; other names as given."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
