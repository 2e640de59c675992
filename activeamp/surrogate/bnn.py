"""Mean-field Gaussian Bayesian network: variational weights, Gaussian prior, closed-form KL, batched sampling."""

# Why not zuko.bayesian.BayesianModel: it would express the posterior, the prior variance, the KL and the
# local reparameterisation, but (1) it draws one weight sample per ``reparameterize()`` context, so M samples
# mean M sequential passes, while prediction here draws M weight sets at once and evaluates them as one
# batched matmul on (M, out, in) tensors (the same code path as the ensembles); (2) its noise comes from the
# global torch RNG (``randn_like``), while this project passes explicit generators so that training, resuming
# and prediction are reproducible without touching global state; (3) it has no mean-weight (MAP) mode. The
# layer below is ~60 lines, and its KL is the closed form of Eq. (13) on the log-variance parameters.

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from activeamp.surrogate.models import (
    BatchedLinear,
    Params,
    SurrogateNet,
    apply_layers,
    make_activation,
)

__all__ = ["BayesianLinear", "BayesianNet", "kl_gaussian"]


def kl_gaussian(mu: Tensor, log_var: Tensor, prior_width: float) -> Tensor:
    """Elementwise ``KL[N(μ, σ²) ‖ N(0, σ_p²)]`` (Eq. 13 of arXiv:2206.14831).

    ``½ [(σ² + μ²)/σ_p² − 1 − log(σ²/σ_p²)]``.

    Parameters
    ----------
    mu, log_var : torch.Tensor
        Posterior means μ and log-variances ``log σ²`` (same shape).
    prior_width : float
        Prior standard deviation σ_p > 0.

    Returns
    -------
    torch.Tensor
        Same shape as ``mu``: the KL of each weight (nats).
    """
    prior_var = prior_width**2
    return 0.5 * ((log_var.exp() + mu.square()) / prior_var - 1.0 - log_var + math.log(prior_var))


