"""Reusable steps: load -> npy cache -> prepare -> build -> fit -> evaluate, plus tracking.

Each step is a plain function with typed inputs and outputs that knows nothing of the lesson
calling it. TensorFlow/Keras are imported inside the functions that need them, so that the
command line stays fast.
"""
