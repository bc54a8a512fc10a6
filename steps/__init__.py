"""Reusable steps, in rooms that follow the data flow: load -> npy cache -> prepare -> build
-> fit -> evaluate, with tracking around it.

- `steps.data`: where data sets come from (catalog, sources), the npy cache, checks, the
  split and scaling, time-series windows, tables.
- `steps.model`: the model families (one record each), their layers, the builders, the
  search spaces.
- `steps.train`: fit and its callbacks, resuming after a crash, evaluation, baselines, the
  Optuna search.
- `steps.track`: the MLflow run and its Tracker, model logging, the model registry,
  comparisons, plots, TensorBoard traces, the tracking store.
- Beside them, the steps of one lesson topic (text, vision, transfer, automl, activations,
  devices, saving, scoring), the common lesson flow (`workflow`), and what every room
  shares: errors, file safety (`files`), credentials in URLs (`secrets`), the Keras backend
  (`backends`) and TensorFlow's native logs (`native_logs`).

Each step is a plain function with typed inputs and outputs that knows nothing of the lesson
calling it. What the parameter table takes from the steps (option types, their choices) lives
in light modules, `steps/options.py` and each room's `options.py`, so that reading a command
line loads neither TensorFlow nor MLflow (tests/test_architecture.py walks its imports).
"""
