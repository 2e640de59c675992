"""Results of a search: one row per trial, ranked; the trial table, ``trials.csv``, best run config and model."""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ray import tune

from activeamp.loop.tuning.config import SearchConfig, TuningError, best_surrogate_config, experiment_path
from activeamp.loop.tuning.storage import write_file
from activeamp.loop.tuning.trainable import MODEL_FILE
from activeamp.surrogate.config import SurrogateConfig

__all__ = [
    "BEST_MODEL",
    "BEST_RUN",
    "TRIALS_CSV",
    "TRIALS_TABLE",
    "SearchOutcome",
    "TrialRow",
    "export_results",
    "format_trial_table",
    "trial_statuses",
]

logger = logging.getLogger(__name__)

#: Files written into the experiment folder ``<storage_path>/<name>/``.
BEST_RUN = "best_run.yaml"
BEST_MODEL = "best_model.pt"
TRIALS_CSV = "trials.csv"
TRIALS_TABLE = "trials.txt"


@dataclass(frozen=True)
class TrialRow:
    """One line of the trial summary.

    Attributes
    ----------
    trial_id, status : str
        Tune's trial id; ``complete`` (all epochs), ``converged`` (plateau rule), ``stopped`` (by ASHA),
        ``error`` or ``unfinished`` (an interrupted search).
    family, hidden : str
        Network family and hidden widths (``"64-32-128"``).
    prior_width, lr : float
        σ_p and the learning rate.
    batch_size : int
        Training points per optimiser step.
    epochs : int
        Epochs trained (passes over the training split).
    objective : float
        The search metric (best over all epochs or last, by ``best_scope``); NaN without a report.
    last_val_nll, last_val_delta68, last_val_top1 : float
        The last reported validation metrics.
    path : str
        The trial folder.
    """

    trial_id: str
    status: str
    family: str
    hidden: str
    prior_width: float
    lr: float
    batch_size: int
    epochs: int
    objective: float
    last_val_nll: float
    last_val_delta68: float
    last_val_top1: float
    path: str


@dataclass(frozen=True)
class SearchOutcome:
    """What a search produced (:func:`activeamp.loop.tuning.search.run_search`).

    Attributes
    ----------
    experiment_path : str
        ``<storage_path>/<name>``: Tune's results, TensorBoard events, and the files below.
    complete : bool
        False when the search was interrupted (resume it with ``resume=True``); then only the trial
        table is written.
    rows : tuple of TrialRow
        All trials, best first.
    table : str
        The printable trial table (also in ``trials.txt``).
    best : TrialRow or None
        The best trial (None for an incomplete search).
    best_config : SurrogateConfig or None
        Its surrogate settings (``base`` plus the tuned values), as written to ``best_run.yaml``.
    best_run, best_model, trials_csv : str or None
        Paths (or URIs) of the written files.
    """

    experiment_path: str
    complete: bool
    rows: tuple[TrialRow, ...]
    table: str
    best: TrialRow | None = None
    best_config: SurrogateConfig | None = None
    best_run: str | None = None
    best_model: str | None = None
    trials_csv: str | None = None


def _finite(value: Any) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan


def trial_statuses(path: str) -> dict[str, str]:
    """Tune's status per trial id as saved in the experiment state (empty when it cannot be read).

    The saved state is the one to trust: after an interrupt (Ctrl-C), ``Tuner.fit`` returns with every trial
    marked terminated in memory, while the state it saved just before keeps the unfinished ones pending.
    """
    try:
        trials = tune.ExperimentAnalysis(path).trials
    except Exception as err:  # a missing or unreadable state only costs the status column
        logger.warning("cannot read the experiment state of %s (%s); trial statuses unknown", path, err)
        return {}
    return {t.trial_id: str(t.status) for t in trials}


def _status(tune_status: str, error: bool, converged: bool, epochs: int, limit: int) -> str:
    if error or tune_status == "ERROR":
        return "error"
    if tune_status != "TERMINATED":
        return "unfinished"
    if converged:
        return "converged"
    return "complete" if epochs >= limit else "stopped"


def _rows(results: Any, config: SearchConfig, statuses: Mapping[str, str]) -> list[tuple[TrialRow, Any]]:
    """One row per trial with its Tune ``Result``, best objective first (trials without one last)."""
    rows = []
    for result in results:
        metrics = result.metrics or {}
        trial_id = str(metrics.get("trial_id") or Path(result.path).name.removeprefix("trial_"))
        values = {**config.base.to_dict(), **config.space.surrogate_values(result.config)}
        epochs = int(metrics.get("training_iteration", 0) or 0)
        frame = result.metrics_dataframe
        value = math.nan
        if frame is not None and config.metric in frame and len(frame):
            column = frame[config.metric].astype(float)
            value = _finite(column.min() if config.best_scope == "all" else column.iloc[-1])
        tune_status = statuses.get(trial_id, "PENDING" if statuses else "TERMINATED")
        row = TrialRow(
            trial_id=trial_id,
            status=_status(
                tune_status, result.error is not None, bool(metrics.get("converged")), epochs, config.epochs
            ),
            family=str(values["family"]),
            hidden="-".join(str(h) for h in values["hidden"]),
            prior_width=float(values["prior_width"]),
            lr=float(values["lr"]),
            batch_size=int(values["batch_size"]),
            epochs=epochs,
            objective=value,
            last_val_nll=_finite(metrics.get("val_nll")),
            last_val_delta68=_finite(metrics.get("val_delta68")),
            last_val_top1=_finite(metrics.get("val_top1")),
            path=str(result.path),
        )
        rows.append((row, result))
    rows.sort(key=lambda pair: (math.isnan(pair[0].objective), pair[0].objective, pair[0].trial_id))
    return rows


