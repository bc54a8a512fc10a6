"""Activation functions, their derivatives and gradient descent (lessons 67, 71-72).

The derivatives come from the Keras backend's automatic differentiation (`tf.GradientTape`,
`jax.grad` or `torch.autograd`) applied to Keras's own activation functions, not from
formulas written here: what the plot shows is what backpropagation uses. Softmax-like
functions map a vector to a vector; they are shown on the two logits (x, 0), whose first
output is a function of x alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Plotted: every activation a layer can have (-P activation=); shown here, so re-exported.
from steps.model.options import ACTIVATIONS as ACTIVATIONS
from steps.model.options import VECTOR
from steps.track.plots import pyplot

# In keras.activations but not plotted: aliases, and those needing more than one input.
NOT_PLOTTED = {
    "silu": "alias of swish",
    "hard_swish": "alias of hard_silu",
    "glu": "splits its input in two halves",
    "threshold": "needs a threshold and a default value",
    # Keras 3.15 (TF backend): sparsemax([0.25, 0]) = [0.5, 0.25], which does not sum to 1
    "sparsemax": "wrong on the TensorFlow backend in Keras 3.15 (outputs do not sum to 1)",
}


def values_and_gradients(name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f(x) and df/dx for Keras's activation `name`, by automatic differentiation."""
    import keras

    function = keras.activations.get(name)
    x = np.asarray(x, dtype=np.float32)

    def f(inputs):  # elementwise; softmax-like ones see the pair (x, 0) and give its first share
        if name in VECTOR:
            pairs = keras.ops.stack([inputs, keras.ops.zeros_like(inputs)], axis=1)
            return function(pairs)[:, 0]
        return function(inputs)

    # Each output depends on its own input only, so the gradient of their sum is df/dx.
    outputs, gradient = GRADIENTS[keras.backend.backend()](f, x)
    return np.asarray(outputs, dtype=np.float32), np.asarray(gradient, dtype=np.float32)


def tf_gradient(f, x: np.ndarray):
    import tensorflow as tf

    inputs = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = f(inputs)
    gradient = tape.gradient(outputs, inputs)
    gradient = tf.zeros_like(inputs) if gradient is None else gradient
    return outputs.numpy(), gradient.numpy()


def jax_gradient(f, x: np.ndarray):
    import jax
    import jax.numpy as jnp

    inputs = jnp.asarray(x)
    return f(inputs), jax.grad(lambda v: jnp.sum(f(v)))(inputs)


def torch_gradient(f, x: np.ndarray):
    import torch

    inputs = torch.tensor(x, requires_grad=True)
    outputs = f(inputs)
    outputs.sum().backward()
    gradient = inputs.grad if inputs.grad is not None else torch.zeros_like(inputs)
    return outputs.detach().cpu().numpy(), gradient.cpu().numpy()


# Automatic differentiation per Keras backend: tf.GradientTape, jax.grad, torch.autograd.
GRADIENTS = {"tensorflow": tf_gradient, "jax": jax_gradient, "torch": torch_gradient}


def activation_table(names: tuple[str, ...], x: np.ndarray) -> pd.DataFrame:
    """Columns x, then f and df/dx per activation (`relu`, `relu_grad`, ...)."""
    columns: dict[str, np.ndarray] = {"x": np.asarray(x, dtype=np.float32)}
    for name in names:
        columns[name], columns[f"{name}_grad"] = values_and_gradients(name, x)
    return pd.DataFrame(columns)


def activation_figure(table: pd.DataFrame, names: tuple[str, ...], columns: int = 6):
    """One panel per activation: the function (solid) and its derivative (dashed)."""
    plt = pyplot()
    rows = -(-len(names) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 2.6 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        ax.plot(table["x"], table[name], label="f(x)")
        ax.plot(table["x"], table[f"{name}_grad"], "--", label="df/dx")
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.axvline(0, color="grey", linewidth=0.5)
        ax.set_title(name + (" of (x, 0)" if name in VECTOR else ""), fontsize=10)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def gradient_descent(f, start: float, learning_rate: float, steps: int) -> pd.DataFrame:
    """Lesson 67's meaning of a gradient: from `start`, step against df/dx (by the backend's
    automatic differentiation) `steps` times. Rows: step, x, f(x), df/dx at x."""
    import keras

    gradient_of = GRADIENTS[keras.backend.backend()]
    x, rows = float(start), []
    for step in range(steps + 1):
        value, slope = gradient_of(f, np.array([x], dtype=np.float32))
        rows.append({"step": step, "x": x, "f": float(value[0]), "gradient": float(slope[0])})
        x -= learning_rate * float(slope[0])
    return pd.DataFrame(rows)


def descent_figure(f, paths: dict[float, pd.DataFrame]):
    """f over the range the paths cover, and each learning rate's steps along it."""
    plt = pyplot()
    low = min(float(p["x"].min()) for p in paths.values()) - 1
    high = max(float(p["x"].max()) for p in paths.values()) + 1
    x = np.linspace(low, high, 200, dtype=np.float32)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].plot(x, f(x), color="grey", label="f(x)")
    for i, (rate, path) in enumerate(paths.items()):
        axes[0].plot(path["x"], path["f"], "o-", color=f"C{i}", markersize=3, label=f"lr {rate:g}")
        axes[1].plot(path["step"], path["x"], "o-", color=f"C{i}", markersize=3)
    axes[0].set(title="gradient descent on f", xlabel="x", ylabel="f(x)")
    axes[0].legend(fontsize=8)
    axes[1].set(title="x after each step", xlabel="step", ylabel="x")
    fig.tight_layout()
    return fig
