"""Last-layer Bayesian network: a deterministic trunk with a Gaussian (Laplace) posterior on the output layer.

The trunk and the mean head are trained as a plain regressor (point estimate, MSE by default), which is
what makes the mean precise; the Bayesian part is added afterwards, in closed form:

* σ_model(x): a small MLP head on the (frozen) last hidden features φ(x), fitted by the heteroscedastic
  NLL of Eq. (14) to the residuals of the finished mean (held-out points where available, early-stopped on a
  fifth of them), so it cannot trade a poor mean fit for a wider σ;
* q(w) = N(ŵ, Σ) for the mean head's weights w (with bias), the Laplace posterior of a linear model, which is
  exact given the features: Σ⁻¹ = Σ_j n_j φ̃_j φ̃_jᵀ / σ_j² + 1/σ_p², φ̃ = (φ, 1). Weight samples ω ~ q give
  σ_pred² = φ̃ᵀ Σ φ̃ (Eq. 10) as for any BNN.

arXiv:2412.12069 finds a Bayesian last layer sufficient for amplitude surrogates; the closed form replaces the
variational fit of that layer (Daxberger et al., "Laplace Redux", arXiv:2106.14806).
"""

from __future__ import annotations

import logging
import math
import time

import torch
from torch import Tensor, nn

from activeamp.surrogate.models import BatchedLinear, Params, SurrogateNet, make_activation

__all__ = ["LastLayerNet", "calibrate", "fit_sigma_head", "posterior_precision"]

logger = logging.getLogger(__name__)


