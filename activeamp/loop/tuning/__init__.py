"""Ray Tune hyperparameter search for the surrogate: YAML search space, ASHA, checkpoints, best-configuration export.

Modules: :mod:`~activeamp.loop.tuning.space` (the search-space language), :mod:`~activeamp.loop.tuning.config`
(:class:`SearchConfig`), :mod:`~activeamp.loop.tuning.data` (the frozen train/validation arrays),
:mod:`~activeamp.loop.tuning.trainable` (what Tune runs per trial), :mod:`~activeamp.loop.tuning.storage`
(experiment-folder files), :mod:`~activeamp.loop.tuning.results` (ranking and export) and
:mod:`~activeamp.loop.tuning.search` (:func:`run_search`).
"""

from activeamp.loop.tuning.config import (
    METRICS,
    SchedulerConfig,
    SearchConfig,
    TuningError,
    best_surrogate_config,
    experiment_path,
    load_search_config,
)
from activeamp.loop.tuning.data import SearchData, load_search_data
from activeamp.loop.tuning.results import (
    BEST_MODEL,
    BEST_RUN,
    TRIALS_CSV,
    TRIALS_TABLE,
    SearchOutcome,
    TrialRow,
    format_trial_table,
)
from activeamp.loop.tuning.search import ENTRY_ENVIRONMENT, SAVED_CONFIG, run_search
from activeamp.loop.tuning.space import DEFAULT_SPACE, DISTRIBUTIONS, Dimension, SearchSpace
from activeamp.loop.tuning.trainable import train_trial, trial_dirname, validation_metrics

__all__ = [
    "BEST_MODEL",
    "BEST_RUN",
    "DEFAULT_SPACE",
    "DISTRIBUTIONS",
    "ENTRY_ENVIRONMENT",
    "METRICS",
    "SAVED_CONFIG",
    "TRIALS_CSV",
    "TRIALS_TABLE",
    "Dimension",
    "SchedulerConfig",
    "SearchConfig",
    "SearchData",
    "SearchOutcome",
    "SearchSpace",
    "TrialRow",
    "TuningError",
    "best_surrogate_config",
    "experiment_path",
    "format_trial_table",
    "load_search_config",
    "load_search_data",
    "run_search",
    "train_trial",
    "trial_dirname",
    "validation_metrics",
]
