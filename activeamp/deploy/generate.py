"""Unweighted events with a surrogate: two-stage unweighting against the oracle, and direct unweighting to compare.

:func:`two_stage_events` draws phase-space points, unweights them with the surrogate's weight and then with the
ratio of the oracle's to the surrogate's amplitude (:mod:`activeamp.deploy.unweighting`), so the events follow the
oracle's distribution while the oracle is called only on first-stage events. :func:`direct_events` is the
reference: every drawn point costs an oracle call. Both use the same sampler, the same kind of pilot for their
reference maxima, and report their oracle calls, so their costs per unweighted event compare directly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from activeamp.deploy.events import GEV2_TO_PB, EventSample
from activeamp.deploy.unweighting import CrossSection, cross_section, hit_or_miss, reference_maximum
from activeamp.physics.phasespace import PhaseSpaceSampler

__all__ = ["GenerateSettings", "UnweightingReport", "direct_events", "two_stage_events"]

logger = logging.getLogger(__name__)

#: ``predict(momenta (N, n, 4)) -> (⟨A⟩ (N,), σ_tot (N,))`` in amplitude units.
Predictor = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
#: ``label(momenta (N, n, 4)) -> (A (N,), ok (N,) bool)``: the oracle.
Labeller = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class GenerateSettings:
    """How events are generated.

    Attributes
    ----------
    n_events : int
        Unweighted events wanted (the last batch's extra events are dropped; the cross section uses them all).
    batch_size : int
        Phase-space points drawn (inside the cuts) per batch.
    pilot : int
        Points inside the cuts whose weights set the first-stage maximum s_max (direct unweighting: w_max, from
        the same number of oracle calls).
    max_quantile : float
        Quantile of the pilot weights taken as s_max (and w_max); 1 = their maximum.
    ratio_pilot : int
        First-stage events whose oracle/surrogate ratios set r_max (oracle calls; not used as events).
    ratio_quantile : float
        Quantile of the pilot ratios taken as r_max; 1 = their maximum.
    seed : int
        Seed of the sampler and the accept/reject numbers.
    """

    n_events: int
    batch_size: int = 100_000
    pilot: int = 100_000
    max_quantile: float = 1.0
    ratio_pilot: int = 1_000
    ratio_quantile: float = 1.0
    seed: int = 1234

    def __post_init__(self) -> None:
        for name in ("n_events", "batch_size", "pilot", "ratio_pilot"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        for name in ("max_quantile", "ratio_quantile"):
            if not 0.0 < float(getattr(self, name)) <= 1.0:
                raise ValueError(f"{name}: must be in (0, 1], got {getattr(self, name)}")


@dataclass(frozen=True)
class UnweightingReport:
    """Cost and outcome of one unweighting run.

    Attributes
    ----------
    method : str
        ``"two-stage"`` or ``"direct"``.
    n_events : int
        Events kept (before dropping the extra ones of the last batch).
    n_trials : int
        Points drawn from the sampler, including those outside the cuts.
    n_candidates : int
        Points inside the cuts that were unweighted (the first stage's input).
    n_first_stage : int
        Events kept by the first stage (two-stage: the oracle's input; direct: equal to ``n_events``).
    oracle_calls_pilot, oracle_calls : int
        Oracle evaluations (points) for the pilot and for the events.
    n_oracle_failures : int
        Points the oracle failed on (never kept).
    n_overweight : int
        Events with weight > 1.
    w_max : float
        The first stage's reference maximum (weight units: GeV^(2n−4) × amplitude units).
    r_max : float
        The second stage's reference maximum (1 for direct unweighting).
    cross_section_pb, cross_section_error_pb : float
        σ = (1/2s) ∫ |M|² dΦ from the events, in pb.
    surrogate_cross_section_pb : float
        Two-stage: the same integral of the surrogate's ⟨A⟩ over all candidates (NaN for direct).
    seconds : float
        Wall time.
    """

    method: str
    n_events: int
    n_trials: int
    n_candidates: int
    n_first_stage: int
    oracle_calls_pilot: int
    oracle_calls: int
    n_oracle_failures: int
    n_overweight: int
    w_max: float
    r_max: float
    cross_section_pb: float
    cross_section_error_pb: float
    surrogate_cross_section_pb: float
    seconds: float

    @property
    def calls_per_event(self) -> float:
        """Oracle calls per unweighted event, pilot included."""
        return (self.oracle_calls + self.oracle_calls_pilot) / max(self.n_events, 1)

    @property
    def calls_per_event_after_pilot(self) -> float:
        """Oracle calls per unweighted event without the pilot (what a long run tends to)."""
        return self.oracle_calls / max(self.n_events, 1)

    @property
    def overweight_fraction(self) -> float:
        """Fraction of events with weight > 1."""
        return self.n_overweight / max(self.n_events, 1)

    def summary(self) -> dict[str, Any]:
        """Plain dict of every field and property (for JSON)."""
        return {
            **asdict(self),
            "calls_per_event": self.calls_per_event,
            "calls_per_event_after_pilot": self.calls_per_event_after_pilot,
            "overweight_fraction": self.overweight_fraction,
        }


def _to_pb(value: CrossSection, sqrt_s: float) -> CrossSection:
    """``(1/2s) ∫ A dΦ`` in pb from ``∫ A dΦ`` (dimensionless for every n: A is in GeV^(4−2n))."""
    factor = GEV2_TO_PB / (2.0 * sqrt_s**2)
    return CrossSection(value.value * factor, value.error * factor)


class _Batches:
    """Batches of accepted phase-space points, counting every trial."""

    def __init__(self, sampler: PhaseSpaceSampler, batch_size: int, rng: np.random.Generator) -> None:
        self.sampler, self.batch_size, self.rng = sampler, batch_size, rng
        self.n_trials = 0
        self.n_points = 0

    def next(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Momenta ``(B, n, 4)`` [GeV] and phase-space weights ``(B,)`` [GeV^(2n−4)] inside the cuts."""
        sample = self.sampler.sample(n or self.batch_size, self.rng, only_accepted=True)
        self.n_trials += sample.n_trials
        self.n_points += len(sample)
        return sample.momenta, sample.weights


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="evt", desc=desc, disable=not enabled)


def two_stage_events(
    predict: Predictor,
    label: Labeller,
    sampler: PhaseSpaceSampler,
    settings: GenerateSettings,
    *,
    progress: bool = True,
) -> tuple[EventSample, UnweightingReport]:
    """Unweighted events by two-stage unweighting: surrogate weight first, oracle/surrogate ratio second.

    Parameters
    ----------
    predict : callable
        The surrogate: momenta ``(N, n, 4)`` [GeV] → ⟨A⟩, σ_tot ``(N,)`` (amplitude units).
    label : callable
        The oracle: momenta → A ``(N,)`` and ok ``(N,)`` bool.
    sampler : PhaseSpaceSampler
        The phase-space sampler (process, √s, cuts).
    settings : GenerateSettings
        Event count, batches, pilots, quantiles and seed.
    progress : bool
        Show a progress bar of the events.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng([settings.seed, 2])
    pilot = _Batches(sampler, settings.pilot, rng)
    momenta, w_phi = pilot.next()
    s_max = reference_maximum(w_phi * predict(momenta)[0], settings.max_quantile)
    # r_max from the oracle on first-stage events of pilot batches (not kept as events)
    ratios: list[np.ndarray] = []
    calls_pilot = 0
    while calls_pilot < settings.ratio_pilot:
        momenta, w_phi = pilot.next()
        mean, _ = predict(momenta)
        first = hit_or_miss(w_phi * mean, s_max, rng).kept
        chosen = np.flatnonzero(first)[: settings.ratio_pilot - calls_pilot]
        if chosen.size:
            values, ok = label(momenta[chosen])
            calls_pilot += chosen.size
            ratios.append((values / mean[chosen])[ok])
    r_max = reference_maximum(np.concatenate(ratios), settings.ratio_quantile)
    logger.info("two-stage unweighting: s_max %.4g (pilot of %d points), r_max %.6f (%d oracle calls)",
                s_max, settings.pilot, r_max, calls_pilot)

    batches = _Batches(sampler, settings.batch_size, rng)
    kept: list[tuple[np.ndarray, ...]] = []
    n_events = n_first = calls = failures = 0
    surrogate_sum = 0.0
    with _progress(settings.n_events, "two-stage", progress) as bar:
        while n_events < settings.n_events:
            momenta, w_phi = batches.next()
            mean, sigma = predict(momenta)
            surrogate_sum += float(np.sum(w_phi * mean))
            first = hit_or_miss(w_phi * mean, s_max, rng)
            idx = np.flatnonzero(first.kept)
            n_first += idx.size
            if idx.size == 0:
                continue
            values, ok = label(momenta[idx])
            calls += idx.size
            failures += int(np.count_nonzero(~ok))
            ratio = np.where(ok, values / mean[idx], 0.0)
            second = hit_or_miss(ratio, r_max, rng)
            sel = idx[second.kept]
            weights = first.event_weights[sel] * second.event_weights[second.kept]
            kept.append((momenta[sel], weights, values[second.kept], mean[sel], sigma[sel]))
            n_events += sel.size
            bar.update(sel.size)
    mom, weights, amp, sur, sig = (np.concatenate(parts) for parts in zip(*kept, strict=True))
    xs = _to_pb(cross_section(weights, s_max * r_max, batches.n_trials), sampler.sqrt_s)
    xs_nn = _to_pb(CrossSection(surrogate_sum / batches.n_trials, 0.0), sampler.sqrt_s)
    report = UnweightingReport(
        method="two-stage", n_events=n_events, n_trials=batches.n_trials, n_candidates=batches.n_points,
        n_first_stage=n_first, oracle_calls_pilot=calls_pilot, oracle_calls=calls, n_oracle_failures=failures,
        n_overweight=int(np.count_nonzero(weights > 1.0)), w_max=s_max, r_max=r_max,
        cross_section_pb=xs.value, cross_section_error_pb=xs.error, surrogate_cross_section_pb=xs_nn.value,
        seconds=time.perf_counter() - t0,
    )
    n = settings.n_events
    events = EventSample(mom[:n], weights[:n], amp[:n], sur[:n], sig[:n], sampler.process, sampler.sqrt_s,
                         xs.value, {"method": "two-stage", "s_max": s_max, "r_max": r_max})
    return events, report


def direct_events(
    label: Labeller,
    sampler: PhaseSpaceSampler,
    settings: GenerateSettings,
    *,
    progress: bool = True,
) -> tuple[EventSample, UnweightingReport]:
    """Unweighted events by hit-or-miss on the oracle's weight: every drawn point inside the cuts is labelled.

    ``w_max`` comes from ``settings.pilot`` labelled points (the same pilot size and quantile as the two-stage
    first stage, so both pay for their maxima alike). Arguments as in :func:`two_stage_events`.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng([settings.seed, 3])
    pilot = _Batches(sampler, settings.pilot, rng)
    momenta, w_phi = pilot.next()
    values, ok = label(momenta)
    w_max = reference_maximum(np.where(ok, w_phi * values, 0.0), settings.max_quantile)
    batches = _Batches(sampler, settings.batch_size, rng)
    kept: list[tuple[np.ndarray, ...]] = []
    n_events = calls = failures = 0
    with _progress(settings.n_events, "direct", progress) as bar:
        while n_events < settings.n_events:
            momenta, w_phi = batches.next(min(settings.batch_size, 20_000))  # labelled at once: keep batches small
            values, ok = label(momenta)
            calls += len(momenta)
            failures += int(np.count_nonzero(~ok))
            stage = hit_or_miss(np.where(ok, w_phi * values, 0.0), w_max, rng)
            kept.append((momenta[stage.kept], stage.event_weights[stage.kept], values[stage.kept]))
            n_events += stage.n_kept
            bar.update(stage.n_kept)
    mom, weights, amp = (np.concatenate(parts) for parts in zip(*kept, strict=True))
    xs = _to_pb(cross_section(weights, w_max, batches.n_trials), sampler.sqrt_s)
    report = UnweightingReport(
        method="direct", n_events=n_events, n_trials=batches.n_trials, n_candidates=batches.n_points,
        n_first_stage=n_events, oracle_calls_pilot=settings.pilot, oracle_calls=calls,
        n_oracle_failures=failures, n_overweight=int(np.count_nonzero(weights > 1.0)), w_max=w_max, r_max=1.0,
        cross_section_pb=xs.value, cross_section_error_pb=xs.error, surrogate_cross_section_pb=float("nan"),
        seconds=time.perf_counter() - t0,
    )
    n = settings.n_events
    nan = np.full(min(n, len(weights)), np.nan)
    events = EventSample(mom[:n], weights[:n], amp[:n], nan, nan, sampler.process, sampler.sqrt_s, xs.value,
                         {"method": "direct", "w_max": w_max})
    return events, report
