"""Uncertainties from weight samples: ⟨A⟩, σ_model and σ_pred (Eqs. 8, 10, 11 of arXiv:2206.14831), and pulls."""

from __future__ import annotations

import numpy as np
import torch

from activeamp.surrogate.prediction import Prediction
from activeamp.surrogate.preprocessing import AnyTargetTransform, LogTargetTransform

__all__ = [
    "lognormal_summary",
    "stratified_normal_nodes",
    "summarise_samples",
    "t_model",
    "t_model_weights",
    "t_pred",
    "t_tot",
]


def stratified_normal_nodes(n: int) -> np.ndarray:
    """``n`` standard-normal quantiles at ``(k + ½)/n``, rescaled to zero mean and unit variance exactly.

    Used as deterministic, low-variance "samples" of N(0, 1) when propagating σ_model through the
    inverse preprocessing (exact for any linear map).
    """
    if n < 2:
        raise ValueError(f"n_noise_samples: need at least 2 nodes, got {n}")
    z = torch.special.ndtri(torch.tensor((np.arange(n) + 0.5) / n, dtype=torch.float64)).numpy()
    z = z - z.mean()
    return z / np.sqrt(np.mean(z**2))


def summarise_samples(
    mean_pre: np.ndarray,
    sigma_pre: np.ndarray,
    target: AnyTargetTransform | None = None,
    nodes: np.ndarray | None = None,
    *,
    keep_samples: bool = True,
) -> Prediction:
    """Combine per-weight-sample outputs into ⟨A⟩, σ_model, σ_pred (Eqs. 8, 10, 11).

    Without ``target`` everything stays in the preprocessed space. With ``target``, each sample is mapped to
    amplitude space by sampling, not by linearisation: ``Ā_A(ω) = T⁻¹(Ā(ω))`` and
    ``σ_A(ω) = std_k T⁻¹(Ā(ω) + σ(ω) z_k)`` over the normal nodes ``z_k`` (population std about the mean of
    the mapped nodes). Then ``⟨A⟩ = ⟨Ā_A(ω)⟩_ω``, ``σ_pred² = ⟨(Ā_A(ω) − ⟨A⟩)²⟩_ω`` and
    ``σ_model² = ⟨σ_A(ω)²⟩_ω``, so ``σ_tot² = σ_model² + σ_pred²`` holds in either space.
    For a vector model all of this happens per output: the maps act elementwise on the trailing K axis.

    Parameters
    ----------
    mean_pre, sigma_pre : numpy.ndarray
        Shape ``(M, N)``, or ``(M, N, K)`` for K outputs, float64: Ā(ω) and σ_model(ω) in the preprocessed space.
    target : TargetTransform, PerOutputTransform, optional
        Map to amplitude space (a per-output map for K outputs); None to stay preprocessed.
    nodes : numpy.ndarray, optional
        Shape ``(S,)``: standard-normal nodes (default: 32 :func:`stratified_normal_nodes`).
    keep_samples : bool
        Attach the ``(M, N)`` / ``(M, N, K)`` per-sample arrays to the result.

    Returns
    -------
    Prediction
        ``mean``, ``sigma_model``, ``sigma_pred`` of shape ``(N,)`` or ``(N, K)``.
    """
    mean_pre = np.asarray(mean_pre, dtype=np.float64)
    sigma_pre = np.asarray(sigma_pre, dtype=np.float64)
    if target is None:
        samples, sigmas = mean_pre, sigma_pre
    else:
        nodes = stratified_normal_nodes(32) if nodes is None else np.asarray(nodes, dtype=np.float64)
        samples = target.inverse(mean_pre)
        first = np.zeros_like(samples)
        second = np.zeros_like(samples)
        for z in nodes:  # shifted moments: no cancellation when σ_A(ω) ≪ Ā_A(ω)
            d = target.inverse(mean_pre + sigma_pre * z) - samples
            first += d
            second += d * d
        first /= nodes.size
        sigmas = np.sqrt(np.maximum(second / nodes.size - first * first, 0.0))
    mean = samples.mean(axis=0)
    return Prediction(
        mean=mean,
        sigma_model=np.sqrt(np.mean(sigmas**2, axis=0)),
        sigma_pred=np.sqrt(np.mean((samples - mean) ** 2, axis=0)),
        samples=samples if keep_samples else None,
        sigma_model_samples=sigmas if keep_samples else None,
    )


