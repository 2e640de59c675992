"""The active-learning loop: sample candidates, score them by σ_tot, label the least certain, retrain, evaluate.

Data flow of one round::

    phase-space sampler → candidate pool → surrogate scores σ_tot → oracle pool (Ray actors)
        → shard store (Arrow) → trainer (Ray actor) → surrogate → metrics, plots, report

Everything a round decides is committed before it acts on it: the selected points are appended to
the store before they are sent to the oracles, labels are committed batch by batch, the surrogate
checkpoint is written before ``state.json`` says the round is complete. A run killed at any moment
continues with :meth:`ActiveLearner.resume` without losing or repeating a labelled point.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ray
import yaml
from tqdm.auto import tqdm

from activeamp.atomic import write_atomic
from activeamp.config import ConfigError, to_dict
from activeamp.data.dataset import sample_into_store, work_item_rng
from activeamp.data.store import PointSet, ShardStore, make_point_ids
from activeamp.loop.acquisition import score, select, standardise
from activeamp.loop.cluster import connect
from activeamp.loop.committee import TrainerCommittee, TrainingCall
from activeamp.loop.pool import OraclePool, PoolReport
from activeamp.loop.settings import ActiveConfig, Budget, resume_config
from activeamp.loop.trainer import TrainOutcome
from activeamp.surrogate.metrics import Metrics, evaluate_prediction, write_metrics_json
from activeamp.surrogate.prediction import Prediction

__all__ = ["ActiveConfig", "ActiveLearner", "Budget", "RoundStatus"]

logger = logging.getLogger(__name__)

#: Batch numbers of round 0 (initial data) and of each later round.
_INITIAL_BATCHES = {"train": 0, "validation": 1, "test": 2}
_PROGRESS_EVERY_S = 10.0  # seconds between the training progress lines of a round
_CANDIDATE_BATCH, _SELECTED_BATCH, _SELECTION_RNG = 0, 1, 2

#: ``predict(momenta (N, n, 4), n_samples) -> Prediction``: what scores candidates.
Predictor = Callable[[np.ndarray, int | None], Prediction]


@dataclass(frozen=True)
class RoundStatus:
    """What a round achieved, passed to the per-round callback.

    Attributes
    ----------
    round : int
        0 for the initial training, then 1, 2, ...
    oracle_calls : int
        Training and validation points labelled so far (test set excluded).
    n_train : int
        Usable (ok) training points.
    precision : float
        Test-set 68% half-width of Δ (vector oracles: of the floored relative deviation, worst output).
    precision_top1 : float
        The same for the top 1% of test points by amplitude (vector oracles: by |output|, worst output).
    accuracy_top1 : float
        68% quantile of |Δ| for the top 1% (counts a bias, which the half-width does not).
    metrics : Metrics
        All test-set metrics (per output for a vector-valued oracle).
    wall_seconds : float
        Run wall time so far (summed over resumes).
    train : TrainOutcome
        The round's training.
    pool : PoolReport or None
        The round's labelling (None if nothing was labelled; the asynchronous loop: all labelling so far).
    loop : dict or None
        Asynchronous loop only: ``queue_depth`` (points selected, not yet labelled), ``oracle_utilisation`` and
        ``trainer_utilisation`` (busy seconds over wall time so far) and ``surrogate_age_s`` (age of the
        surrogate that scored the latest selection).
    """

    round: int
    oracle_calls: int
    n_train: int
    precision: float
    precision_top1: float
    accuracy_top1: float
    metrics: Metrics
    wall_seconds: float
    train: TrainOutcome
    pool: PoolReport | None
    loop: dict[str, float] | None = None

    @property
    def median_top1(self) -> float:
        """Median Δ of the top 1 % (its bias; vector oracles: of the output with the largest |Δ| quantile)."""
        worst = max(self.metrics.records, key=lambda m: m.delta_top1.abs_68)
        return worst.delta_top1.median

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (metrics in full)."""
        return {
            "round": self.round,
            "oracle_calls": self.oracle_calls,
            "n_train": self.n_train,
            "precision": self.precision,
            "precision_top1": self.precision_top1,
            "accuracy_top1": self.accuracy_top1,
            "median_top1": self.median_top1,
            "event_weighted": None
            if self.metrics.outputs is not None or self.metrics.event_weighted is None
            else self.metrics.event_weighted.to_dict(),
            "wall_seconds": self.wall_seconds,
            "train": {k: v for k, v in self.train.__dict__.items() if k != "boosting"},
            "pool": None
            if self.pool is None
            else {**self.pool.__dict__, "points_per_second": self.pool.points_per_second},
            "loop": self.loop,
            "metrics": self.metrics.to_dict(),
        }


