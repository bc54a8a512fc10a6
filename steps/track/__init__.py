"""Tracking: the MLflow run, model logging, the registry, comparisons, plots and traces."""
