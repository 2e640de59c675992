"""Evaluating a surrogate network on points: chunked, averaged over symmetry images, summarised into a Prediction."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from activeamp.surrogate.config import SurrogateConfig
from activeamp.surrogate.laplace import LastLayerNet
from activeamp.surrogate.models import Params, SurrogateNet
from activeamp.surrogate.networks import derive_seed
from activeamp.surrogate.pipeline import Pipeline
from activeamp.surrogate.prediction import Prediction
from activeamp.surrogate.preprocessing import AnyTargetTransform, LogTargetTransform
from activeamp.surrogate.uncertainty import (
    lognormal_summary,
    stratified_normal_nodes,
    summarise_samples,
    t_model_weights,
)

__all__ = [
    "PredictionMixin",
    "chunk_size",
    "closed_form_prediction",
    "has_closed_form",
    "image_outputs",
    "mean_prediction",
    "predict_samples",
    "sample_outputs",
    "weight_sample_count",
]

logger = logging.getLogger(__name__)

_CHUNK_ELEMENTS = 2**20  # activations per prediction chunk: M × B × widest layer (4 MiB in float32, cache-sized)


def weight_sample_count(net: SurrogateNet, default: int, n_samples: int | None) -> int:
    """M, the weight samples of a prediction: ``n_samples`` (``default`` if None), or the members of an ensemble."""
    if net.fixed_samples is not None:
        if n_samples is not None and n_samples != net.fixed_samples:
            logger.debug("%d members: n_samples=%d ignored", net.fixed_samples, n_samples)
        return net.fixed_samples
    m = default if n_samples is None else int(n_samples)
    if m < 1:
        raise ValueError(f"n_samples: must be >= 1, got {m}")
    return m


def chunk_size(net: SurrogateNet, batch_size: int | None, params: Params) -> int:
    """Points per chunk: ``batch_size``, or by default about ``2²⁰`` activations (M × chunk × widest layer)."""
    if batch_size is not None:
        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        return int(batch_size)
    m = max(w.shape[0] for w, _ in params)
    return int(min(max(_CHUNK_ELEMENTS // (m * net.max_width), 256), 2**17))


@torch.no_grad()
def image_outputs(net: SurrogateNet, x: Tensor, params: Params) -> tuple[Tensor, Tensor]:
    """Outputs averaged over the symmetry images: ``x`` ``(G, B, d)`` → Ā, σ_model of shape ``(M, B[, K])``."""
    g, b = x.shape[0], x.shape[1]
    mean, sigma = net.evaluate(x.reshape(g * b, -1), params)
    shape = (mean.shape[0], g, b, *mean.shape[2:])
    return mean.reshape(shape).mean(dim=1), sigma.reshape(shape).mean(dim=1)


@torch.no_grad()
def sample_outputs(
    net: SurrogateNet,
    pipeline: Pipeline,
    x: np.ndarray,
    params: Params,
    batch_size: int | None,
    device: torch.device,
) -> Iterator[tuple[slice, np.ndarray, np.ndarray, np.ndarray | None]]:
    """Yield ``(slice, mean, sigma, scale)`` chunk by chunk.

    ``mean``, ``sigma``: ``(M, B)`` (or ``(M, B, K)``) float64 preprocessed outputs, averaged over the
    symmetry images; ``scale``: the envelope ``E(x)`` ``(B,)`` (amplitude units) or None.
    """
    net.eval()
    chunk = chunk_size(net, batch_size, params)
    if batch_size is None:  # every point is evaluated once per image
        chunk = max(chunk // pipeline.order, 1)
    for start in range(0, len(x), chunk):  # preprocessing per chunk too: stays in cache, bounded memory
        feats, scale = pipeline.encode(x[start : start + chunk])
        xc = torch.as_tensor(feats, dtype=torch.float32, device=device)
        mean, sigma = image_outputs(net, xc, params)
        yield slice(start, start + xc.shape[1]), mean.double().cpu().numpy(), sigma.double().cpu().numpy(), scale


def predict_samples(
    net: SurrogateNet,
    pipeline: Pipeline,
    x: np.ndarray,
    params: Params,
    m: int,
    target: AnyTargetTransform | None,
    nodes: np.ndarray,
    *,
    n_outputs: int | None,
    return_samples: bool,
    batch_size: int | None,
    device: torch.device,
) -> Prediction:
    """⟨A⟩, σ_model, σ_pred of the M weight draws ``params`` (:func:`summarise_samples`), chunk by chunk.

    ``target``: the target map, for amplitude units (σ propagated through the normal ``nodes``, each chunk
    multiplied by its envelope), or None for the preprocessed space. ``n_outputs``: K of a vector model
    (None: scalar), the shape of an empty prediction.
    """
    parts = [
        summarise_samples(mean, sigma, target, nodes, keep_samples=return_samples).scaled(
            scale if target is not None else None
        )
        for _, mean, sigma, scale in sample_outputs(net, pipeline, x, params, batch_size, device)
    ]
    if not parts:
        shape = (0,) if n_outputs is None else (0, n_outputs)
        empty = np.zeros(shape)
        return Prediction(empty, empty, empty, np.zeros((m, *shape)) if return_samples else None)

    def cat(name: str, axis: int) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts], axis=axis)

    return Prediction(
        mean=cat("mean", 0),
        sigma_model=cat("sigma_model", 0),
        sigma_pred=cat("sigma_pred", 0),
        samples=cat("samples", 1) if return_samples else None,
        sigma_model_samples=cat("sigma_model_samples", 1) if return_samples else None,
    )


def has_closed_form(net: SurrogateNet, target: AnyTargetTransform | None) -> bool:
    """Whether ⟨A⟩, σ_model, σ_pred have a closed form: a last-layer Gaussian posterior and the log target map
    (or the preprocessed space)."""
    return isinstance(net, LastLayerNet) and (target is None or isinstance(target, LogTargetTransform))


@torch.no_grad()
def closed_form_prediction(
    net: LastLayerNet,
    pipeline: Pipeline,
    x: np.ndarray,
    target: LogTargetTransform | None,
    *,
    n_outputs: int | None,
    batch_size: int | None,
    device: torch.device,
) -> Prediction:
    """⟨A⟩, σ_model, σ_pred without weight sampling (:meth:`LastLayerNet.moments`, :func:`lognormal_summary`).

    The M → ∞ limit of :func:`predict_samples` for the default surrogate, at the cost of one network pass.
    Shapes ``(N,)`` (``(N, K)`` for K ``n_outputs``), float64, amplitude units (``target``) or preprocessed.
    """
    net.eval()
    shape = (len(x),) if n_outputs is None else (len(x), n_outputs)
    mean, sigma_model, sigma_pred = np.empty(shape), np.empty(shape), np.empty(shape)
    params = net.draw(1, mean=True)
    chunk = chunk_size(net, batch_size, params)
    if batch_size is None:
        chunk = max(chunk // pipeline.order, 1)
    for start in range(0, len(x), chunk):
        feats, scale = pipeline.encode(x[start : start + chunk])
        xc = torch.as_tensor(feats, dtype=torch.float32, device=device)
        moments = [t.double().cpu().numpy() for t in net.moments(xc)]
        if n_outputs is None:
            moments = [m[:, 0] for m in moments]
        part = lognormal_summary(*moments, target, scale if target is not None else None)
        sl = slice(start, start + xc.shape[1])
        mean[sl], sigma_model[sl], sigma_pred[sl] = part.mean, part.sigma_model, part.sigma_pred
    return Prediction(mean=mean, sigma_model=sigma_model, sigma_pred=sigma_pred)


def mean_prediction(
    net: SurrogateNet,
    pipeline: Pipeline,
    x: np.ndarray,
    target: AnyTargetTransform | None,
    *,
    n_outputs: int | None,
    batch_size: int | None,
    device: torch.device,
) -> np.ndarray:
    """Point prediction ``(N,)`` (``(N, K)`` for K ``n_outputs``) float64 of the network's mean weights.

    ``target``: the target map, for amplitude units (``T⁻¹(Ā)`` times the envelope), or None for the
    preprocessed space.
    """
    with torch.no_grad():
        params = net.draw(1, mean=True)
    out = np.empty((len(x),) if n_outputs is None else (len(x), n_outputs))
    for sl, mean, _, scale in sample_outputs(net, pipeline, x, params, batch_size, device):
        if target is not None:
            mean = target.inverse(mean) * (1.0 if scale is None else scale)
        out[sl] = mean.mean(axis=0)
    return out


class PredictionMixin:
    """The prediction methods of :class:`activeamp.surrogate.surrogate.Surrogate`.

    They use the surrogate's ``config``, ``device``, ``_n_outputs``, ``target_transform``, ``_require_net``,
    ``_require_pipeline``, ``_check_targets`` and ``transform_targets``.
    """

    config: SurrogateConfig
    device: torch.device
    _n_outputs: int | None

    def predict(
        self,
        x: np.ndarray,
        n_samples: int | None = None,
        *,
        return_samples: bool = False,
        batch_size: int | None = None,
        space: Literal["amplitude", "preprocessed"] = "amplitude",
        seed: int | None = None,
        closed_form: bool | None = None,
    ) -> Prediction:
        """⟨A⟩, σ_model, σ_pred from ``M`` weight samples (Eqs. 8, 10, 11); see :func:`summarise_samples`.

        Parameters
        ----------
        x : numpy.ndarray
            ``(N, n, 4)`` momenta (GeV) or ``(N, d)`` features.
        n_samples : int, optional
            M (default ``config.n_weight_samples``; ensembles always use all members).
        return_samples : bool
            Attach ``(M, N)`` arrays Ā(ω), σ_model(ω) (``(M, N, K)`` for a vector model).
        batch_size : int, optional
            Points per chunk (default: ``M × chunk × widest layer ≈ 2²⁴`` activations). One set of M
            weight draws is used for all chunks, so each sample is one function of x.
        space : {"amplitude", "preprocessed"}
            Amplitude units (σ propagated by sampling ``config.n_noise_samples`` stratified normal nodes)
            or the standardised network space of Eq. (15).
        seed : int, optional
            Seed of the weight draws (default: derived from ``config.seed``, so predictions are reproducible).
        closed_form : bool, optional
            Use the exact moments of the last-layer posterior instead of M weight draws
            (:func:`closed_form_prediction`: one network pass, no sampling noise). Default (None): whenever the
            model has them (the ``laplace`` family with the ``pure_log`` target or the preprocessed space) and
            neither ``n_samples`` nor ``return_samples`` asks for draws. True for a model without them raises.

        Returns
        -------
        Prediction
            ``mean``, ``sigma_model``, ``sigma_pred`` of shape ``(N,)`` (scalar model) or ``(N, K)``.
        """
        if space not in ("amplitude", "preprocessed"):
            raise ValueError(f"space: {space!r} is not one of 'amplitude', 'preprocessed'")
        net = self._require_net()
        target = self.target_transform if space == "amplitude" else None
        closed = has_closed_form(net, target)
        if closed_form and (not closed or return_samples):
            raise ValueError(
                "closed_form: needs a last-layer (laplace) model with the pure_log target or space='preprocessed', "
                "and no return_samples"
            )
        if closed and (closed_form or (closed_form is None and n_samples is None and not return_samples)):
            return closed_form_prediction(
                net,  # type: ignore[arg-type]  # has_closed_form checked the class
                self._require_pipeline(),
                x,
                target,  # type: ignore[arg-type]
                n_outputs=self._n_outputs,
                batch_size=batch_size,
                device=self.device,
            )
        m = weight_sample_count(net, self.config.n_weight_samples, n_samples)
        seed = derive_seed(self.config.seed, "predict") if seed is None else int(seed)
        gen = torch.Generator(self.device).manual_seed(seed)
        with torch.no_grad():
            params = net.draw(m, gen)
        nodes = stratified_normal_nodes(self.config.n_noise_samples)
        return predict_samples(
            net,
            self._require_pipeline(),
            x,
            params,
            m,
            target,
            nodes,
            n_outputs=self._n_outputs,
            return_samples=return_samples,
            batch_size=batch_size,
            device=self.device,
        )

    def sample_count(self, n_samples: int | None = None) -> int:
        """M of a sampled prediction with ``n_samples`` (None: ``config.n_weight_samples``); ensembles: members."""
        return weight_sample_count(self._require_net(), self.config.n_weight_samples, n_samples)

    @property
    def closed_form(self) -> bool:
        """Whether :meth:`predict` has exact moments without weight draws (the default ``laplace`` surrogate)."""
        return has_closed_form(self._require_net(), self.target_transform)

    def predict_mean(
        self,
        x: np.ndarray,
        *,
        batch_size: int | None = None,
        space: Literal["amplitude", "preprocessed"] = "amplitude",
    ) -> np.ndarray:
        """Fast point prediction ``(N,)`` (``(N, K)`` for a vector model) float64 without weight sampling.

        The BNN uses its mean weights (``T⁻¹(Ā(μ))``); ensembles average their members' ``T⁻¹(Ā)``.
        """
        if space not in ("amplitude", "preprocessed"):
            raise ValueError(f"space: {space!r} is not one of 'amplitude', 'preprocessed'")
        target = self.target_transform if space == "amplitude" else None
        return mean_prediction(
            self._require_net(),
            self._require_pipeline(),
            x,
            target,
            n_outputs=self._n_outputs,
            batch_size=batch_size,
            device=self.device,
        )

    def weight_pulls(
        self,
        x: np.ndarray,
        amplitudes: np.ndarray,
        n_samples: int | None = None,
        *,
        batch_size: int | None = None,
        seed: int | None = None,
    ) -> np.ndarray:
        """Weight-dependent pulls ``t_model(ω) = (Ā(ω) − y)/σ_model(ω)`` (Eq. 17) in the preprocessed space.

        Returns
        -------
        numpy.ndarray
            Shape ``(M, N)`` (``(M, N, K)`` for a vector model): one pull per weight sample, point (and output),
            what loss boosting needs.
        """
        y = self.transform_targets(self._check_targets(amplitudes), x)
        pred = self.predict(x, n_samples, return_samples=True, batch_size=batch_size, space="preprocessed", seed=seed)
        return t_model_weights(pred, y)
