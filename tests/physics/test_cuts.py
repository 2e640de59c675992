"""Tests of the cuts: thresholds on constructed edge cases, composition, configuration, the paper's presets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activeamp.physics import kinematics as K
from activeamp.physics.cuts import JET, Cuts, DeltaRCut, KindCut, as_cuts, kind_indices, paper_cuts
from activeamp.physics.phasespace import rambo
from activeamp.physics.process import Process, get_process

YYG = get_process("gg_yyg")
YYGG = get_process("gg_yygg")
YY = get_process("gg_yy")
BEAMS = np.array([[500.0, 0.0, 0.0, 500.0], [500.0, 0.0, 0.0, -500.0]])

# Two of the reference points of shared/physics/reference_points.json (RAMBO, inside the paper's cuts).
REFERENCE_2TO3 = np.array(
    [
        [
            [500, 0, 0, 500],
            [500, 0, 0, -500],
            [434.8016959050069, 152.51138311160375, -230.36319958812007, 335.74631652302577],
            [246.62504491624, 59.82658172811906, 13.52770445427213, -238.87589688133875],
            [318.5732591787529, -212.33796483972284, 216.8354951338479, -96.87041964168701],
        ]
    ],
    dtype=float,
)
REFERENCE_2TO2 = np.array(
    [
        [
            [500, 0, 0, 500],
            [500, 0, 0, -500],
            [500, -371.64795278691594, -147.9963381901504, 299.9581355316121],
            [500, 371.64795278691594, 147.9963381901504, -299.9581355316121],
        ]
    ],
    dtype=float,
)


def massless(pt: float, eta: float, phi: float) -> np.ndarray:
    return np.array([pt * math.cosh(eta), pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)])


def point(*particles: tuple[float, float, float]) -> np.ndarray:
    """One point (shape (1, 2+n, 4)) with the given outgoing (pT, η, φ); momentum conservation is not needed."""
    return np.concatenate([BEAMS, np.stack([massless(*p) for p in particles])])[None]


# A comfortable 2→3 point: photons (pT 100 and 80), gluon (pT 50), well separated.
BASE = [(100.0, 0.5, 0.0), (80.0, -0.3, 2.0), (50.0, 1.0, -2.0)]


def passes(
    cuts: Cuts | KindCut | DeltaRCut, particles: list[tuple[float, float, float]], process: Process = YYG
) -> bool:
    return bool(cuts.mask(point(*particles), process)[0])


def with_particle(i: int, value: tuple[float, float, float]) -> list[tuple[float, float, float]]:
    out = list(BASE)
    out[i] = value
    return out


PAPER = paper_cuts(YYG)


def test_base_point_and_reference_points_pass_the_paper_cuts() -> None:
    assert passes(PAPER, BASE)
    assert PAPER.mask(REFERENCE_2TO3, YYG).tolist() == [True]
    assert paper_cuts("gg_yy").mask(REFERENCE_2TO2, "gg_yy").tolist() == [True]


@pytest.mark.parametrize(
    ("particles", "expected"),
    [
        # leading photon 40 GeV threshold (subleading stays at 35)
        ([(40.001, 0.5, 0.0), (35.0, -0.3, 2.0), (50.0, 1.0, -2.0)], True),
        ([(39.999, 0.5, 0.0), (35.0, -0.3, 2.0), (50.0, 1.0, -2.0)], False),
        # subleading photon 30 GeV threshold
        ([(100.0, 0.5, 0.0), (30.001, -0.3, 2.0), (50.0, 1.0, -2.0)], True),
        ([(100.0, 0.5, 0.0), (29.999, -0.3, 2.0), (50.0, 1.0, -2.0)], False),
        # ordering is by pT, not by position: the second photon may be the leading one
        ([(30.001, 0.5, 0.0), (40.001, -0.3, 2.0), (50.0, 1.0, -2.0)], True),
        ([(35.0, 0.5, 0.0), (39.999, -0.3, 2.0), (50.0, 1.0, -2.0)], False),
        # both photons above 30 but none above 40
        ([(35.0, 0.5, 0.0), (35.0, -0.3, 2.0), (50.0, 1.0, -2.0)], False),
        # photon |η| < 2.37, both signs
        ([(100.0, 2.369, 0.0), (80.0, -0.3, 2.0), (50.0, 1.0, -2.0)], True),
        ([(100.0, 2.371, 0.0), (80.0, -0.3, 2.0), (50.0, 1.0, -2.0)], False),
        ([(100.0, 0.5, 0.0), (80.0, -2.371, 2.0), (50.0, 1.0, -2.0)], False),
        # jet pT > 20 GeV and |η| < 5
        ([(100.0, 0.5, 0.0), (80.0, -0.3, 2.0), (20.001, 1.0, -2.0)], True),
        ([(100.0, 0.5, 0.0), (80.0, -0.3, 2.0), (19.999, 1.0, -2.0)], False),
        ([(100.0, 0.5, 0.0), (80.0, -0.3, 2.0), (50.0, -4.999, -2.0)], True),
        ([(100.0, 0.5, 0.0), (80.0, -0.3, 2.0), (50.0, 5.001, -2.0)], False),
    ],
)
def test_paper_cut_thresholds(particles: list[tuple[float, float, float]], expected: bool) -> None:
    assert passes(PAPER, particles) is expected


@pytest.mark.parametrize("dr", [0.399, 0.401])
def test_delta_r_photon_photon_edge_in_eta_and_across_the_phi_wrap(dr: float) -> None:
    expected = dr > 0.4
    # separated in η only
    assert passes(PAPER, [(100.0, 0.5, 0.0), (80.0, 0.5 + dr, 0.0), (50.0, 3.0, 2.0)]) is expected
    # separated in φ only, straddling φ = ±π (a naive |Δφ| would be ≈ 2π − dr)
    phi1 = math.pi - dr / 2
    phi2 = -math.pi + dr / 2
    assert passes(PAPER, [(100.0, 0.5, phi1), (80.0, 0.5, phi2), (50.0, -1.0, 0.0)]) is expected
    # both: Δη = Δφ = dr/√2
    d = dr / math.sqrt(2)
    assert passes(PAPER, [(100.0, 0.1, 1.0), (80.0, 0.1 + d, 1.0 + d), (50.0, -1.0, -2.0)]) is expected


@pytest.mark.parametrize("photon", [0, 1])
@pytest.mark.parametrize("dr", [0.399, 0.401])
def test_delta_r_jet_photon_edge_for_each_photon(photon: int, dr: float) -> None:
    eta, phi = BASE[photon][1], BASE[photon][2]
    particles = with_particle(2, (50.0, eta + 0.6 * dr, phi - 0.8 * dr))  # ΔR = dr
    assert passes(PAPER, particles) is (dr > 0.4)


@pytest.mark.parametrize("dr", [0.399, 0.401])
def test_delta_r_jet_jet_edge_in_two_jet_process(dr: float) -> None:
    cuts = paper_cuts(YYGG)
    particles = [(100.0, 0.5, 0.0), (80.0, -0.3, 2.0), (50.0, 1.0, -2.0), (30.0, 1.0 + dr, -2.0)]
    assert passes(cuts, particles, YYGG) is (dr > 0.4)


def test_incoming_particles_are_never_cut() -> None:
    # The beams have pT = 0 and |η| = ∞; a cut naming gluons must ignore the incoming gluons.
    cuts = KindCut("gluon", pt_min=20.0, eta_max=5.0)
    assert passes(cuts, BASE)
    assert kind_indices(YYG, "gluon") == (4,)
    assert kind_indices(YYG, JET) == (4,)
    assert kind_indices(YYGG, JET) == (4, 5)
    assert kind_indices(YY, JET) == ()
    assert kind_indices(YYG, "quark") == ()


def test_two_to_two_preset() -> None:
    cuts = paper_cuts(YY)
    assert passes(cuts, [(30.001, 0.1, 0.0), (30.001, -0.1, math.pi)], YY)
    assert not passes(cuts, [(30.001, 0.1, 0.0), (29.999, -0.1, math.pi)], YY)
    assert not passes(cuts, [(100.0, 2.38, 0.0), (100.0, -2.38, math.pi)], YY)
    assert cuts.describe() == "photon: pT > 30 GeV, |η| < 2.37"


def test_vectorised_cuts_agree_with_a_direct_per_pair_implementation() -> None:
    momenta, _ = rambo(20_000, 4, np.random.default_rng(0), sqrt_s=300.0)  # low √s: many points near the cuts
    out = momenta[:, 2:]
    pt = K.pt(out)
    eta = K.pseudorapidity(out)
    photons, jets = pt[:, :2], pt[:, 2:]
    expected = (np.max(photons, axis=1) > 40) & (np.min(photons, axis=1) > 30)
    expected &= np.all(np.abs(eta[:, :2]) < 2.37, axis=1)
    expected &= np.all(jets > 20, axis=1) & np.all(np.abs(eta[:, 2:]) < 5, axis=1)
    i, j = K.pair_indices(4)
    expected &= np.all(K.delta_r(out[:, i], out[:, j]) > 0.4, axis=1)
    mask = paper_cuts(YYGG).mask(momenta, YYGG)
    assert 0.05 < mask.mean() < 0.95
    np.testing.assert_array_equal(mask, expected)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_cuts_are_symmetric_under_exchange_of_identical_particles(seed: int) -> None:
    momenta, _ = rambo(2000, 4, seed, sqrt_s=300.0)
    cuts = paper_cuts(YYGG)
    mask = cuts.mask(momenta, YYGG)
    swapped = momenta[:, [0, 1, 3, 2, 5, 4]]
    np.testing.assert_array_equal(cuts.mask(swapped, YYGG), mask)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    pt_a=st.floats(0.0, 120.0),
    pt_b=st.floats(0.0, 120.0),
    eta=st.floats(0.5, 5.0),
    dr=st.floats(0.0, 1.5),
)
def test_composition_is_the_logical_and(seed: int, pt_a: float, pt_b: float, eta: float, dr: float) -> None:
    momenta, _ = rambo(500, 3, seed, sqrt_s=400.0)
    a = KindCut("photon", pt_min=pt_a, pt_leading=(pt_b,))
    b = KindCut("photon", eta_max=eta, pt_leading=(pt_a, pt_b))
    c = DeltaRCut(("photon", "gluon"), dr)
    combined = a & b & c
    expected = a.mask(momenta, YYG) & b.mask(momenta, YYG) & c.mask(momenta, YYG)
    np.testing.assert_array_equal(combined.mask(momenta, YYG), expected)
    np.testing.assert_array_equal(Cuts.all_of([a, None, b, c]).mask(momenta, YYG), expected)
    assert len(combined.particles) == 1  # merged into one cut on photons
    np.testing.assert_array_equal(as_cuts([a, b, c])(momenta, YYG), expected)


def test_merging_keeps_the_tighter_cut() -> None:
    a = KindCut("photon", pt_min=10.0, eta_max=3.0, pt_leading=(40.0,))
    b = KindCut("photon", pt_min=20.0, eta_max=2.5, pt_leading=(30.0, 30.0))
    assert a.merge(b) == KindCut("photon", 20.0, 2.5, (40.0, 30.0))
    assert (a & b) == Cuts(particles=(KindCut("photon", 20.0, 2.5, (40.0, 30.0)),))
    r = DeltaRCut(("photon", "jet"), 0.3) & DeltaRCut(("jet", "photon"), 0.5)
    assert r.delta_r == (DeltaRCut(("jet", "photon"), 0.5),)
    assert (PAPER & PAPER) == PAPER
    with pytest.raises(ValueError, match="cannot merge"):
        a.merge(KindCut("jet"))
    with pytest.raises(TypeError):
        _ = a & 3  # type: ignore[operator]


def test_describe_and_repr_are_readable() -> None:
    assert PAPER.describe() == (
        "photon: |η| < 2.37, pT(1st, 2nd) > 40, 30 GeV; jet: pT > 20 GeV, |η| < 5; "
        "ΔR(jet, jet) > 0.4; ΔR(jet, photon) > 0.4; ΔR(photon, photon) > 0.4"
    )
    assert str(Cuts()) == "no cuts" and not Cuts() and PAPER
    assert KindCut("gluon").describe() == "gluon: no cut"
    assert "KindCut(kind='photon'" in repr(PAPER)


def test_from_dict_round_trip_and_equivalence_with_preset() -> None:
    config = {
        "photon": {"eta_max": 2.37, "pt_leading": [40, 30]},
        "jet": {"pt_min": 20, "eta_max": 5},
        "delta_r": {"jet-jet": 0.4, "jet-photon": 0.4, "photon-photon": 0.4},
    }
    assert Cuts.from_dict(config) == PAPER
    assert Cuts.from_dict(PAPER.to_dict()) == PAPER
    assert as_cuts(config) == PAPER
    assert Cuts.from_dict(None) == Cuts() == Cuts.from_dict({})
    assert Cuts.from_dict({"photon": {"pt_min": 30, "eta_max": None}}) == Cuts((KindCut("photon", 30.0),))
    # the "gluon" kind gives the same mask as "jet" in gluon-only processes
    as_gluon = Cuts.from_dict({"gluon": {"pt_min": 20, "eta_max": 5}})
    as_jet = Cuts.from_dict({"jet": {"pt_min": 20, "eta_max": 5}})
    momenta, _ = rambo(2000, 4, 3, sqrt_s=200.0)
    np.testing.assert_array_equal(as_gluon.mask(momenta, YYGG), as_jet.mask(momenta, YYGG))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"photons": {"pt_min": 30}}, r"cuts: unknown key 'photons'; expected a particle kind"),
        ({"photon": {"ptmin": 30}}, r"cuts.photon: unknown key 'ptmin'; known: pt_min, eta_max, pt_leading"),
        ({"photon": {"pt_min": -1}}, r"cuts.photon.pt_min: expected a non-negative number, got -1"),
        ({"photon": {"pt_min": "30"}}, r"cuts.photon.pt_min: expected a number, got '30'"),
        ({"photon": {"eta_max": 0}}, r"cuts.photon.eta_max: expected a positive number, got 0"),
        ({"photon": {"pt_min": float("nan")}}, r"cuts.photon.pt_min: expected a finite number"),
        ({"photon": {"pt_leading": 40}}, r"cuts.photon.pt_leading: expected a list of numbers, got 40"),
        ({"photon": {"pt_leading": [40, True]}}, r"cuts.photon.pt_leading\[1\]: expected a number, got True"),
        ({"photon": 30}, r"cuts.photon: expected a mapping with keys pt_min, eta_max, pt_leading, got 30"),
        ({"delta_r": {"jetphoton": 0.4}}, r"cuts.delta_r: bad pair 'jetphoton'; expected 'kind-kind'"),
        ({"delta_r": {"jet-photon": -0.4}}, r"cuts.delta_r.jet-photon: expected a non-negative number"),
        ({"delta_r": [0.4]}, r"cuts.delta_r: expected a mapping 'kind-kind' -> minimum ΔR"),
        ([1, 2], r"cuts: expected a mapping, got list"),
    ],
)
def test_from_dict_names_bad_keys_and_values(config: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Cuts.from_dict(config)  # type: ignore[arg-type]


def test_constructor_and_application_errors() -> None:
    with pytest.raises(ValueError, match="unknown kind 'photn'"):
        KindCut("photn")
    with pytest.raises(ValueError, match="unknown kind 'lepton'"):
        DeltaRCut(("jet", "lepton"), 0.4)
    with pytest.raises(ValueError, match="pair of kinds"):
        DeltaRCut("jet", 0.4)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected KindCut"):
        Cuts(particles=(DeltaRCut(("jet", "jet"), 0.4),))  # type: ignore[arg-type]
    three_photons = KindCut("photon", pt_leading=(40.0, 30.0, 20.0))
    with pytest.raises(ValueError, match="requires 3 photon\\(s\\), process 'gg_yyg' has 2"):
        three_photons.mask(point(*BASE), YYG)
    with pytest.raises(ValueError, match="process 'gg_yy' has none"):
        KindCut(JET, pt_leading=(20.0,)).mask(point(*BASE[:2]), YY)
    with pytest.raises(ValueError, match="expected 5 particles per point"):
        PAPER.mask(point(*BASE[:2]), YYG)
    with pytest.raises(TypeError, match="cannot interpret"):
        as_cuts(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot combine"):
        Cuts.all_of(["photon"])  # type: ignore[list-item]


def test_cut_objects_are_frozen_and_hashable() -> None:
    with pytest.raises(AttributeError):
        PAPER.particles = ()  # type: ignore[misc]
    assert hash(PAPER) == hash(paper_cuts("gg_yyg"))
    assert KindCut("photon", pt_leading=[40, 30]).pt_leading == (40.0, 30.0)  # type: ignore[arg-type]