class BayesianLinear(nn.Module):
    """Linear layer with mean-field Gaussian weights ``q = N(μ, σ²)`` and a ``N(0, σ_p²)`` prior.

    Parameters are the means (initialised like :class:`torch.nn.Linear`) and log-variances
    (initialised to ``init_log_var`` ± 10⁻³, i.e. an almost deterministic start).
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        prior_width: float = 1.0,
        init_log_var: float = -9.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if prior_width <= 0:
            raise ValueError(f"prior_width: must be > 0, got {prior_width}")
        self.prior_width = float(prior_width)
        bound = 1.0 / math.sqrt(n_in)
        self.weight_mu = nn.Parameter((2 * torch.rand(n_out, n_in, generator=generator) - 1) * bound)
        self.bias_mu = nn.Parameter((2 * torch.rand(n_out, generator=generator) - 1) * bound)
        self.weight_log_var = nn.Parameter(init_log_var + 1e-3 * torch.randn(n_out, n_in, generator=generator))
        self.bias_log_var = nn.Parameter(init_log_var + 1e-3 * torch.randn(n_out, generator=generator))

    def sample(self, n_samples: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``n_samples`` weight draws ``W = μ + σ ε`` (reparameterisation trick): ``(M, out, in)``, ``(M, out)``."""
        w_eps = torch.randn(
            (n_samples, *self.weight_mu.shape),
            generator=generator,
            device=self.weight_mu.device,
            dtype=self.weight_mu.dtype,
        )
        b_eps = torch.randn(
            (n_samples, *self.bias_mu.shape), generator=generator, device=self.bias_mu.device, dtype=self.bias_mu.dtype
        )
        w = self.weight_mu + (0.5 * self.weight_log_var).exp() * w_eps
        b = self.bias_mu + (0.5 * self.bias_log_var).exp() * b_eps
        return w, b

    def mean_params(self) -> tuple[Tensor, Tensor]:
        """Mean weights as a single sample: ``(1, out, in)``, ``(1, out)``."""
        return self.weight_mu[None], self.bias_mu[None]

    def local(self, x: Tensor, n_samples: int, generator: torch.Generator | None = None) -> Tensor:
        """Local reparameterisation (Kingma et al. 2015): sample pre-activations, not weights.

        ``y = x μᵀ + b_μ + sqrt(x² σ²ᵀ + σ_b²) ε`` with fresh ε per point, shape ``(M, B, out)`` for ``x`` of
        shape ``(B, in)`` or ``(M', B, in)``. Lower-variance gradients for training; not a function sample,
        so prediction always samples weights.
        """
        mean = torch.matmul(x, self.weight_mu.T) + self.bias_mu
        var = torch.matmul(x.square(), self.weight_log_var.exp().T) + self.bias_log_var.exp()
        eps_shape = (max(n_samples, mean.shape[0] if mean.dim() == 3 else 1), *mean.shape[-2:])
        eps = torch.randn(eps_shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + var.sqrt() * eps

    def kl(self) -> Tensor:
        """Summed KL of all weights and biases against the prior."""
        return (
            kl_gaussian(self.weight_mu, self.weight_log_var, self.prior_width).sum()
            + kl_gaussian(self.bias_mu, self.bias_log_var, self.prior_width).sum()
        )


class BayesianNet(SurrogateNet):
    """Heteroscedastic Bayesian MLP: inputs ``(B, d)`` → ``(Ā, σ_model)`` per weight sample.

    Outputs have shape ``(M, B)`` (scalar model) or ``(M, B, K)`` with ``n_outputs = K``.

    Parameters
    ----------
    n_inputs : int
        Number of (preprocessed) inputs.
    hidden : tuple of int
        Hidden layer widths, e.g. ``(20, 20, 30, 40)`` for 2 → 3 (paper).
    activation : str
        One of :data:`activeamp.surrogate.models.ACTIVATIONS`.
    prior_width : float
        Width σ_p of the Gaussian weight prior.
    local_reparam : bool
        Use the local reparameterisation trick in training forward passes.
    last_layer_only : bool
        Only the output layer is Bayesian; hidden layers are point estimates without a prior.
    sigma_floor : float
        Added to ``softplus`` so that σ_model > 0 (preprocessed units).
    init_log_var : float
        Initial ``log σ²`` of the variational weights.
    generator : torch.Generator, optional
        Source of the initial weights.
    n_outputs : int, optional
        K outputs per point (the head has ``2 K`` units: K means, K widths); None for a scalar model.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden: tuple[int, ...],
        activation: str = "tanh",
        prior_width: float = 1.0,
        local_reparam: bool = False,
        last_layer_only: bool = False,
        sigma_floor: float = 1e-5,
        init_log_var: float = -9.0,
        generator: torch.Generator | None = None,
        n_outputs: int | None = None,
    ) -> None:
        super().__init__(n_inputs, hidden, sigma_floor, n_outputs)
        self.local_reparam = bool(local_reparam)
        sizes = (self.n_inputs, *self.hidden, self.head_width)
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            if last_layer_only and i < len(sizes) - 2:
                layers.append(BatchedLinear(a, b, 1, generator))
            else:
                layers.append(BayesianLinear(a, b, prior_width, init_log_var, generator))
        self.layers = nn.ModuleList(layers)
        self.activation = make_activation(activation)

    def draw(self, n_samples: int, generator: torch.Generator | None = None, *, mean: bool = False) -> Params:
        params: Params = []
        for layer in self.layers:
            if isinstance(layer, BayesianLinear):
                params.append(layer.mean_params() if mean else layer.sample(n_samples, generator))
            else:
                params.append(layer.params())
        return params

    def evaluate(self, x: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        return self.head(apply_layers(x, params, self.activation))

    def forward(self, x: Tensor, n_samples: int = 1, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        if not self.local_reparam:
            return self.evaluate(x, self.draw(n_samples, generator))
        h = x
        for i, layer in enumerate(self.layers):
            if isinstance(layer, BayesianLinear):
                h = layer.local(h, n_samples, generator)
            else:
                w, b = layer.params()
                h = torch.matmul(h, w.transpose(-1, -2)) + b[:, None, :]
            if i < len(self.layers) - 1:
                h = self.activation(h)
        return self.head(h)

    def kl(self) -> Tensor:
        """KL[q(ω) ‖ p(ω)] summed over all Bayesian layers."""
        return torch.stack([layer.kl() for layer in self.layers if isinstance(layer, BayesianLinear)]).sum()

    def penalty(self, mean: Tensor) -> Tensor:
        return self.kl()
