"""Training: fit and its callbacks, resuming, evaluation, baselines and search."""
