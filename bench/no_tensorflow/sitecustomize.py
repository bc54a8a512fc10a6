"""Put this folder first on PYTHONPATH to run Python as if TensorFlow were not installed.

Used by bench/gpu.sh and bench/gpu.py (BENCH_HIDE_TENSORFLOW=1), and by the JAX tests in
tests/steps/test_backends.py, to prove that the JAX path never imports TensorFlow, as on a GPU
machine that has JAX and no TensorFlow.
`sys.modules["tensorflow"] = None` would not do: Keras takes any "tensorflow" key in
sys.modules as "TensorFlow is loaded" and calls into it.
"""

import sys


class NoTensorFlow:
    """`import tensorflow` (or any submodule) raises ModuleNotFoundError."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoTensorFlow())
