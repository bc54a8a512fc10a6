"""Which Keras backend runs (TensorFlow, JAX or PyTorch), and the options that speed it up.

Keras reads KERAS_BACKEND once, when it is first imported, so `choose` runs before any step
imports Keras. Steps that need an API only TensorFlow has call `require_tensorflow`: one
clear line instead of a traceback half-way through a run.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from steps.errors import UserError

BACKENDS = ("tensorflow", "jax", "torch")
# Keras dtype policies: the mixed ones compute in 16 bits and keep float32 variables.
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16", "float16", "bfloat16")
JIT_COMPILE = ("auto", "true", "false")  # XLA in model.compile: Keras decides, on, off
# The packages a backend imports, and how to install them.
PACKAGES = {"tensorflow": ("tensorflow",), "jax": ("jax", "jaxlib"), "torch": ("torch",)}
INSTALL = {
    "tensorflow": "pip install tensorflow",
    "jax": "pip install '.[jax]'",
    "torch": "pip install torch",
}


def installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except ImportError:  # a parent package that cannot be imported
        return False


def choose(requested: str = "") -> str:
    """Set KERAS_BACKEND for the Keras import to come: `requested`, else the variable's value,
    else tensorflow. Refuses a backend that is not installed, or one that differs from the
    backend of a Keras already imported in this process."""
    name = requested or os.environ.get("KERAS_BACKEND") or "tensorflow"
    if name not in BACKENDS:
        raise UserError(f"KERAS_BACKEND={name!r} is not a Keras backend: use {', '.join(BACKENDS)}")
    missing = [package for package in PACKAGES[name] if not installed(package)]
    if missing:
        raise UserError(
            f"backend {name} is not installed ({', '.join(missing)} missing): "
            f"run `{INSTALL[name]}`, or choose another with -P backend="
        )
    if "keras" in sys.modules:
        loaded = sys.modules["keras"].backend.backend()
        if loaded != name:
            raise UserError(
                f"Keras is already loaded with the {loaded} backend in this process; "
                f"start a new process for backend {name}"
            )
    os.environ["KERAS_BACKEND"] = name
    return name


def current() -> str:
    import keras

    return keras.backend.backend()


def require_tensorflow(what: str) -> None:
    """Stop with one line when `what` needs TensorFlow and another backend runs."""
    backend = current()
    if backend != "tensorflow":
        raise UserError(
            f"{what} needs TensorFlow, and this run uses the {backend} backend: "
            "rerun with -P backend=tensorflow"
        )


def require_tensorflow_installed(what: str) -> None:
    """Stop with one line when `what` uses TensorFlow as a library (tf.data, tf.io) and it is
    not installed; any backend runs the model then."""
    if not installed("tensorflow"):
        raise UserError(f"{what} needs TensorFlow installed: run `{INSTALL['tensorflow']}`")


def set_precision(policy: str) -> None:
    """A Keras dtype policy for every layer built from now on ('': Keras's floatx, so a run
    after a mixed-precision run in the same process is back to full precision).

    Output layers ask for float32 themselves (`steps.model.build.HEAD_DTYPE`), so softmax and the
    loss stay in full precision under mixed_float16 / mixed_bfloat16."""
    import keras

    keras.mixed_precision.set_global_policy(policy or keras.config.floatx())


def jit_compile_option(value: str) -> bool | str:
    """`-P jit_compile=` as model.compile takes it: "auto", True or False."""
    return {"auto": "auto", "true": True, "false": False}[value]