class LastLayerNet(SurrogateNet):
    """MLP trunk, a mean head with a Gaussian posterior, and a σ_model head on detached features and inputs.

    The σ head is a small MLP (H + d → ``sigma_width`` → K, softplus) that sees the detached features φ(x) and
    the preprocessed inputs x. The inputs matter: the features are trained to predict the mean, not where the
    mean fails. On g g → γ γ g with 20k training points a head on φ alone covered 82 % of the test points within
    1 σ (std of the pulls 1.21), a head on (φ, x) 71 % (1.00) (BENCHMARKS.md).

    Outputs ``(M, B)`` (scalar model) or ``(M, B, K)``. Before :meth:`set_posterior` the posterior has zero
    width (σ_pred = 0), and σ_model is whatever the σ head says (trained by the NLL loss, or fitted afterwards).

    Parameters
    ----------
    n_inputs : int
        Number of (preprocessed) inputs.
    hidden : tuple of int
        Hidden widths of the trunk (the last one is the feature dimension H).
    activation : str
        One of :data:`activeamp.surrogate.models.ACTIVATIONS`.
    sigma_floor : float
        Added to the softplus of the σ head (preprocessed units).
    generator : torch.Generator, optional
        Source of the initial weights.
    n_outputs : int, optional
        K; None for a scalar model.
    sigma_width : int
        Hidden width of the σ head.
    sigma_inputs : bool
        Whether the σ head also sees the inputs (False: features only, as in checkpoints before it did).
    """

    def __init__(
        self,
        n_inputs: int,
        hidden: tuple[int, ...],
        activation: str = "silu",
        sigma_floor: float = 1e-5,
        generator: torch.Generator | None = None,
        n_outputs: int | None = None,
        sigma_width: int = 64,
        sigma_inputs: bool = True,
    ) -> None:
        super().__init__(n_inputs, hidden, sigma_floor, n_outputs)
        sizes = (self.n_inputs, *self.hidden)
        pairs = zip(sizes[:-1], sizes[1:], strict=True)
        self.trunk = nn.ModuleList(BatchedLinear(a, b, 1, generator) for a, b in pairs)
        k = 1 if n_outputs is None else int(n_outputs)
        h = self.hidden[-1]
        self.mean_head = BatchedLinear(h, k, 1, generator)
        self.sigma_inputs = bool(sigma_inputs)
        n_sigma_in = h + self.n_inputs if self.sigma_inputs else h
        self.sigma_head = nn.ModuleList(
            [BatchedLinear(n_sigma_in, sigma_width, 1, generator), BatchedLinear(sigma_width, k, 1, generator)]
        )
        self.activation = make_activation(activation)
        #: whether training passes compute σ (the NLL loss needs it, the MSE loss does not)
        self.train_sigma = True
        # lower Cholesky factor of the posterior covariance of (w_k, b_k), one per output; zero = point estimate
        self.register_buffer("posterior_chol", torch.zeros(k, h + 1, h + 1))

    def features(self, x: Tensor) -> Tensor:
        """Last hidden features φ(x) ``(B, H)`` (activation applied) for inputs ``(B, d)``."""
        h = x
        for layer in self.trunk:
            h = self.activation(torch.addmm(layer.bias[0], h, layer.weight[0].T))
        return h

    def draw(self, n_samples: int, generator: torch.Generator | None = None, *, mean: bool = False) -> Params:
        params: Params = [layer.params() for layer in self.trunk]
        w, b = self.mean_head.params()
        if not mean and n_samples >= 1:
            chol = self.posterior_chol
            shape = (n_samples, chol.shape[0], chol.shape[1])
            eps = torch.randn(shape, generator=generator, device=w.device, dtype=w.dtype)
            delta = torch.einsum("kij,mkj->mki", chol, eps)  # (M, K, H+1)
            w = w + delta[..., :-1]
            b = b + delta[..., -1]
        params.append((w, b))
        params.extend(layer.params() for layer in self.sigma_head)
        return params

    def sigma_of_features(self, phi: Tensor, x: Tensor, sigma_params: Params | None = None) -> Tensor:
        """σ_model ``(..., K)`` of features ``(..., H)`` and inputs ``(..., d)``.

        ``sigma_params``: the σ head's layers, by default its own.
        """
        (w1, b1), (w2, b2) = sigma_params or [layer.params() for layer in self.sigma_head]
        head_in = torch.cat([phi, x.to(phi.dtype)], dim=-1) if self.sigma_inputs else phi
        hidden = self.activation(head_in @ w1[0].T + b1[0])
        return nn.functional.softplus(hidden @ w2[0].T + b2[0]) + self.sigma_floor

    def evaluate(self, x: Tensor, params: Params) -> tuple[Tensor, Tensor]:
        n = len(self.trunk)
        trunk, (wm, bm), sigma_params = params[:n], params[n], params[n + 1 :]
        h = x
        for w, b in trunk:
            h = self.activation(torch.addmm(b[0], h, w[0].T))
        mean = torch.einsum("bh,mkh->mbk", h, wm) + bm[:, None, :]
        sigma = self.sigma_of_features(h.detach(), x, sigma_params)[None].expand_as(mean)
        if self.n_outputs is None:
            return mean[..., 0], sigma[..., 0]
        return mean, sigma

    def forward(self, x: Tensor, n_samples: int = 1, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Training pass with the point estimate of the head (``M = 1``): the posterior is fitted afterwards.

        With :attr:`train_sigma` False (the MSE loss, which ignores σ) the σ head is skipped and σ is returned as 1.
        """
        if self.train_sigma:
            return self.evaluate(x, self.draw(1, mean=True))
        h = self.features(x)
        w, b = self.mean_head.params()
        mean = (h @ w[0].T + b[0])[None]
        mean = mean[..., 0] if self.n_outputs is None else mean
        return mean, torch.ones_like(mean)

    def penalty(self, mean: Tensor) -> Tensor:
        return mean.new_zeros(())

    def moments(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The predictive moments in closed form, in the preprocessed space, averaged over symmetry images.

        The head's output is linear in its weights, so under ``q(w) = N(ŵ, LLᵀ)`` the image-averaged
        ``Ā(ω) = w(ω)·φ̄̃`` is exactly normal with mean ``ŵ·φ̄̃`` and variance ``|Lᵀφ̄̃|²`` (the M → ∞ limit
        of weight sampling, Eq. 10); σ_model does not depend on ω.

        Parameters
        ----------
        x : torch.Tensor
            Shape ``(G, B, d)``: preprocessed inputs of the G symmetry images of B points.

        Returns
        -------
        (torch.Tensor, torch.Tensor, torch.Tensor)
            Mean ``ŷ``, variance ``σ_pred²`` and ``σ_model`` (preprocessed units), each ``(B, K)``.
        """
        g, b = x.shape[0], x.shape[1]
        flat = x.reshape(g * b, -1)
        phi = self.features(flat)
        sigma = self.sigma_of_features(phi, flat).reshape(g, b, -1).mean(dim=0)
        phi_bar = phi.reshape(g, b, -1).mean(dim=0)
        w, bias = self.mean_head.params()
        mean = phi_bar @ w[0].T + bias[0]
        chol = self.posterior_chol.to(phi_bar.dtype)  # (K, H+1, H+1), lower
        h = phi_bar.shape[1]
        projected = torch.einsum("bh,khj->kbj", phi_bar, chol[:, :h]) + chol[:, h][:, None, :]
        return mean, projected.square().sum(dim=-1).T, sigma

    @torch.no_grad()
    def set_posterior(self, precision: Tensor) -> None:
        """Set ``q(w_k) = N(ŵ_k, Λ_k⁻¹)`` from precision matrices ``Λ`` of shape ``(K, H+1, H+1)`` (float64)."""
        cov = torch.linalg.inv(precision)
        cov = 0.5 * (cov + cov.transpose(-1, -2))
        jitter = 1e-12 * cov.diagonal(dim1=-2, dim2=-1).mean(-1).clamp_min(1e-300)
        eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
        chol, info = torch.linalg.cholesky_ex(cov + jitter[:, None, None] * eye)
        if int(info.max()) != 0:
            raise RuntimeError("last-layer posterior covariance is not positive definite")
        self.posterior_chol.copy_(chol.to(self.posterior_chol.dtype))


def fit_sigma_head(
    net: LastLayerNet,
    phi: Tensor,
    x: Tensor,
    residual: Tensor,
    weights: Tensor | None = None,
    steps: int = 2000,
    batch_size: int = 4096,
    seed: int = 0,
) -> float:
    """Fit the σ head afresh to residuals by the heteroscedastic NLL, with trunk and mean head frozen.

    Parameters
    ----------
    phi : torch.Tensor
        Shape ``(G, N, H)``: features of each symmetry image of N points (G = 1 without symmetry); σ of a point
        is the average over its images.
    x : torch.Tensor
        Shape ``(G, N, d)``: the preprocessed inputs of the same images.
    residual : torch.Tensor
        Shape ``(N, K)``: ``y − ȳ`` of the finished mean (preprocessed units).
    weights : torch.Tensor, optional
        Shape ``(N,)`` point weights (all ones when omitted).
    steps, batch_size : int
        Adam steps (cosine-decayed from 1e-2) on random batches of points.
    seed : int
        Seed of the head's initialisation and of the batches.

    Returns
    -------
    float
        The final weighted mean NLL per point over all N points.
    """
    gen = torch.Generator(phi.device).manual_seed(int(seed))
    n = residual.shape[0]
    w = torch.ones(n, dtype=phi.dtype, device=phi.device) if weights is None else weights.to(phi.dtype)
    rms = residual.square().mul(w[:, None]).sum(0).div(w.sum()).sqrt().clamp_min(10 * net.sigma_floor)
    first, last = net.sigma_head
    with torch.no_grad():
        bound = 1.0 / first.weight.shape[-1] ** 0.5
        first.weight.uniform_(-bound, bound, generator=gen)
        first.bias.uniform_(-bound, bound, generator=gen)
        last.weight.uniform_(-0.01 * bound, 0.01 * bound, generator=gen)
        last.bias.copy_(torch.log(torch.expm1(rms - net.sigma_floor).clamp_min(1e-30))[None].to(last.bias.dtype))
    params = [p for layer in net.sigma_head for p in layer.parameters()]
    opt = torch.optim.Adam(params, lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=1e-5)
    # a fifth of the points (none below 5 points) watches the fit: the head with the best held-out NLL is kept,
    # so a small calibration set (the 2 000 validation points of an active run) does not get over-fitted
    order = torch.randperm(n, generator=gen, device=phi.device)
    n_watch = n // 5
    watch, fit_idx = order[:n_watch], order[n_watch:]

    def nll(index: Tensor) -> Tensor:
        sigma = net.sigma_of_features(phi[:, index], x[:, index]).mean(0)
        terms = (0.5 * (residual[index] / sigma).square() + torch.log(sigma)).sum(-1)
        return (w[index] * terms).sum() / w[index].sum()

    best, best_state = math.inf, None
    for step in range(steps):
        index = fit_idx[torch.randint(fit_idx.numel(), (min(batch_size, fit_idx.numel()),), generator=gen,
                                      device=phi.device)]
        opt.zero_grad(set_to_none=True)
        nll(index).backward()
        opt.step()
        sched.step()
        if n_watch and (step % 50 == 49 or step == steps - 1):
            with torch.no_grad():
                held = float(nll(watch))
            if held < best:
                best, best_state = held, [p.detach().clone() for p in params]
    if best_state is not None:
        with torch.no_grad():
            for p, kept in zip(params, best_state, strict=True):
                p.copy_(kept)
    with torch.no_grad():
        return float(nll(order))


def posterior_precision(phi_mean: Tensor, sigma: Tensor, weights: Tensor, prior_width: float) -> Tensor:
    """Accumulate ``Λ_k = Σ_j n_j φ̃_j φ̃_jᵀ / σ_jk² + I/σ_p²`` in float64.

    Parameters
    ----------
    phi_mean : torch.Tensor
        Shape ``(N, H)``: features averaged over the symmetry images (the mean head sees their average).
    sigma : torch.Tensor
        Shape ``(N, K)``: σ_model per point and output (preprocessed units).
    weights : torch.Tensor
        Shape ``(N,)``: multiplicities n_j.
    prior_width : float
        σ_p of the Gaussian prior on the head's weights.

    Returns
    -------
    torch.Tensor
        Shape ``(K, H+1, H+1)`` float64.
    """
    phi = torch.cat([phi_mean.double(), torch.ones_like(phi_mean[:, :1], dtype=torch.float64)], dim=1)
    scaled = weights.double()[:, None] / sigma.double().square()  # (N, K)
    eye = torch.eye(phi.shape[1], dtype=torch.float64, device=phi.device) / prior_width**2
    return torch.stack([(phi * scaled[:, k : k + 1]).T @ phi + eye for k in range(scaled.shape[1])])


@torch.no_grad()
def calibrate(
    net: LastLayerNet,
    x: Tensor,
    y: Tensor,
    weights: Tensor,
    val: tuple[Tensor, Tensor] | None,
    prior_width: float,
) -> None:
    """The closed-form Bayesian part of ``net`` after a training stage: σ_model head, then the head's posterior.

    σ_model is fitted to the residuals of the validation set when there is one with at least 100 points
    (honest residuals), else of the training set; the last-layer posterior then uses all training points.

    Parameters
    ----------
    x, y, weights : torch.Tensor
        Training features of every symmetry image ``(G, N, d)``, preprocessed targets ``(N,)`` or ``(N, K)``
        and multiplicities ``(N,)``.
    val : (torch.Tensor, torch.Tensor) or None
        Validation features ``(G, M, d)`` and targets.
    prior_width : float
        σ_p of the Gaussian prior on the head's weights.
    """
    net.eval()
    t0 = time.perf_counter()
    wm, bm = net.mean_head.params()
    held_out = val is not None and val[1].shape[0] >= 100
    cal_x, cal_y, cal_w = (val[0], val[1], None) if held_out else (x, y, weights)

    def features(inputs: Tensor) -> Tensor:
        g, b = inputs.shape[0], inputs.shape[1]
        return net.features(inputs.reshape(g * b, -1)).reshape(g, b, -1)

    phi = features(cal_x)
    residual = cal_y.to(phi.dtype).reshape(cal_y.shape[0], -1) - (phi.mean(dim=0) @ wm[0].T + bm[0])
    with torch.enable_grad():
        nll = fit_sigma_head(net, phi, cal_x, residual, cal_w)
    phi_train = features(x)
    sigma = net.sigma_of_features(phi_train, x).mean(dim=0)
    net.set_posterior(posterior_precision(phi_train.mean(dim=0), sigma, weights, prior_width))
    logger.info(
        "calibrated σ_model on %d %s points (NLL %.4g) and the last-layer posterior on %d points in %.1f s",
        cal_y.shape[0],
        "validation" if held_out else "training",
        nll,
        x.shape[1],
        time.perf_counter() - t0,
    )
