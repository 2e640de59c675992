"""Surrogate network families behind one interface: base class, heteroscedastic loss, (repulsive) ensembles."""

from __future__ import annotations

import abc
import logging
import math

import torch
from torch import Tensor, nn

__all__ = [
    "ACTIVATIONS",
    "Params",
    "SurrogateNet",
    "BatchedLinear",
    "apply_layers",
    "EnsembleNet",
    "RepulsiveEnsembleNet",
    "make_activation",
    "head_width",
    "heteroscedastic_head",
    "heteroscedastic_nll",
    "squared_error",
    "objective",
    "rbf_repulsion",
]

logger = logging.getLogger(__name__)

#: Activation functions by config name.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
}

#: Weights of one or several networks: per layer ``(W, b)`` with ``W`` of shape ``(M, out, in)`` and
#: ``b`` of shape ``(M, out)``, where ``M`` is the number of weight samples / members (or 1, broadcast).
Params = list[tuple[Tensor, Tensor]]


def make_activation(name: str) -> nn.Module:
    """Instantiate the activation called ``name`` (one of :data:`ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"activation: {name!r} is not one of {', '.join(ACTIVATIONS)}") from None


def head_width(n_outputs: int | None) -> int:
    """Raw output width of the heteroscedastic head: 2 for a scalar model, ``2 K`` for K outputs."""
    return 2 if n_outputs is None else 2 * int(n_outputs)


def heteroscedastic_head(raw: Tensor, sigma_floor: float, n_outputs: int | None = None) -> tuple[Tensor, Tensor]:
    """Split raw outputs into the mean Ā and ``σ_model = softplus(raw_σ) + floor``.

    Parameters
    ----------
    raw : torch.Tensor
        Shape ``(..., 2)`` for a scalar model, ``(..., 2 K)`` for K outputs (means first, then the σ columns).
    sigma_floor : float
        Added after the softplus, so that σ_model > 0.
    n_outputs : int, optional
        K; None for a scalar model.

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        Ā and σ_model, each ``(...)`` (scalar model) or ``(..., K)``.
    """
    if n_outputs is None:
        return raw[..., 0], nn.functional.softplus(raw[..., 1]) + sigma_floor
    k = int(n_outputs)
    return raw[..., :k], nn.functional.softplus(raw[..., k : 2 * k]) + sigma_floor


def heteroscedastic_nll(mean: Tensor, sigma: Tensor, target: Tensor, weights: Tensor | None = None) -> Tensor:
    """Per-point-weighted Gaussian NLL of Eq. (14), averaged over weight samples.

    ``Σ_j n_j ⟨(Ā_j(ω) − y_j)²/(2σ_j(ω)²) + log σ_j(ω)⟩_ω / Σ_j n_j`` (the constant ``log √(2π)`` is omitted).
    For K outputs per point the NLL of a point is the sum over its outputs (independent Gaussians).

    Parameters
    ----------
    mean, sigma : torch.Tensor
        Shape ``(M, B)``, or ``(M, B, K)`` for K outputs: network outputs for ``M`` weight samples
        (preprocessed target units).
    target : torch.Tensor
        Shape ``(B,)`` or ``(B, K)``: preprocessed targets.
    weights : torch.Tensor, optional
        Shape ``(B,)``: multiplicities ``n_j ≥ 0`` (Eq. 19); all ones when omitted.

    Returns
    -------
    torch.Tensor
        Scalar: the weighted mean NLL per point.
    """
    terms = 0.5 * ((mean - target) / sigma).square() + torch.log(sigma)
    if mean.dim() == 3:
        terms = terms.sum(dim=-1)
    per_point = terms.mean(dim=0)
    if weights is None:
        return per_point.mean()
    return (weights * per_point).sum() / weights.sum()


def squared_error(mean: Tensor, target: Tensor, weights: Tensor | None = None) -> Tensor:
    """Per-point-weighted half squared error ``Σ_j n_j ⟨(Ā_j(ω) − y_j)²⟩_ω / (2 Σ_j n_j)``.

    The mean-only loss of ``SurrogateConfig.loss = "mse"``; shapes as in :func:`heteroscedastic_nll` (the
    error of a point is summed over its K outputs).
    """
    terms = 0.5 * (mean - target).square()
    if mean.dim() == 3:
        terms = terms.sum(dim=-1)
    per_point = terms.mean(dim=0)
    if weights is None:
        return per_point.mean()
    return (weights * per_point).sum() / weights.sum()


def objective(
    mean: Tensor, sigma: Tensor, target: Tensor, weights: Tensor | None, penalty: Tensor, n_eff: float
) -> Tensor:
    """Batch loss of Eq. (14) divided by ``N_eff``: weighted NLL mean plus ``penalty / N_eff``.

    Summing ``Σ_{j∈batch} n_j NLL_j + penalty · W_batch/N_eff`` over the batches of an epoch gives the full
    loss ``Σ_j n_j NLL_j + penalty``; dividing by the batch weight ``W_batch = Σ_{j∈batch} n_j`` gives this.
    ``N_eff = Σ_j n_j`` over the whole training set, so boosting enlarges the set the KL is normalised to.
    """
    return heteroscedastic_nll(mean, sigma, target, weights) + penalty / n_eff


def rbf_repulsion(f: Tensor) -> Tensor:
    """Function-space repulsion ``Σ_i log Σ_j k(f_i, sg[f_j])`` with an RBF kernel (arXiv:2106.11642).

    ``k(f_i, f_j) = exp(−‖f_i − f_j‖² / h)`` with the median heuristic ``h = median_{i≠j}‖f_i − f_j‖² / log K``
    (not differentiated). The gradient for member ``i`` is the kernel-weighted repulsion of
    D'Angelo & Fortuin; ``sg`` (stop-gradient) on the second argument makes it so.

    Parameters
    ----------
    f : torch.Tensor
        Shape ``(K, B)``: the K members' predictions on the batch (flatten vector outputs ``(K, B, n)`` to
        ``(K, B n)`` first).

    Returns
    -------
    torch.Tensor
        Scalar (zero for ``K < 2``).
    """
    k = f.shape[0]
    if k < 2:
        return f.new_zeros(())
    d2 = (f[:, None, :] - f.detach()[None, :, :]).square().sum(dim=-1)
    off = ~torch.eye(k, dtype=torch.bool, device=f.device)
    h = (d2.detach()[off].median() / math.log(k)).clamp_min(torch.finfo(f.dtype).tiny)
    return torch.logsumexp(-d2 / h, dim=1).sum()


class SurrogateNet(nn.Module, abc.ABC):
    """Interface of every family: maps inputs ``(B, d)`` to means Ā and widths σ_model.

    Outputs have shape ``(M, B)`` for a scalar model (``n_outputs`` None) and ``(M, B, K)`` for a model with
    ``K = n_outputs`` outputs per point. ``M`` is the number of weight samples (BNN) or ensemble members
    (ensembles, fixed). Outputs live in the preprocessed, standardised target space.
    """

    #: Number of members when fixed by the family (ensembles), None when any ``M`` can be drawn (BNN).
    fixed_samples: int | None = None

    def __init__(
        self, n_inputs: int, hidden: tuple[int, ...], sigma_floor: float, n_outputs: int | None = None
    ) -> None:
        super().__init__()
        if n_outputs is not None and int(n_outputs) < 1:
            raise ValueError(f"n_outputs: must be >= 1 or None, got {n_outputs}")
        self.n_inputs = int(n_inputs)
        self.hidden = tuple(int(h) for h in hidden)
        self.sigma_floor = float(sigma_floor)
        self.n_outputs = None if n_outputs is None else int(n_outputs)

    @property
    def head_width(self) -> int:
        """Raw width of the output layer: 2 (scalar) or ``2 K``."""
        return head_width(self.n_outputs)

    @property
    def max_width(self) -> int:
        """Widest layer, for sizing prediction chunks."""
        return max((self.n_inputs, self.head_width, *self.hidden))

    @abc.abstractmethod
    def draw(self, n_samples: int, generator: torch.Generator | None = None, *, mean: bool = False) -> Params:
        """Weights for ``n_samples`` samples (BNN; differentiable) or all members (ensembles).

        With ``mean=True`` a BNN returns its mean weights (``M = 1``); ensembles return their members.
        """

    @abc.abstractmethod
    def evaluate(self, x: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        """Outputs ``(Ā, σ_model)``, each ``(M, B)`` or ``(M, B, K)``, of networks ``params`` on ``x`` ``(B, d)``."""

    def forward(self, x: Tensor, n_samples: int = 1, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Training forward pass: ``(M, B)`` / ``(M, B, K)`` outputs for freshly drawn weights (differentiable)."""
        return self.evaluate(x, self.draw(n_samples, generator))

    @abc.abstractmethod
    def penalty(self, mean: Tensor) -> Tensor:
        """Un-normalised regulariser of the full-data loss (KL for the BNN); ``mean`` is the batch output Ā."""

    def head(self, raw: Tensor) -> tuple[Tensor, Tensor]:
        """``(Ā, σ_model)`` from the raw last-layer output ``(..., head_width)`` (:func:`heteroscedastic_head`)."""
        return heteroscedastic_head(raw, self.sigma_floor, self.n_outputs)