def format_trial_table(rows: Sequence[TrialRow], metric: str, best_id: str | None = None) -> str:
    """Fixed-width table of the trials, one per line, the best marked with ``*``."""
    head = ["", "trial", "status", "family", "layers", "prior_width", "lr", "batch", metric, "epochs"]
    lines = [
        [
            "*" if r.trial_id == best_id else "",
            r.trial_id,
            r.status,
            r.family,
            r.hidden,
            f"{r.prior_width:.3g}",
            f"{r.lr:.3g}",
            str(r.batch_size),
            "-" if math.isnan(r.objective) else f"{r.objective:.4g}",
            str(r.epochs),
        ]
        for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *lines, strict=True)]
    right = {5, 6, 7, 8, 9}

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([fmt(head), *(fmt(line) for line in lines)])


def _trials_csv(rows: Sequence[TrialRow], metric: str, scope: str) -> bytes:
    """One line per trial: the :class:`TrialRow` fields, then the objective's metric name and scope."""
    buffer = io.StringIO()
    names = [f.name for f in dataclasses.fields(TrialRow)]
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*names, "metric", "scope"])
    for row in rows:
        writer.writerow([*(getattr(row, n) for n in names), metric, scope])
    return buffer.getvalue().encode()


def _best_run_yaml(config: SearchConfig, best: TrialRow, surrogate: SurrogateConfig) -> bytes:
    header = (
        f"# Best surrogate of the Ray Tune search {config.name!r} ({experiment_path(config)}):\n"
        f"# trial {best.trial_id}, {config.metric} = {best.objective:.6g} "
        f"({'its best epoch' if config.best_scope == 'all' else 'its last epoch'}), "
        f"layers {best.hidden}, {best.epochs} epochs trained.\n"
        "# A run config: `activeamp run --config best_run.yaml` or `activeamp train --config best_run.yaml`\n"
        "# (other settings keep their defaults; max_epochs and patience come from the search's base).\n"
    )
    return (header + yaml.safe_dump({"surrogate": surrogate.to_dict()}, sort_keys=False)).encode()


def export_results(results: Any, config: SearchConfig, expected: int) -> SearchOutcome:
    """Rank the trials of Tune's ``ResultGrid`` and write the trial table, ``trials.csv`` and, once the search is
    complete (all ``expected`` trials ended), the best trial's ``best_run.yaml`` and ``best_model.pt``.

    Raises
    ------
    TuningError
        The search is complete but no trial ended without an error and with a finite objective.
    """
    path = experiment_path(config)
    statuses = trial_statuses(path)
    pairs = _rows(results, config, statuses)
    rows = [row for row, _ in pairs]
    if statuses:
        complete = len(statuses) >= expected and all(s in ("TERMINATED", "ERROR") for s in statuses.values())
    else:
        complete = results.num_terminated + results.num_errors >= expected
    best_row: TrialRow | None = None
    best_config = best_run = best_model = None
    if complete:
        # the best trial that ended without an error (one that diverged later is no configuration to run)
        eligible = [(row, result) for row, result in pairs if row.status != "error" and not math.isnan(row.objective)]
        if not eligible:
            table = format_trial_table(rows, config.metric)
            write_file(path, TRIALS_TABLE, (table + "\n").encode())
            raise TuningError(
                f"no trial of {path} finished with a finite {config.metric}; see the trial folders' error.txt\n{table}"
            )
        best_row, best = eligible[0]
        best_config = best_surrogate_config(config, best.config)
        best_run = write_file(path, BEST_RUN, _best_run_yaml(config, best_row, best_config))
        checkpoint = (
            best.get_best_checkpoint(config.metric, "min") if config.best_scope == "all" else None
        ) or best.checkpoint
        if checkpoint is None:
            logger.warning("trial %s left no checkpoint; %s not written", best_row.trial_id, BEST_MODEL)
        else:
            with checkpoint.as_directory() as folder:
                best_model = write_file(path, BEST_MODEL, (Path(folder) / MODEL_FILE).read_bytes())
    table = format_trial_table(rows, config.metric, best_row.trial_id if best_row else None)
    write_file(path, TRIALS_TABLE, (table + "\n").encode())
    trials_csv = write_file(path, TRIALS_CSV, _trials_csv(rows, config.metric, config.best_scope))
    return SearchOutcome(path, complete, tuple(rows), table, best_row, best_config, best_run, best_model, trials_csv)
