"""Observables of the report's distributions: per-particle pT, η, ΔR, the VV variables, and their axis labels."""

from __future__ import annotations

import re
from itertools import combinations

import numpy as np

from activeamp.physics.kinematics import delta_r, pseudorapidity, pt, vv_invariants, vv_variables
from activeamp.physics.process import Process

__all__ = ["VV_LABELS", "kinematic_observables", "observable_label", "observables_for", "vv_observables"]

#: ASCII symbol of each particle kind in observable names ("pT_a1", "eta_g2", "dR_a1g1").
_SYMBOL = {"photon": "a", "gluon": "g", "quark": "q", "antiquark": "qb"}
_TEX = {"a": r"\gamma", "g": "g", "q": "q", "qb": r"\bar{q}"}


def kinematic_observables(momenta: np.ndarray, process: Process, *, pt_ordered: bool = True) -> dict[str, np.ndarray]:
    """Per-particle pT, η and pairwise ΔR of the outgoing particles.

    Particles are named by kind and rank: photons ``a1, a2``, gluons ``g1, g2``, quarks ``q1``,
    antiquarks ``qb1``. Observables are ``"pT_<p>"`` (GeV), ``"eta_<p>"`` and ``"dR_<p><q>"`` for every pair;
    :func:`observable_label` gives matplotlib labels.

    Parameters
    ----------
    momenta : numpy.ndarray
        Shape ``(N, n_particles, 4)``, ``(E, px, py, pz)`` in GeV, incoming first (project convention).
    process : Process
        The process the momenta belong to.
    pt_ordered : bool
        If True (default), identical particles are ranked by decreasing pT (γ1 is the harder photon) point by
        point; otherwise by storage order.

    Returns
    -------
    dict
        Name → shape ``(N,)`` float64 array.
    """
    p = np.asarray(momenta, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != process.momentum_shape:
        raise ValueError(f"momenta have shape {p.shape}; process {process.name!r} needs (N, {process.n_particles}, 4)")
    named: dict[str, np.ndarray] = {}
    for kind in dict.fromkeys(process.outgoing):
        idx = list(process.outgoing_indices(kind))
        group = p[:, idx, :]
        if pt_ordered and len(idx) > 1:
            order = np.argsort(-pt(group), axis=1, kind="stable")
            group = np.take_along_axis(group, order[:, :, None], axis=1)
        for rank in range(len(idx)):
            named[f"{_SYMBOL[kind]}{rank + 1}"] = group[:, rank, :]
    out: dict[str, np.ndarray] = {}
    for name, q in named.items():
        out[f"pT_{name}"] = pt(q)
    for name, q in named.items():
        out[f"eta_{name}"] = pseudorapidity(q)
    for (n1, q1), (n2, q2) in combinations(named.items(), 2):
        out[f"dR_{n1}{n2}"] = delta_r(q1, q2)
    return out


#: Axis labels of :func:`vv_observables`.
VV_LABELS = {
    "sqrt_s": r"$\sqrt{s}$ [GeV]",
    "cos_theta": r"$\cos\theta^*$",
    "m34": r"$m_{34}$ [GeV]",
    "m56": r"$m_{56}$ [GeV]",
}


def vv_observables(momenta: np.ndarray) -> dict[str, np.ndarray]:
    """The variables of the q q̄′ → V1 V2 map: √s, cos θ* (V1 to the quark), m34 = m(V1), m56 = m(V2).

    Parameters
    ----------
    momenta : numpy.ndarray
        Shape ``(N, 4, 4)``: q, q̄′, V1, V2, ``(E, px, py, pz)`` in GeV.

    Returns
    -------
    dict
        ``"sqrt_s"``, ``"cos_theta"``, ``"m34"``, ``"m56"`` → shape ``(N,)`` float64 (GeV, except cos θ*).
    """
    v = vv_variables(vv_invariants(np.asarray(momenta, dtype=np.float64)))
    return {name: v[:, i] for i, name in enumerate(VV_LABELS)}


def observables_for(momenta: np.ndarray, process: Process) -> dict[str, np.ndarray]:
    """The observables the reports histogram: :func:`kinematic_observables`, or :func:`vv_observables`."""
    return kinematic_observables(momenta, process) if process.massless else vv_observables(momenta)


_PARTICLE_RE = re.compile(r"(qb|a|g|q)(\d+)")


def _tex_particles(token: str) -> str | None:
    parts = _PARTICLE_RE.findall(token)
    if not parts or "".join(s + n for s, n in parts) != token:
        return None
    return r"\,".join(f"{_TEX[s]}_{{{n}}}" for s, n in parts)


def observable_label(name: str) -> str:
    """Matplotlib (mathtext) axis label for an observable name of :func:`kinematic_observables`.

    ``"pT_a1"`` → ``$p_{T,\\gamma_{1}}$ [GeV]``, ``"eta_g1"`` → ``$\\eta_{g_{1}}$``, ``"dR_a1g1"`` →
    ``$\\Delta R_{\\gamma_{1}\\,g_{1}}$``. Unknown names are returned unchanged.
    """
    head, _, tail = name.partition("_")
    tex = _tex_particles(tail) if tail else None
    if tex is None:
        return name
    if head == "pT":
        return f"$p_{{T,{tex}}}$ [GeV]"
    if head == "eta":
        return f"$\\eta_{{{tex}}}$"
    if head == "phi":
        return f"$\\phi_{{{tex}}}$"
    if head == "dR":
        return f"$\\Delta R_{{{tex}}}$"
    if head == "m":
        return f"$m_{{{tex}}}$ [GeV]"
    return name