def lognormal_summary(
    mean_pre: np.ndarray,
    var_pred_pre: np.ndarray,
    sigma_model_pre: np.ndarray,
    target: LogTargetTransform | None = None,
    scale: np.ndarray | None = None,
) -> Prediction:
    """⟨A⟩, σ_model, σ_pred in closed form for a normal posterior predictive and the log target map.

    When ``Ā(ω) ~ N(ŷ, v)`` exactly (a last-layer Gaussian posterior) and ``A = E · exp(s·y + μ)``
    (:class:`LogTargetTransform` times the envelope E), Eqs. 8, 10, 11 are lognormal moments: with
    ``u = s² σ_model²``,

    * ``⟨A⟩ = E · exp(s·ŷ + μ + s² v / 2)``,
    * ``σ_pred² = ⟨A⟩² (exp(s² v) − 1)``,
    * ``σ_model² = ⟨A(ω)²⟩ · e^u (e^u − 1) = ⟨A⟩² e^{s² v} e^u (e^u − 1)``,

    the M → ∞ limit of :func:`summarise_samples` (whose σ_model uses normal nodes, equal to these moments as
    the number of nodes grows). Without ``target`` the moments stay preprocessed: ``(ŷ, σ_model, √v)``.

    Parameters
    ----------
    mean_pre, var_pred_pre, sigma_model_pre : numpy.ndarray
        ``ŷ``, ``v`` and σ_model in the preprocessed space, shape ``(N,)`` or ``(N, K)``.
    target : LogTargetTransform, optional
        The log target map (None: stay preprocessed).
    scale : numpy.ndarray, optional
        Shape ``(N,)``: the envelope E(x) (amplitude units), or None for E = 1.
    """
    mean_pre = np.asarray(mean_pre, dtype=np.float64)
    var = np.maximum(np.asarray(var_pred_pre, dtype=np.float64), 0.0)
    sigma = np.asarray(sigma_model_pre, dtype=np.float64)
    if target is None:
        return Prediction(mean=mean_pre, sigma_model=sigma, sigma_pred=np.sqrt(var))
    s2 = target.scale**2
    mean = np.exp(mean_pre * target.scale + target.mu + 0.5 * s2 * var)
    if scale is not None:
        mean = mean * (np.asarray(scale, dtype=np.float64)[:, None] if mean.ndim == 2 else scale)
    u = s2 * sigma**2
    return Prediction(
        mean=mean,
        sigma_model=mean * np.sqrt(np.exp(s2 * var + u) * np.expm1(u)),
        sigma_pred=mean * np.sqrt(np.expm1(s2 * var)),
    )


def t_pred(prediction: Prediction, truth: np.ndarray) -> np.ndarray:
    """Pull ``(⟨A⟩ − A_true)/σ_pred`` of Eq. (16), shape ``(N,)`` (``(N, K)`` for vector predictions)."""
    return (prediction.mean - np.asarray(truth, dtype=np.float64)) / prediction.sigma_pred


def t_model(prediction: Prediction, truth: np.ndarray) -> np.ndarray:
    """Pull ``(⟨A⟩ − A_true)/σ_model`` of Eq. (16), shape ``(N,)`` (``(N, K)`` for vector predictions)."""
    return (prediction.mean - np.asarray(truth, dtype=np.float64)) / prediction.sigma_model


def t_tot(prediction: Prediction, truth: np.ndarray) -> np.ndarray:
    """Pull ``(⟨A⟩ − A_true)/σ_tot``, shape ``(N,)`` (``(N, K)`` for vector predictions)."""
    return (prediction.mean - np.asarray(truth, dtype=np.float64)) / prediction.sigma_tot


def t_model_weights(prediction: Prediction, truth: np.ndarray) -> np.ndarray:
    """Weight-dependent pull ``(Ā(ω) − A_true)/σ_model(ω)`` of Eq. (17), shape ``(M, N)`` (or ``(M, N, K)``).

    ``prediction`` needs its per-sample arrays (``return_samples=True``); ``truth`` must be in the same space.
    """
    if prediction.samples is None or prediction.sigma_model_samples is None:
        raise ValueError("t_model_weights needs a prediction made with return_samples=True")
    return (prediction.samples - np.asarray(truth, dtype=np.float64)) / prediction.sigma_model_samples