class BatchedLinear(nn.Module):
    """``K`` independent linear layers evaluated together: weight ``(K, out, in)``, bias ``(K, out)``.

    Initialised like :class:`torch.nn.Linear` (uniform in ``±1/√in``) from an explicit generator.
    """

    def __init__(self, n_in: int, n_out: int, n_members: int = 1, generator: torch.Generator | None = None) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)
        self.weight = nn.Parameter((2 * torch.rand(n_members, n_out, n_in, generator=generator) - 1) * bound)
        self.bias = nn.Parameter((2 * torch.rand(n_members, n_out, generator=generator) - 1) * bound)

    def params(self) -> tuple[Tensor, Tensor]:
        """The layer's ``(W, b)``."""
        return self.weight, self.bias


def apply_layers(x: Tensor, params: Params, activation: nn.Module) -> Tensor:
    """Evaluate an MLP given per-layer ``(W, b)``: ``x`` ``(B, d)`` → raw output ``(M, B, out)``.

    Layers with a single weight set (``M = 1``, e.g. the deterministic hidden layers of a last-layer BNN)
    are broadcast against sampled ones. Each layer is one fused batched ``baddbmm``.
    """
    h = x.unsqueeze(0) if x.dim() == 2 else x
    for i, (w, b) in enumerate(params):
        m = max(h.shape[0], w.shape[0])
        h = torch.baddbmm(b.expand(m, -1).unsqueeze(1), h.expand(m, -1, -1), w.expand(m, -1, -1).transpose(-1, -2))
        if i < len(params) - 1:
            h = activation(h)
    return h


