"""Reusable steps: load -> npy cache -> prepare -> build -> fit -> evaluate, plus tracking.

Each step is a plain function with typed inputs and outputs that knows nothing of the lesson
calling it. What the parameter table takes from the steps (option types, their choices) lives
in light modules, `steps/options.py` and each room's `options.py`, so that reading a command
line loads neither TensorFlow nor MLflow (tests/test_architecture.py walks its imports).
"""
