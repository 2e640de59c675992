"""Surrogate: preprocessing, networks, training stages, prediction and metrics (pure torch/numpy)."""
