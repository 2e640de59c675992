"""Tests of several trainer actors driven as one committee: placement, the mixture, checkpoints, resume checks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from activeamp.config import ConfigError
from activeamp.loop.committee import TrainerCommittee, combine_outcomes, join_states, split_state
from activeamp.loop.settings import TrainerConfig
from activeamp.loop.trainer import SurrogateTrainer, TrainOutcome
from activeamp.surrogate.committee import SurrogateCommittee, combine_predictions
from activeamp.surrogate.config import SurrogateConfig
from activeamp.surrogate.fitting import state_from_bytes
from oracles import get
from tests.conftest import physical_points

SURROGATE = SurrogateConfig(hidden=(12, 12), max_epochs=3, batch_size=128, seed=4, process="gg_yyg")
TRAINER = TrainerConfig(num_cpus=0.5, num_gpus=0, round_epochs=2, torch_threads=1, n_actors=2, startup_timeout=300)


def _outcome(**changes: object) -> TrainOutcome:
    base = TrainOutcome(100, 120.0, 5, 5, 0.5, 0.7, 2.0, "cpu")
    return dataclasses.replace(base, **changes)


def test_outcomes_combine_losses_and_keep_the_longest_wall_time() -> None:
    combined = combine_outcomes([_outcome(), _outcome(seconds=3.0, train_loss=0.3, n_eff=100.0)])
    assert combined.seconds == 3.0 and combined.train_loss == pytest.approx(0.4) and combined.n_eff == 110.0
    assert combined.device == "2×cpu" and combined.epochs == 5
    one = _outcome()
    assert combine_outcomes([one]) is one


def test_member_states_join_into_one_committee_checkpoint_and_split_back() -> None:
    x = physical_points("gg_yyg", 300, seed=1)
    a = get("mock")(x)
    trainers = [SurrogateTrainer(dataclasses.replace(SURROGATE, seed=s), None, TRAINER) for s in (1, 2)]
    for t in trainers:
        t.train(np.arange(300).astype(str), x, a)
    blobs = [t.checkpoint()[0] for t in trainers]
    assert join_states(blobs[:1]) is blobs[0] and split_state(blobs[0]) == [blobs[0]]
    joined = join_states(blobs)
    parts = split_state(joined)
    assert len(parts) == 2
    for part, trainer in zip(parts, trainers, strict=True):
        again = state_from_bytes(part)
        np.testing.assert_array_equal(again.predict(x[:20]).mean, trainer.predict(x[:20]).mean)


def test_trainer_committee_trains_members_apart_and_predicts_their_mixture(ray_local: object) -> None:
    x = physical_points("gg_yyg", 400, seed=2)
    a = get("mock")(x)
    ids = np.array([f"p{i}" for i in range(400)])
    committee = TrainerCommittee.start(SURROGATE, None, TRAINER)
    try:
        assert len(committee) == 2
        outcome = committee.train(ids, x, a).outcome()
        assert outcome.device == "2×cpu" and outcome.n_train == 400
        pred = committee.predict(x[:30])
        members = [state_from_bytes(b) for b in split_state(committee.checkpoint()[0])]
        assert [m.config.seed for m in members] == [4, 5]
        want = combine_predictions([m.predict(x[:30]) for m in members])
        np.testing.assert_allclose(pred.mean, want.mean, rtol=1e-12)
        np.testing.assert_allclose(pred.sigma_tot, want.sigma_tot, rtol=1e-12)
        np.testing.assert_allclose(pred.mean, SurrogateCommittee(members).predict(x[:30]).mean, rtol=1e-12)
        assert committee.progress() is None or "member 1 of 2" in committee.progress()
        blob, multiplicity = committee.checkpoint()
        assert isinstance(multiplicity, list) and len(multiplicity) == 2
        # a warm round on other data; then a fresh committee resumed from the checkpoint predicts as the saved one
        committee.train(ids[:300], x[:300], a[:300]).outcome()
        assert not np.allclose(committee.predict(x[:30]).mean, pred.mean)
    finally:
        committee.kill()
    resumed = TrainerCommittee.start(SURROGATE, None, TRAINER)
    try:
        with pytest.raises(ConfigError, match="checkpoint holds 2 trained member.*resume with trainer.n_actors=2"):
            TrainerCommittee(resumed.actors[:1]).load(blob, multiplicity)  # trainer.n_actors changed to 1
        resumed.load(blob, multiplicity)
        np.testing.assert_allclose(resumed.predict(x[:30]).mean, pred.mean, rtol=1e-12)
    finally:
        resumed.kill()


def test_trainer_settings_refuse_bad_member_counts() -> None:
    with pytest.raises(ConfigError, match="trainer.n_actors: must be >= 1"):
        TrainerConfig(n_actors=0)
    with pytest.raises(ConfigError, match="choose one way to use several devices"):
        TrainerConfig(n_actors=2, data_parallel_workers=2)
    assert TrainerConfig(num_gpus="auto").gpus(1.0, count=4) == 0.25
    assert TrainerConfig(num_gpus="auto").gpus(8.0, count=4) == 1.0
    assert TrainerConfig(num_gpus="auto").gpus(0.0, count=4) == 0.0