class EnsembleNet(SurrogateNet):
    """Deep ensemble of ``K`` independently initialised heteroscedastic MLPs (``K = 1``: deterministic net).

    The members play the role of the weight samples ω in Eqs. (8)–(11); there is no regulariser. All members
    are trained together on the same batches (one batched forward pass); their diversity comes from the
    independent initialisations.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden: tuple[int, ...],
        activation: str = "tanh",
        n_members: int = 1,
        sigma_floor: float = 1e-5,
        generator: torch.Generator | None = None,
        n_outputs: int | None = None,
    ) -> None:
        super().__init__(n_inputs, hidden, sigma_floor, n_outputs)
        if n_members < 1:
            raise ValueError(f"n_members: must be >= 1, got {n_members}")
        self.fixed_samples = int(n_members)
        sizes = (self.n_inputs, *self.hidden, self.head_width)
        self.layers = nn.ModuleList(
            BatchedLinear(a, b, n_members, generator) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.activation = make_activation(activation)

    def draw(self, n_samples: int, generator: torch.Generator | None = None, *, mean: bool = False) -> Params:
        return [layer.params() for layer in self.layers]

    def evaluate(self, x: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        return self.head(apply_layers(x, params, self.activation))

    def penalty(self, mean: Tensor) -> Tensor:
        return mean.new_zeros(())


class RepulsiveEnsembleNet(EnsembleNet):
    """Repulsive ensemble (arXiv:2106.11642, as used for amplitudes in arXiv:2412.12069), function-space variant.

    The full-data loss of member ``i`` is ``Σ_j NLL_j(θ_i) + |θ_i|²/(2σ_p²) + β log Σ_k k(f_i, sg[f_k])``,
    where ``f_i`` are member ``i``'s mean predictions Ā on the current batch (see :func:`rbf_repulsion`).
    With ``β = 1`` the training dynamics are a Wasserstein gradient flow towards the posterior with a
    Gaussian prior of width σ_p. :meth:`penalty` returns the member-averaged prior and repulsion terms;
    like the BNN's KL they are divided by ``N_eff`` in the batch loss.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden: tuple[int, ...],
        activation: str = "tanh",
        n_members: int = 8,
        sigma_floor: float = 1e-5,
        prior_width: float = 1.0,
        repulsion: float = 1.0,
        generator: torch.Generator | None = None,
        n_outputs: int | None = None,
    ) -> None:
        super().__init__(n_inputs, hidden, activation, n_members, sigma_floor, generator, n_outputs)
        self.prior_width = float(prior_width)
        self.repulsion = float(repulsion)

    def penalty(self, mean: Tensor) -> Tensor:
        k = mean.shape[0]
        l2 = sum(p.square().sum() for p in self.parameters()) / (2.0 * self.prior_width**2)
        f = mean if mean.dim() == 2 else mean.reshape(k, -1)  # vector outputs: one function of (point, output)
        return (l2 + self.repulsion * rbf_repulsion(f)) / k
