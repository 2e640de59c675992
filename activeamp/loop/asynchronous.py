"""The asynchronous active loop (``loop.mode: async``): the oracles never wait for training.

Three activities overlap, driven by one loop in the driver:

* the oracle actors label continuously from a queue of selected points (:class:`LabelStream`);
* the trainer actor trains continuously: each call is one warm-start stage on the labels committed so far; when
  it ends, the surrogate is evaluated on the frozen test set, checkpointed (a round: ``metrics/round-XXXX.json``,
  ``rounds.jsonl``, ``state.json``, as in the rounds mode) and *published*: loaded in the driver as the scorer;
* acquisition keeps the queue at ``loop.queue_points`` by selecting ``acquisition.batch_size`` points at a time,
  scored by the latest published surrogate, as long as it is younger than ``loop.max_surrogate_age`` (while the
  first surrogate trains there is none: the queue is kept with uniform points).

The guarantees of the rounds mode hold: a selection is committed to the store before its points are queued, a
label is committed before it counts, and a driver killed at any moment is resumed (:meth:`ActiveLearner.resume`)
from the store: every unlabelled point is queued again, nothing is selected twice (selections are numbered from
the store) and no label is lost or repeated. What is selected depends on timing, so runs are not reproducible
point for point; the rounds mode is.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from activeamp.data.dataset import work_item_rng
from activeamp.data.store import PointSet, ShardStore, make_point_ids
from activeamp.loop.active import _INITIAL_BATCHES, _SELECTED_BATCH, ActiveLearner, RoundStatus
from activeamp.loop.committee import TrainingCall
from activeamp.loop.label_stream import LabelStream
from activeamp.surrogate.prediction import Prediction

__all__ = ["AsyncLearner"]

logger = logging.getLogger(__name__)

_STEP_WAIT_S = 0.05  # longest wait for an oracle call while other work may be due
_UNIFORM_STREAM = 100  # random streams of the uniform selections of update 0 (the initial data use 0, 1, 2)


def _first_batch(update: int) -> int:
    """Store batch of an update's first selection: 1 as in the rounds mode; 3 in round 0, whose batches 0, 1, 2
    hold the initial train, validation and test points."""
    return len(_INITIAL_BATCHES) if update == 0 else _SELECTED_BATCH


class AsyncLearner(ActiveLearner):
    """An active-learning run in ``loop.mode: async`` (same arguments and run folder as :class:`ActiveLearner`)."""

    _calls_before: int = 0  # training and validation points labelled before the stream started

    def run(self) -> list[RoundStatus]:
        """Run (or continue) the loop until the budget is used; write the final report."""
        start = time.perf_counter()
        base_wall = float(self.state.get("wall_seconds", 0.0))
        stream: LabelStream | None = None
        try:
            store = self._start()
            sampler = self.config.phasespace.build_sampler(None, None)
            x_test, a_test = self._initial_data(store, sampler)
            assert self._pool is not None
            self._calls_before = self._oracle_calls(store)
            self._selection_counts: dict[int, int] = {}  # selections made per update, counted from the store once
            stream = self._pool.stream(store, progress=self.progress)
            stream.add(store.unlabelled(["train", "validation"]))  # the initial points, or a killed run's queue
            self._drive(store, stream, sampler, x_test, a_test, start, base_wall)
            stream.close()
            self._final_report(store, x_test, a_test)
        finally:
            if stream is not None:
                stream.close()
            self.close()
        return self.statuses

    # ---------------------------------------------------------------------------------------------- driving

    def _drive(
        self,
        store: ShardStore,
        stream: LabelStream,
        sampler: Any,
        x_test: np.ndarray,
        a_test: np.ndarray,
        start: float,
        base_wall: float,
    ) -> None:
        cfg = self.config
        update = int(self.state["completed_round"]) + 1
        if update == 0:  # round 0 trains on the initial data: label it first
            while not stream.idle:
                stream.step(stream.call_timeout)
        scorer = self._load_scorer() if update > 0 else None
        published = time.perf_counter()
        low_water = cfg.loop.queue_points or 4 * cfg.pool.n_actors * cfg.pool.batch_size
        training: TrainingCall | None = None
        n_train = calls_at_start = 0
        trainer_busy = 0.0
        # a resumed run whose budget is used (or was extended) decides before it trains again
        stopping = update > 0 and self._budget_used(update, self._calls(stream), base_wall)
        next_status = time.perf_counter() + cfg.loop.status_seconds
        age_at_selection = float("nan")
        while True:
            now = time.perf_counter()
            if training is None and not stopping:
                training, n_train = self._train_remote(store)
                calls_at_start = self._calls(stream)
            if training is not None and training.done():
                outcome = training.outcome()
                training = None
                trainer_busy += outcome.seconds
                stats = self._stats(stream, trainer_busy, start, published, age_at_selection)
                status = self._evaluate_round(
                    store, update, outcome, n_train, x_test, a_test, stream.report(), start, base_wall, loop_stats=stats
                )
                self.statuses.append(status)
                if self.callback is not None:
                    self.callback(status)
                scorer, published = self._load_scorer(), time.perf_counter()
                update += 1
                wall = base_wall + time.perf_counter() - start
                stopping = stopping or self._budget_used(update, calls_at_start, wall)
            if stopping and training is None:
                break
            last_update = bool(cfg.budget.max_rounds) and update >= cfg.budget.max_rounds  # its labels would not train
            if not stopping and not last_update and stream.pending_points < low_water:
                age = time.perf_counter() - published
                if (scorer is None or age <= cfg.loop.max_surrogate_age) and not self._calls_budget_used(stream):
                    age_at_selection = age if scorer is not None else float("nan")
                    self._select_next(store, update, sampler, scorer, stream)
            if not stream.idle:
                stream.step(_STEP_WAIT_S)
            elif training is not None:
                training.done(timeout=_STEP_WAIT_S)
            if now >= next_status:
                next_status = now + cfg.loop.status_seconds
                self._status_line(update, stream, trainer_busy, start, published, training is not None)
        while not stream.idle:  # selected points are committed: label them before stopping
            stream.step(stream.call_timeout)

    def _budget_used(self, update: int, calls_trained: int, wall: float) -> bool:
        """Whether the rounds, wall-time, oracle-call or precision budget stops the run after ``update − 1``.

        The oracle-call budget stops the run once a training has seen all of it (``calls_trained``: the points
        labelled when the finished training started), so the last labels are not wasted.
        """
        budget = self.config.budget
        last = self.state.get("last_precision")
        reasons = []
        if budget.max_rounds and update > budget.max_rounds:
            reasons.append(f"{budget.max_rounds} updates done")
        if budget.max_oracle_calls and calls_trained >= budget.max_oracle_calls:
            reasons.append(f"oracle-call budget {budget.max_oracle_calls} used")
        if budget.max_wall_seconds and wall >= budget.max_wall_seconds:
            reasons.append(f"wall-time budget {budget.max_wall_seconds:g} s used")
        if budget.target_precision and last is not None and last <= budget.target_precision:
            reasons.append(f"target precision {budget.target_precision:g} reached ({last:.4g})")
        if reasons:
            logger.info("async loop: stopping after update %d: %s", update - 1, "; ".join(reasons))
        return bool(reasons)

    def _calls(self, stream: LabelStream) -> int:
        """Training and validation points labelled so far (those before the stream, plus the stream's)."""
        return self._calls_before + stream.counts["points"]

    def _calls_budget_used(self, stream: LabelStream) -> bool:
        cap = self.config.budget.max_oracle_calls
        return bool(cap) and self._calls(stream) + stream.pending_points >= cap

    def _select_next(self, store: ShardStore, update: int, sampler: Any, scorer: Any, stream: LabelStream) -> bool:
        """Select the next chunk with ``scorer``, commit it, queue it; False when the budget leaves nothing.

        Selections made while update ``u`` trains are stored as round ``u`` (batches 1, 2, ...) and trained on
        from update ``u + 1``.
        """
        k = self.config.acquisition.batch_size
        cap = self.config.budget.max_oracle_calls
        if cap:
            k = min(k, cap - self._calls(stream) - stream.pending_points)
        if k <= 0:
            return False
        if update not in self._selection_counts:  # a resume continues the numbering the store holds
            self._selection_counts = {update: self._selections(store, update)}
        selection = self._selection_counts[update]
        self._selection_counts[update] += 1
        if scorer is None:  # update 0 trains: no surrogate yet, so the oracles label uniform points meanwhile
            points = self._select_uniform(store, update, sampler, selection, k)
        else:
            exact = scorer.closed_form  # exact moments cost one pass: no weight draws for the default surrogate

            def predict(x: np.ndarray, n_samples: int | None) -> Prediction:
                return scorer.predict(x, None if exact else n_samples)

            points = self._select(store, update, sampler, predict, selection=selection, k=k)
        if points is not None:
            stream.add(points)
        return points is not None

    def _select_uniform(self, store: ShardStore, update: int, sampler: Any, selection: int, k: int) -> PointSet:
        """``k`` uniform phase-space points committed as selection ``selection`` of ``update``."""
        batch = _first_batch(update) + selection
        rng = work_item_rng(self.config.seed, update, _UNIFORM_STREAM + batch)  # apart from the initial data's
        momenta = sampler.sample(k, rng, only_accepted=True).momenta
        ids = make_point_ids(self.config.seed, update, batch, k)
        store.append_points(ids, momenta, split="train", round=update, batch=batch)
        logger.info("update %d: %d uniform points while the first surrogate trains", update, k)
        return PointSet(
            ids,
            momenta,
            np.full(k, "train", dtype=object),
            np.full(k, update, dtype=np.int64),
            np.full(k, batch, dtype=np.int64),
        )

    @staticmethod
    def _selections(store: ShardStore, update: int) -> int:
        """Selections already committed for ``update`` (its store batches from :func:`_first_batch` on, ``train``)."""
        table = store.read(split="train", columns=["round", "batch"], on_duplicate="ignore")
        rounds = table["round"].to_numpy()
        batches = table["batch"].to_numpy()
        return int(np.unique(batches[(rounds == update) & (batches >= _first_batch(update))]).size)

    def _load_scorer(self) -> Any:
        """The latest checkpoint as a model in the driver (CPU; a committee when there are several trainer
        actors), to score candidates while the trainers train."""
        from activeamp.surrogate.committee import load_model

        return load_model(Path(self.run_dir) / self.state["checkpoint"], device="cpu")

    # ---------------------------------------------------------------------------------------------- status

    def _stats(
        self, stream: LabelStream, trainer_busy: float, start: float, published: float, age: float
    ) -> dict[str, float]:
        report = stream.report()
        wall = max(time.perf_counter() - start, 1e-9)
        return {
            "queue_depth": float(stream.pending_points),
            "oracle_utilisation": report.utilisation,
            "trainer_utilisation": trainer_busy / wall,
            "surrogate_age_s": age,
            "published_age_s": time.perf_counter() - published,
        }

    def _status_line(
        self,
        update: int,
        stream: LabelStream,
        trainer_busy: float,
        start: float,
        published: float,
        training: bool,
    ) -> None:
        stats = self._stats(stream, trainer_busy, start, published, float("nan"))
        logger.info(
            "async: update %d %s; %d oracle calls, queue %d points; oracle utilisation %.2f, trainer %.2f; "
            "surrogate age %.0f s",
            update,
            "training" if training else "evaluating",
            self._calls(stream),
            stream.pending_points,
            stats["oracle_utilisation"],
            stats["trainer_utilisation"],
            stats["published_age_s"],
        )