class ActiveLearner:
    """An active-learning run in a run folder, on the connected (or a new local) Ray cluster.

    Parameters
    ----------
    config : ActiveConfig
        The run's configuration (written to ``run_dir/config.yaml``).
    run_dir : path-like
        Run folder: ``store/`` (Arrow shards), ``checkpoints/``, ``metrics/round-XXXX.json``,
        ``rounds.jsonl``, ``state.json``, ``plots/``, ``summary.txt``.
    callback : callable, optional
        Called with a :class:`RoundStatus` after every round.
    progress : bool
        Progress bars for labelling and training.

    Examples
    --------
    >>> learner = ActiveLearner(ActiveConfig(), "runs/demo", callback=lambda s: print(s.round, s.precision))
    >>> statuses = learner.run()                                                # doctest: +SKIP
    """

    def __init__(
        self,
        config: ActiveConfig,
        run_dir: str | Path,
        *,
        callback: Callable[[RoundStatus], None] | None = None,
        progress: bool = True,
    ) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.callback = callback
        self.progress = progress
        self.statuses: list[RoundStatus] = []
        self.state: dict[str, Any] = {"completed_round": -1, "wall_seconds": 0.0}
        self._pool: OraclePool | None = None
        self._trainer: TrainerCommittee | None = None
        self._started_ray = False

    # ------------------------------------------------------------------------------------------ set-up

    @classmethod
    def resume(
        cls,
        run_dir: str | Path,
        *,
        callback: Callable[[RoundStatus], None] | None = None,
        progress: bool = True,
        overrides: list[str] | None = None,
    ) -> ActiveLearner:
        """Continue the run in ``run_dir`` from its store, last checkpoint and ``state.json``.

        ``overrides`` may change the budget (e.g. ``budget.max_rounds=10``) to extend a finished run.
        """
        run_dir = Path(run_dir)
        config = resume_config(run_dir, overrides)
        learner = cls(config, run_dir, callback=callback, progress=progress)
        state_path = run_dir / "state.json"
        if state_path.exists():
            learner.state = json.loads(state_path.read_text())
        return learner

    def _prepare_folder(self) -> None:
        """Write ``config.yaml`` atomically; a resume that changed it keeps the previous one as
        ``config.previous.yaml``."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(to_dict(self.config), sort_keys=False).encode()
        path = self.run_dir / "config.yaml"
        if path.exists():
            old = path.read_bytes()
            if old == text:
                return
            write_atomic(self.run_dir / "config.previous.yaml", old)
        write_atomic(path, text)

    def _start(self) -> ShardStore:
        self._prepare_folder()
        # A local instance gets enough logical CPUs for all actors: oracles and trainer take turns.
        cfg = self.config
        needed = cfg.pool.n_actors * cfg.pool.num_cpus + cfg.trainer.n_actors * cfg.trainer.num_cpus
        self._started_ray = connect(cfg.address, num_cpus=max(os.cpu_count() or 1, int(np.ceil(needed))))
        self._pool = OraclePool(self.config.oracle, self.config.phasespace.process, self.config.pool)
        outputs = self._pool.outputs
        if outputs is not None and cfg.surrogate.target_transform != "signed":
            raise ConfigError(
                f"surrogate.target_transform: oracle {cfg.oracle.name!r} returns {len(outputs)} signed outputs "
                f"({', '.join(outputs[:3])}{', ...' if len(outputs) > 3 else ''}); "
                "set surrogate.target_transform=signed"
            )
        store = ShardStore.create(
            self.run_dir / "store",
            cfg.phasespace.process,
            outputs=outputs,
            exist_ok=True,
            metadata={"run": to_dict(cfg)},
        )
        surrogate = self.config.surrogate.with_process(self.config.phasespace.process)
        self._trainer = TrainerCommittee.start(surrogate, self.config.boosting, self.config.trainer)
        completed = int(self.state["completed_round"])
        if completed >= 0:
            blob = (self.run_dir / self.state["checkpoint"]).read_bytes()
            multiplicity = json.loads((self.run_dir / self.state["multiplicity"]).read_text())
            self._trainer.load(blob, multiplicity)
            logger.info("resumed after round %d from %s", completed, self.state["checkpoint"])
        return store

    def close(self) -> None:
        """Stop the actors (and the local Ray instance if this run started it)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._trainer is not None:
            self._trainer.kill()
            self._trainer = None
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False

    # ----------------------------------------------------------------------------------------- the loop

    def run(self) -> list[RoundStatus]:
        """Run (or continue) the loop until the budget is used; write the final report."""
        start = time.perf_counter()
        base_wall = float(self.state.get("wall_seconds", 0.0))
        try:
            store = self._start()
            sampler = self.config.phasespace.build_sampler(None, None)
            x_test, a_test = self._initial_data(store, sampler)
            round_ = int(self.state["completed_round"]) + 1
            while True:
                wall = base_wall + time.perf_counter() - start
                if round_ > 0 and self._should_stop(round_, store, wall):
                    break
                pool_report = self._label_round(store, round_, sampler)
                status = self._train_and_evaluate(store, round_, x_test, a_test, pool_report, wall, start, base_wall)
                self.statuses.append(status)
                if self.callback is not None:
                    self.callback(status)
                round_ += 1
            self._final_report(store, x_test, a_test)
        finally:
            self.close()
        return self.statuses

    def _initial_data(self, store: ShardStore, sampler: Any) -> tuple[np.ndarray, np.ndarray]:
        """Round 0 data: initial training, validation and frozen test points (idempotent)."""
        cfg = self.config
        for split, n in (("train", cfg.n_initial), ("validation", cfg.n_validation), ("test", cfg.n_test)):
            if n:
                sample_into_store(store, sampler, n, seed=cfg.seed, split=split, round=0, batch=_INITIAL_BATCHES[split])
        assert self._pool is not None
        self._pool.label(store, split="test", progress=self.progress)
        test = store.arrays("test")
        if len(test) == 0:
            raise RuntimeError(f"{store.path}: no usable test point (all failed); check the oracle")
        return test.momenta, test.targets

    def _oracle_calls(self, store: ShardStore) -> int:
        summary = store.summary()
        return sum(summary.count(split, status) for split in ("train", "validation") for status in ("ok", "failed"))

    def _should_stop(self, round_: int, store: ShardStore, wall: float) -> bool:
        budget = self.config.budget
        last = self.state.get("last_precision")
        reasons = []
        if budget.max_rounds and round_ > budget.max_rounds:
            reasons.append(f"{budget.max_rounds} rounds done")
        if budget.max_oracle_calls and self._oracle_calls(store) >= budget.max_oracle_calls:
            reasons.append(f"oracle-call budget {budget.max_oracle_calls} used")
        if budget.max_wall_seconds and wall >= budget.max_wall_seconds:
            reasons.append(f"wall-time budget {budget.max_wall_seconds:g} s used")
        if budget.target_precision and last is not None and last <= budget.target_precision:
            reasons.append(f"target precision {budget.target_precision:g} reached ({last:.4g})")
        if reasons and not self._round_selected(store, round_):
            logger.info("stopping before round %d: %s", round_, "; ".join(reasons))
            return True
        return False

    @staticmethod
    def _round_selected(store: ShardStore, round_: int) -> bool:
        table = store.read(split="train", columns=["round"], on_duplicate="ignore")
        return bool(table.num_rows) and bool((table["round"].to_numpy() == round_).any())

    def _label_round(self, store: ShardStore, round_: int, sampler: Any) -> PoolReport | None:
        """Select the round's points (unless already committed) and label everything unlabelled."""
        if round_ > 0 and not self._round_selected(store, round_):
            self._select(store, round_, sampler)
        assert self._pool is not None
        todo = store.unlabelled(["train", "validation"])
        if len(todo) == 0:
            return None
        return self._pool.label(store, todo, progress=self.progress)

    def _batch_size(self, store: ShardStore) -> int:
        k = self.config.acquisition.batch_size
        cap = self.config.budget.max_oracle_calls
        return k if not cap else max(0, min(k, cap - self._oracle_calls(store)))

    def _trainer_predict(self, x: np.ndarray, n_samples: int | None) -> Prediction:
        """The trainers' prediction (the scorer of the rounds mode)."""
        assert self._trainer is not None
        return self._trainer.predict(x, n_samples)

    def _candidates(
        self, round_: int, sampler: Any, predict: Predictor, stream: int = _CANDIDATE_BATCH
    ) -> tuple[np.ndarray, np.ndarray]:
        """Candidate momenta ``(N, n, 4)`` [GeV] and their phase-space weights ``(N,)`` [GeV^(2n−4)]."""
        acq = self.config.acquisition
        rng = work_item_rng(self.config.seed, round_, stream)
        if acq.sampler == "vegas":
            ps = self.config.phasespace

            def target(momenta: np.ndarray) -> np.ndarray:
                if acq.vegas_target == "mean":  # where events land: the closed form where the model has one
                    return predict(momenta, None).mean
                return predict(momenta, acq.n_weight_samples).sigma_tot

            sampler = dataclasses.replace(ps, sampler="vegas").build_sampler(target, rng)
        sample = sampler.sample(acq.n_candidates, rng, only_accepted=True)
        return sample.momenta, sample.weights

    def _select(
        self,
        store: ShardStore,
        round_: int,
        sampler: Any,
        predict: Predictor | None = None,
        selection: int = 0,
        k: int | None = None,
    ) -> PointSet | None:
        """Score candidates, pick ``k`` (default: the round's batch) and commit them to the store.

        ``predict`` scores (default: the trainer actor); ``selection`` numbers the selections of one round (the
        asynchronous loop makes several): it sets the random streams and the store batch ``1 + selection``.
        Returns the committed (unlabelled) points, or None when the budget leaves nothing to pick.
        """
        acq = self.config.acquisition
        k = self._batch_size(store) if k is None else k
        if k == 0:
            return None
        predict = predict or self._trainer_predict
        candidates, weights = self._candidates(round_, sampler, predict, _CANDIDATE_BATCH + 3 * selection)
        prediction = predict(candidates, acq.n_weight_samples)
        scores = score(prediction, acq.score, acq.mix, acq.reduce, weights)
        rng = work_item_rng(self.config.seed, round_, _SELECTION_RNG + 3 * selection)
        features = standardise(candidates[:, 2:].reshape(len(candidates), -1)) if acq.strategy == "greedy" else None
        picked = select(
            scores,
            k,
            rng,
            strategy=acq.strategy,
            features=features,
            min_distance=acq.min_distance,
            power=acq.power,
            explore=acq.explore,
        )
        batch = _SELECTED_BATCH + selection
        ids = make_point_ids(self.config.seed, round_, batch, k)
        store.append_points(ids, candidates[picked], split="train", round=round_, batch=batch)
        logger.info(
            "round %d: picked %d of %d candidates (%s, %s, %.0f%% uniform); mean score %.3g vs %.3g over the pool",
            round_,
            k,
            len(candidates),
            acq.score,
            acq.strategy,
            100 * (1.0 if acq.strategy == "random" else acq.explore),
            float(scores[picked].mean()),
            float(scores.mean()),
        )
        labels = np.full(k, "train", dtype=object)
        return PointSet(ids, candidates[picked], labels, np.full(k, round_, dtype=np.int64), np.full(k, batch))

    def _train_and_evaluate(
        self,
        store: ShardStore,
        round_: int,
        x_test: np.ndarray,
        a_test: np.ndarray,
        pool_report: PoolReport | None,
        wall: float,
        start: float,
        base_wall: float,
    ) -> RoundStatus:
        call, n_train = self._train_remote(store)
        outcome = self._await_training(call)
        return self._evaluate_round(store, round_, outcome, n_train, x_test, a_test, pool_report, start, base_wall)

    def _train_remote(self, store: ShardStore) -> tuple[TrainingCall, int]:
        """Start training on the store's labelled train and validation points; the running call and N_train."""
        train = store.arrays("train")
        val = store.arrays("validation")
        has_val = len(val) > 0
        assert self._trainer is not None
        call = self._trainer.train(
            train.ids,
            train.momenta,
            train.targets,
            val.momenta if has_val else None,
            val.targets if has_val else None,
        )
        return call, len(train)

    def _evaluate_round(
        self,
        store: ShardStore,
        round_: int,
        outcome: TrainOutcome,
        n_train: int,
        x_test: np.ndarray,
        a_test: np.ndarray,
        pool_report: PoolReport | None,
        start: float,
        base_wall: float,
        loop_stats: dict[str, float] | None = None,
    ) -> RoundStatus:
        """Evaluate the trained surrogate on the test set, commit the round, log its line."""
        assert self._trainer is not None
        prediction = self._trainer.predict(x_test)
        metrics = self._evaluate(store, prediction, a_test)
        top1_width, top1_accuracy = metrics.top1
        oracle_calls = self._oracle_calls(store)
        wall = base_wall + time.perf_counter() - start
        status = RoundStatus(
            round=round_,
            oracle_calls=oracle_calls,
            n_train=n_train,
            precision=metrics.precision,
            precision_top1=top1_width,
            accuracy_top1=top1_accuracy,
            metrics=metrics,
            wall_seconds=wall,
            train=outcome,
            pool=pool_report,
            loop=loop_stats,
        )
        self._commit_round(status)
        weighted = metrics.event_weighted if metrics.outputs is None else None
        logger.info(
            "round %d: %d oracle calls, %d training points, test %s 68%% half-width %.4g "
            "(top 1%%: 68%% quantile of |Δ| %.4g, median %+.2g)%s, %.1f s of training, %.1f s so far",
            round_,
            oracle_calls,
            n_train,
            "Δ" if store.outputs is None else f"residual (worst of {len(store.outputs)} outputs)",
            status.precision,
            status.accuracy_top1,
            status.median_top1,
            ""
            if weighted is None
            else (
                f"; weighted by A: Δ 68% half-width {weighted.half_width_68:.4g}, "
                f"cross section {weighted.cross_section_error:+.2g}"
            ),
            outcome.seconds,
            wall,
        )
        return status

    def _await_training(self, call: TrainingCall) -> TrainOutcome:
        """Wait for a training call, showing the trainer's progress line every ``_PROGRESS_EVERY_S`` seconds."""
        assert self._trainer is not None
        shown = None
        while True:
            if call.done(timeout=_PROGRESS_EVERY_S):
                return call.outcome()
            line = self._trainer.progress()
            if line is None or line == shown:  # nothing yet, or the stage is over (σ_model fit, boosting)
                continue
            shown = line
            if self.progress:
                tqdm.write(f"training: {line}")
            else:
                logger.info("training: %s", line)

    @staticmethod
    def _evaluate(store: ShardStore, prediction: Prediction, truth: np.ndarray) -> Metrics:
        """Test-set metrics: Δ of |M|², or per-output floored relative deviations for a vector store."""
        return evaluate_prediction(prediction, truth, store.outputs)

    def _commit_round(self, status: RoundStatus) -> None:
        """Checkpoint, metrics, then ``state.json`` (the commit point of the round)."""
        r = status.round
        assert self._trainer is not None
        blob, multiplicity = self._trainer.checkpoint()
        checkpoint = Path("checkpoints") / f"round-{r:04d}.pt"
        mult_path = Path("checkpoints") / f"round-{r:04d}-multiplicity.json"
        write_atomic(self.run_dir / checkpoint, blob)
        write_atomic(self.run_dir / mult_path, json.dumps(multiplicity).encode())
        write_metrics_json(
            self.run_dir / "metrics" / f"round-{r:04d}.json",
            {"test": status.metrics},
            extra={"round": r, "oracle_calls": status.oracle_calls, "n_train": status.n_train},
        )
        with open(self.run_dir / "rounds.jsonl", "a") as fh:
            fh.write(json.dumps(status.to_dict(), default=float) + "\n")
        weighted = status.metrics.event_weighted if status.metrics.outputs is None else None
        point = [
            status.oracle_calls,
            status.precision,
            status.precision_top1,
            status.accuracy_top1,
            status.median_top1,
            math.nan if weighted is None else weighted.half_width_68,
            math.nan if weighted is None else weighted.cross_section_error,
        ]
        curve = list(self.state.get("curve", [])) + [point]
        self.state = {
            "completed_round": r,
            "checkpoint": str(checkpoint),
            "multiplicity": str(mult_path),
            "oracle_calls": status.oracle_calls,
            "last_precision": status.precision,
            "wall_seconds": status.wall_seconds,
            "curve": curve,
            "trainer_actors": len(self._trainer),
        }
        write_atomic(self.run_dir / "state.json", json.dumps(self.state, indent=2).encode())
        # the model of the latest round, where users look for it
        write_atomic(self.run_dir / "model.pt", blob)

    # --------------------------------------------------------------------------------------- reporting

    def _final_report(self, store: ShardStore, x_test: np.ndarray, a_test: np.ndarray) -> None:
        from activeamp.report.plots import amplitude_unit, observables_for, write_report

        # rounds committed before the median (the A-weighted figures) were recorded have 4 (5) entries
        curve = [list(point) + [math.nan] * (7 - len(point)) for point in self.state.get("curve", [])]
        lines = [
            f"activeamp run in {self.run_dir}",
            f"process {store.process.description}, oracle {self.config.oracle.name}, seed {self.config.seed}",
            "test set: Δ = A_NN/A_true − 1 of all points, and of the 1 % largest amplitudes (|Δ| quantile and median)",
            f"{'round':>5} {'oracle calls':>12} {'Δ 68% half-width':>17} {'top-1% |Δ| 68%':>15} "
            f"{'top-1% median Δ':>16} {'A-weighted Δ 68%':>17} {'σ(∫A dΦ) error':>15}",
        ]
        lines += [
            f"{i:>5} {c:>12} {p:>17.4g} {u:>15.4g} {m:>+16.2g} {w:>17.4g} {x:>+15.2g}"
            for i, (c, p, _, u, m, w, x) in enumerate(curve)
        ]
        if store.outputs is not None:
            lines.append(
                f"outputs {', '.join(store.outputs)}: Δ is the floored relative deviation (⟨A⟩_k − A_k)/(|A_k| + m_k), "
                "each figure the worst output's (per-output figures in metrics/)"
            )
        lines.append(f"wall time {self.state.get('wall_seconds', 0.0):.1f} s; model: model.pt; store: store/")
        text = "\n".join(lines) + "\n"
        write_atomic(self.run_dir / "summary.txt", text.encode())
        logger.info("summary:\n%s", text)
        if not self.config.plots or not curve:
            return
        assert self._trainer is not None
        prediction = self._trainer.predict_with_samples(x_test)
        history = self._trainer.history()
        curves = {
            "all test points: 68% half-width of Δ": [(c, p) for c, p, *_ in curve],
            "top 1% by amplitude: 68% quantile of |Δ|": [(c, u) for c, _, _, u, *_ in curve],
        }
        if store.outputs is None:
            curves["weighted by A (where events land): 68% half-width of Δ"] = [(p[0], p[5]) for p in curve]
            curves["cross section on the test set: |ΣA_NN/ΣA − 1|"] = [(p[0], abs(p[6])) for p in curve]
        write_report(
            self.run_dir / "plots",
            prediction,
            a_test,
            observables_for(x_test, store.process),
            history,
            outputs=store.outputs,
            precision_curves=curves,
            amplitude_unit=amplitude_unit(store.process),
        )
