"""What the model steps take from the parameters: the build options and the activations and
initializers a layer can have. Imports nothing heavy, so the parameter table
(`pipelines.params`) reads it in milliseconds; `steps.model.layers` and the families build
with it."""

from __future__ import annotations

from dataclasses import dataclass

# keras.activations applied element by element (sigmoid, tanh, relu first: lesson 71's four)
ELEMENTWISE: tuple[str, ...] = (
    "sigmoid",
    "tanh",
    "relu",
    "elu",
    "selu",
    "gelu",
    "softplus",
    "softsign",
    "swish",
    "mish",
    "leaky_relu",
    "relu6",
    "celu",
    "exponential",
    "linear",
    "log_sigmoid",
    "hard_sigmoid",
    "hard_silu",
    "hard_tanh",
    "sparse_plus",
    "sparse_sigmoid",
    "squareplus",
    "tanh_shrink",
    "hard_shrink",
    "soft_shrink",
)
VECTOR: tuple[str, ...] = ("softmax", "log_softmax")  # shown on logits (x, 0)
ACTIVATIONS: tuple[str, ...] = (*ELEMENTWISE[:3], "softmax", *ELEMENTWISE[3:], *VECTOR[1:])
# keras.initializers a layer's kernel can start from (lesson 73: he_* suit ReLU)
INITIALIZERS: tuple[str, ...] = (
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
    "orthogonal",
    "random_normal",
    "random_uniform",
    "truncated_normal",
    "zeros",
    "ones",
)


@dataclass(frozen=True)
class ModelOptions:
    """Build parameters shared by every family (lesson 73's options among them)."""

    units: int
    layers: int  # hidden Dense layers (dnn, cnn), recurrent or Conv1D layers (the others)
    filters: tuple[int, ...]  # one Conv2D block each (cnn)
    pool_last: bool  # MaxPooling2D after the last conv block too
    dropout: float
    batch_norm: bool
    activation: str
    initializer: str
    l1: float
    l2: float
