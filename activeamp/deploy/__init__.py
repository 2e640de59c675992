"""Using a trained surrogate where events are generated: predictions for files of points (more to come: export,
a hybrid oracle, unweighting)."""
