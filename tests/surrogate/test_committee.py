"""Tests of the surrogate committee: the mixture rule, member configs, one checkpoint for all members, loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from activeamp.data.store import ShardStore
from activeamp.surrogate.committee import (
    SurrogateCommittee,
    combine_predictions,
    load_model,
    member_configs,
)
from activeamp.surrogate.config import SurrogateConfig
from activeamp.surrogate.evaluation import evaluate_model
from activeamp.surrogate.prediction import Prediction
from activeamp.surrogate.surrogate import Surrogate

MEMBER = {"hidden": [16, 16], "batch_size": 256, "max_epochs": 3, "lr": 3e-3, "process": "gg_yyg"}


def _prediction(rng: np.random.Generator, m: int, n: int) -> Prediction:
    samples = rng.lognormal(size=(m, n))
    sigma_samples = rng.uniform(0.01, 0.1, size=(m, n))
    return Prediction(
        samples.mean(axis=0),
        np.sqrt((sigma_samples**2).mean(axis=0)),
        samples.std(axis=0),
        samples,
        sigma_samples,
    )


def test_mixture_equals_the_moments_of_all_members_samples_together() -> None:
    rng = np.random.default_rng(0)
    members = [_prediction(rng, 7, 50) for _ in range(3)]
    combined = combine_predictions(members)
    samples = np.concatenate([p.samples for p in members])
    sigma_samples = np.concatenate([p.sigma_model_samples for p in members])
    pooled = Prediction(samples.mean(0), np.sqrt((sigma_samples**2).mean(0)), samples.std(0))
    np.testing.assert_allclose(combined.mean, pooled.mean, rtol=1e-12)
    np.testing.assert_allclose(combined.sigma_model, pooled.sigma_model, rtol=1e-12)
    np.testing.assert_allclose(combined.sigma_pred, pooled.sigma_pred, rtol=1e-12)
    assert combined.samples is not None and combined.samples.shape == (21, 50)
    # the spread between members adds to σ_pred: never below the members' own average
    within = np.sqrt(np.mean([p.sigma_pred**2 for p in members], axis=0))
    assert np.all(combined.sigma_pred >= within - 1e-15)


def test_mixture_of_identical_members_is_each_member_and_one_member_passes_through() -> None:
    rng = np.random.default_rng(1)
    one = _prediction(rng, 5, 20)
    same = combine_predictions([one, one, one])
    np.testing.assert_allclose(same.mean, one.mean)
    np.testing.assert_allclose(same.sigma_pred, one.sigma_pred)
    assert combine_predictions([one]) is one
    with pytest.raises(ValueError, match="no predictions"):
        combine_predictions([])


def test_member_configs_give_seeds_and_split_a_deep_ensemble() -> None:
    base = SurrogateConfig(seed=5, family="ensemble", n_members=8)
    members = member_configs(base, 4)
    assert [c.seed for c in members] == [5, 6, 7, 8] and {c.n_members for c in members} == {2}
    laplace = member_configs(SurrogateConfig(seed=1), 3)
    assert [c.seed for c in laplace] == [1, 2, 3] and {c.family for c in laplace} == {"laplace"}
    repulsive = member_configs(SurrogateConfig(family="repulsive", n_members=4), 2)
    assert {c.n_members for c in repulsive} == {4}  # interacting networks stay together
    with pytest.raises(ValueError, match="8 ensemble networks do not split evenly over 3"):
        member_configs(base, 3)


@pytest.fixture(scope="module")
def committee(store: ShardStore) -> SurrogateCommittee:
    train = store.arrays("train")
    members = []
    for config in member_configs(SurrogateConfig.from_dict(MEMBER), 2):
        member = Surrogate(config)
        member.fit(train.momenta[:600], train.targets[:600])
        members.append(member)
    return SurrogateCommittee(members)


def test_committee_predicts_the_mixture_of_its_members(committee: SurrogateCommittee, store: ShardStore) -> None:
    x = store.arrays("test").momenta[:50]
    want = combine_predictions([m.predict(x) for m in committee.members])
    got = committee.predict(x)
    np.testing.assert_array_equal(got.mean, want.mean)
    np.testing.assert_array_equal(got.sigma_pred, want.sigma_pred)
    a, b = (m.predict(x).mean for m in committee.members)
    assert not np.allclose(a, b)  # different seeds: different members
    sampled = committee.predict(x, 6, return_samples=True)
    assert sampled.samples is not None and sampled.samples.shape == (12, 50)
    assert committee.sample_count(6) == 12 and committee.closed_form and committee.n_outputs is None


def test_one_checkpoint_holds_every_member(committee: SurrogateCommittee, store: ShardStore, tmp_path: Path) -> None:
    path = committee.save(tmp_path / "model.pt")
    loaded = load_model(path)
    assert isinstance(loaded, SurrogateCommittee) and len(loaded) == 2
    x = store.arrays("test").momenta[:40]
    np.testing.assert_allclose(loaded.predict(x).mean, committee.predict(x).mean, rtol=1e-12)
    with pytest.raises(ValueError, match=r"model\.pt: cannot load the checkpoint: a committee of 2 surrogates"):
        Surrogate.load(path)
    single = committee.members[0].save(tmp_path / "single.pt")
    assert isinstance(load_model(single), Surrogate)
    with pytest.raises(ValueError, match=r"single\.pt: cannot load the checkpoint: a single surrogate"):
        SurrogateCommittee.load(single)


def test_evaluate_model_reads_a_committee_checkpoint(
    committee: SurrogateCommittee, store: ShardStore, tmp_path: Path
) -> None:
    path = committee.save(tmp_path / "model.pt")
    metrics = evaluate_model(path, store, tmp_path / "eval", splits=("test",), n_samples=4, plots=False)
    assert np.isfinite(metrics["test"].precision)
    assert '"n_samples": 8' in (tmp_path / "eval" / "metrics.json").read_text()  # 4 draws from each of 2 members
