"""What ``activeamp generate`` does: load the surrogate and the oracle, unweight, compare, write events and report.

Outputs in the folder ``out``: ``events.<fmt>`` (two-stage events; ``events.lhe`` too when asked),
``direct_events.<fmt>`` when a direct run is asked for, ``generate.json`` (costs, cross sections, closure) and
``closure.png`` (pT, η, ΔR of both samples with their χ²/ndf).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from activeamp.atomic import write_atomic
from activeamp.deploy.events import EventSample, write_events, write_lhe
from activeamp.deploy.generate import GenerateSettings, UnweightingReport, direct_events, two_stage_events
from activeamp.deploy.unweighting import CrossSection
from activeamp.jsonio import plain
from activeamp.physics.cuts import default_cuts
from activeamp.physics.phasespace import PhaseSpaceSampler
from activeamp.physics.process import get_process
from activeamp.report.closure import Closure, closure_test, plot_closure
from activeamp.report.observables import kinematic_observables

__all__ = ["GenerateJob", "closure_tests", "run_generate"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerateJob:
    """One ``activeamp generate`` run.

    Attributes
    ----------
    model : Path
        The surrogate's ``model.pt``.
    out : Path
        Output folder.
    settings : GenerateSettings
        Events, batches, pilots, quantiles, seed.
    oracle : str
        Registry name of the oracle (``"exact"``: the built-in one of the model's process).
    oracle_options : dict
        Its options.
    sqrt_s : float
        √s [GeV].
    cuts : {"paper", "none"}
        Phase-space cuts (the model's training region: ``paper``).
    direct : int
        Events from direct unweighting with the oracle for the closure test and the cost comparison (0: none).
    event_format : {"arrow", "hdf5"}
        File format of the events.
    lhe : bool
        Also write ``events.lhe``.
    """

    model: Path
    out: Path
    settings: GenerateSettings
    oracle: str = "exact"
    oracle_options: dict[str, Any] | None = None
    sqrt_s: float = 1000.0
    cuts: str = "paper"
    direct: int = 0
    event_format: str = "arrow"
    lhe: bool = False


def closure_tests(first: EventSample, second: EventSample, bins: int = 20) -> list[Closure]:
    """:func:`closure_test` of every pT, η and ΔR observable of the two samples' outgoing particles."""
    obs1 = kinematic_observables(first.momenta, first.process)
    obs2 = kinematic_observables(second.momenta, second.process)
    return [closure_test(name, (obs1[name], first.weights), (obs2[name], second.weights), bins) for name in obs1]


def _closure_summary(closures: list[Closure]) -> dict[str, Any]:
    chi2 = sum(c.chi2 for c in closures)
    ndf = sum(c.ndf for c in closures)
    return {
        "observables": {c.name: {"chi2": c.chi2, "ndf": c.ndf, "p_value": c.p_value} for c in closures},
        "chi2": chi2,
        "ndf": ndf,
        "chi2_per_ndf": chi2 / ndf if ndf else float("nan"),
        "note": "observables share events, so their χ² are correlated: the summed χ²/ndf is a summary, not a test",
    }


def run_generate(job: GenerateJob, *, progress: bool = True) -> dict[str, Any]:
    """Run ``job``; returns the report written to ``out/generate.json``.

    Raises
    ------
    ValueError
        For a vector model, a model without a process, or an oracle for another process.
    """
    import oracles
    from activeamp.surrogate.committee import load_model

    surrogate = load_model(job.model)
    if surrogate.config.process is None:
        raise ValueError(f"{job.model}: the model does not record its process; retrain it")
    if surrogate.n_outputs is not None:
        raise ValueError(f"{job.model}: a vector model ({surrogate.n_outputs} outputs) has no event weight to unweight")
    process = get_process(surrogate.config.process)
    oracle = oracles.get(job.oracle, process=process.name, **(job.oracle_options or {}))
    sampler = PhaseSpaceSampler(process, job.sqrt_s, default_cuts(process) if job.cuts == "paper" else None)

    def predict(momenta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pred = surrogate.predict(momenta)
        return pred.mean, pred.sigma_tot

    def label(momenta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        result = oracle.evaluate(momenta)
        return np.asarray(result.values, dtype=np.float64), np.asarray(result.ok, dtype=bool)

    suffix = {"arrow": ".arrow", "hdf5": ".h5"}[job.event_format]
    events, two = two_stage_events(predict, label, sampler, job.settings, progress=progress)
    job.out.mkdir(parents=True, exist_ok=True)
    files = [write_events(events, job.out / f"events{suffix}")]
    if job.lhe:
        files.append(write_lhe(events, job.out / "events.lhe"))
    report: dict[str, Any] = {
        "model": str(job.model),
        "process": process.name,
        "sqrt_s_gev": job.sqrt_s,
        "cuts": job.cuts,
        "oracle": oracle.provenance(),
        "settings": asdict(job.settings),
        "two_stage": two.summary(),
        "estimated_direct_calls_per_event": _estimated_direct_cost(two),
    }
    if job.direct:
        direct_settings = GenerateSettings(**{**asdict(job.settings), "n_events": job.direct})
        reference, direct = direct_events(label, sampler, direct_settings, progress=progress)
        files.append(write_events(reference, job.out / f"direct_events{suffix}"))
        closures = closure_tests(events, reference)
        files.append(plot_closure(closures, job.out / "closure.png"))
        xs_diff, xs_err = _relative(two, direct)
        report.update(
            direct=direct.summary(),
            gain=direct.calls_per_event / two.calls_per_event,
            gain_after_pilot=direct.calls_per_event_after_pilot / two.calls_per_event_after_pilot,
            cross_section_ratio_minus_1=xs_diff,
            cross_section_ratio_error=xs_err,
            closure=_closure_summary(closures),
        )
    report["files"] = [str(f) for f in files]
    write_atomic(job.out / "generate.json", json.dumps(plain(report), indent=2) + "\n")
    return report


def _estimated_direct_cost(two: UnweightingReport) -> float:
    """Oracle calls per event of direct unweighting estimated from the surrogate: ``1/ε`` with ``ε`` the first
    stage's efficiency (the oracle's weights differ from the surrogate's by r ≈ 1)."""
    return two.n_candidates / max(two.n_first_stage, 1)


def _relative(two: UnweightingReport, direct: UnweightingReport) -> tuple[float, float]:
    a = CrossSection(two.cross_section_pb, two.cross_section_error_pb)
    b = CrossSection(direct.cross_section_pb, direct.cross_section_error_pb)
    return a.relative_to(b)
