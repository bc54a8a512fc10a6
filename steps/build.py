"""Build step: model builders that take their input shape from the data.

Every builder wraps its layers between the data's own preprocessing (fitted scaling and
the family's reshape, see `steps.prepare`) and the task's head. Before any weight is
allocated, `check_fits_in_memory` refuses a model too large for this machine (lesson 03).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

from steps.errors import UserError
from steps.prepare import Affine, Prepared, Preprocessing

# Weights, their gradients and Adam's two moments: four float32 copies of each parameter.
BYTES_PER_PARAMETER = 4 * 4
MEMORY_SHARE = 0.5  # leave room for data, activations and everything else


# Output layers compute in float32 under a mixed dtype policy (`-P mixed_precision=`), as
# Keras's mixed-precision guide advises: softmax and the loss stay numerically safe.
HEAD_DTYPE = "float32"


@dataclass(frozen=True)
class Head:
    units: int
    activation: str
    loss: str
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class ModelOptions:
    """Build parameters shared by every family (lesson 73's options among them)."""

    units: int = 64
    layers: int = 2  # hidden Dense layers (dnn), recurrent/conv layers (lstm, conv1d)
    filters: tuple[int, ...] = (32, 64)  # one Conv2D block each (cnn)
    pool_last: bool = True  # MaxPooling2D after the last conv block too
    dropout: float = 0.0
    batch_norm: bool = False
    activation: str = "relu"
    initializer: str = "glorot_uniform"
    l1: float = 0.0
    l2: float = 0.0
    cell: str = "lstm"  # the recurrent layer of the lstm family: lstm, simple_rnn or gru


BINARY = Head(1, "sigmoid", "binary_crossentropy", ("accuracy",))


def head_for(prepared: Prepared) -> Head:
    if prepared.task == "regression":  # one unit per target column
        return Head(prepared.data.y_train.shape[-1], "linear", "mse", ("mae",))
    if prepared.data.y_train.ndim == 2 and prepared.data.y_train.shape[1] == 1:
        return BINARY  # two classes given as one 0/1 column: a sigmoid unit (lessons 79-83)
    loss = "categorical_crossentropy" if prepared.one_hot else "sparse_categorical_crossentropy"
    return Head(len(prepared.class_names), "softmax", loss, ("accuracy",))


# ---------------------------------------------------------------- size estimate (no allocation)


def conv_out(size: int, kernel: int = 3) -> int:
    return size - kernel + 1 if size >= kernel else size  # 'valid' when it fits, else 'same'


def estimate_layers(
    family: str, shape: tuple[int, ...], head: Head, opts: ModelOptions
) -> list[tuple[str, int]]:
    """(description, parameter count) of each trainable block, from shapes alone."""
    norm = 4 if opts.batch_norm else 0  # gamma, beta, moving mean, moving variance
    blocks: list[tuple[str, int]] = []
    if family == "cnn":
        height, width, channels = shape
        for i, filters in enumerate(opts.filters):
            blocks.append(
                (
                    f"Conv2D {filters}x3x3 on {channels} channels",
                    9 * channels * filters + filters + norm * filters,
                )
            )
            if min(height, width) >= 3:  # 'valid', as cnn_body; else 'same' keeps the size
                height, width = conv_out(height), conv_out(width)
            channels = filters
            if (i < len(opts.filters) - 1 or opts.pool_last) and min(height, width) >= 2:
                height, width = height // 2, width // 2
        width_in = height * width * channels
    elif family in ("lstm", "conv1d"):
        steps, width_in = shape
        for _ in range(opts.layers):
            if family == "lstm":
                layer, count = cell_name(opts), recurrent_count(opts.cell, width_in, opts.units)
            else:
                count, layer = 3 * width_in * opts.units + opts.units, "CONV1D"
                steps = conv_out(steps)
            blocks.append(
                (f"{layer} {opts.units} on {width_in} features", count + norm * opts.units)
            )
            width_in = opts.units
        if family == "conv1d":
            width_in *= steps
    else:
        width_in = math.prod(shape)
    dense_layers = opts.layers if family in ("dnn", "cnn") else 0
    for _ in range(dense_layers):
        blocks.append(
            (
                f"Dense {opts.units} on {width_in} inputs",
                width_in * opts.units + opts.units + norm * opts.units,
            )
        )
        width_in = opts.units
    blocks.append((f"Dense {head.units} output", width_in * head.units + head.units))
    return blocks


# Keras 3's recurrent cells: gates per cell, and GRU's reset_after=True keeps two biases a gate.
RECURRENT_CELLS = {"lstm": ("LSTM", 4, 1), "simple_rnn": ("SimpleRNN", 1, 1), "gru": ("GRU", 3, 2)}


def cell_name(opts: ModelOptions) -> str:
    if opts.cell not in RECURRENT_CELLS:
        raise UserError(
            f"unknown recurrent cell {opts.cell!r}; choose one of {', '.join(RECURRENT_CELLS)}"
        )
    return RECURRENT_CELLS[opts.cell][0]


def recurrent_count(cell: str, width_in: int, units: int) -> int:
    """Kernel, recurrent kernel and bias(es) of each gate."""
    _, gates, biases = RECURRENT_CELLS[cell]
    return gates * (units * (width_in + units) + biases * units)


def available_memory() -> int:
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_fits_in_memory(blocks: list[tuple[str, int]], available: int | None = None) -> int:
    """Total parameters, or a UserError naming the largest block and what would fit."""
    total = sum(count for _, count in blocks)
    available = available_memory() if available is None else available
    needed = total * BYTES_PER_PARAMETER
    if needed > available * MEMORY_SHARE:
        largest, count = max(blocks, key=lambda block: block[1])
        raise UserError(
            f"model too large: {total:,} parameters need {needed / 2**30:.1f} GiB for weights, "
            f"gradients and optimizer state, over half of the {available / 2**30:.1f} GiB "
            f"available (largest: {largest}, {count:,} parameters); use fewer units or layers"
        )
    return total


# ---------------------------------------------------------------- layers


def scaling_layer(scaling: Affine, name: str = "scaler", dtype: str | None = None):
    import keras
    import numpy as np

    if np.ndim(scaling.offset) == 0:
        return keras.layers.Rescaling(
            1 / float(scaling.scale), -float(scaling.offset / scaling.scale), dtype=dtype
        )
    axes = tuple(range(1, np.ndim(scaling.offset) + 1))
    return keras.layers.Normalization(
        axis=axes, mean=scaling.offset, variance=np.square(scaling.scale), name=name, dtype=dtype
    )


def regularized(opts: ModelOptions) -> dict:
    import keras

    penalty = None
    if opts.l1 > 0 or opts.l2 > 0:
        penalty = keras.regularizers.L1L2(l1=opts.l1, l2=opts.l2)
    return {"kernel_initializer": opts.initializer, "kernel_regularizer": penalty}


def after(x, opts: ModelOptions):
    """The per-layer extras of lesson 73 and 42: BatchNormalization, activation, Dropout."""
    import keras

    if opts.batch_norm:
        x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Activation(opts.activation)(x)
    if opts.dropout > 0:
        x = keras.layers.Dropout(opts.dropout)(x)
    return x


def dense_stack(x, opts: ModelOptions, count: int):
    import keras

    for _ in range(count):
        x = after(keras.layers.Dense(opts.units, **regularized(opts))(x), opts)
    return x


def dnn_body(x, opts: ModelOptions):
    return dense_stack(x, opts, opts.layers)


def head_layer(head: Head, name: str | None = "head"):
    """The output Dense layer: float32 even under a mixed dtype policy (HEAD_DTYPE)."""
    import keras

    return keras.layers.Dense(head.units, activation=head.activation, name=name, dtype=HEAD_DTYPE)


def conv_block(x, filters: int, opts: ModelOptions):
    """Conv2D with its activation fused in, or Conv2D -> BatchNormalization -> activation."""
    import keras

    padding = "valid" if min(x.shape[1], x.shape[2]) >= 3 else "same"
    if not opts.batch_norm:
        return keras.layers.Conv2D(
            filters, 3, padding=padding, activation=opts.activation, **regularized(opts)
        )(x)
    x = keras.layers.Conv2D(filters, 3, padding=padding, **regularized(opts))(x)
    return keras.layers.Activation(opts.activation)(keras.layers.BatchNormalization()(x))


def cnn_body(x, opts: ModelOptions):
    """keras-io's mnist_convnet layout: Dropout before the head and after each Dense layer,
    not on the feature maps (dropping their pixels cost 1.6x the fit time in `make bench`)."""
    import keras

    for i, filters in enumerate(opts.filters):
        x = conv_block(x, filters, opts)
        if (i < len(opts.filters) - 1 or opts.pool_last) and min(x.shape[1], x.shape[2]) >= 2:
            x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    if opts.dropout > 0 and opts.layers == 0:  # else each Dense layer's own Dropout follows it
        x = keras.layers.Dropout(opts.dropout)(x)
    return dense_stack(x, opts, opts.layers)


def recurrent_layers(opts: ModelOptions) -> list:
    """Lessons 17-22: `opts.layers` LSTM, SimpleRNN or GRU layers; every one but the last
    returns its whole sequence (return_sequences keeps the time axis), so they stack."""
    import keras

    layer = getattr(keras.layers, cell_name(opts))
    layers = []
    for i in range(opts.layers):
        last = i == opts.layers - 1
        layers.append(layer(opts.units, return_sequences=not last, **regularized(opts)))
        if opts.batch_norm:
            layers.append(keras.layers.BatchNormalization())
        if opts.dropout > 0:
            layers.append(keras.layers.Dropout(opts.dropout))
    return layers


def lstm_body(x, opts: ModelOptions):
    for layer in recurrent_layers(opts):
        x = layer(x)
    return x


def conv1d_body(x, opts: ModelOptions):
    import keras

    for _ in range(opts.layers):
        padding = "valid" if x.shape[1] >= 3 else "same"
        x = after(keras.layers.Conv1D(opts.units, 3, padding=padding, **regularized(opts))(x), opts)
    return keras.layers.Flatten()(x)


BODIES: dict[str, Callable] = {
    "dnn": dnn_body,
    "cnn": cnn_body,
    "lstm": lstm_body,
    "conv1d": conv1d_body,
}


def build(family: str, prepared: Prepared, opts: ModelOptions, name: str = ""):
    """Raw sample -> scaling -> family reshape -> body -> head -> target units."""
    import keras

    pre: Preprocessing = prepared.preprocessing
    head = head_for(prepared)
    if family in ("lstm", "conv1d") and opts.layers < 1:
        raise UserError(f"model={family} needs at least one {family} layer: -P layers=1 or more")
    check_fits_in_memory(estimate_layers(family, pre.family_shape, head, opts))
    inputs = keras.Input(pre.sample_shape, name="sample")
    x = inputs if pre.x_scaling.is_identity else scaling_layer(pre.x_scaling)(inputs)
    if pre.family_shape != pre.sample_shape:
        x = keras.layers.Reshape(pre.family_shape)(x)
    x = BODIES[family](x, opts)
    outputs = head_layer(head)(x)
    if not pre.y_scaling.is_identity:
        outputs = target_units_layer(pre.y_scaling)(outputs)
    return keras.Model(inputs, outputs, name=name or family)


def target_units_layer(y_scaling: Affine):
    """The head learns a standardized target; this layer turns it back into the target's units."""
    return scaling_layer(
        Affine(-y_scaling.offset / y_scaling.scale, 1 / y_scaling.scale),
        name="target_units",
        dtype=HEAD_DTYPE,
    )


# ---------------------------------------------------------------- recurrent: Sequential, ensembles


def build_sequential(prepared: Prepared, opts: ModelOptions, name: str = ""):
    """Lesson 20's other API: `build("lstm", ...)`'s layers, in the same order, as a
    keras.Sequential (so the same parameters, and the same predictions from the same weights)."""
    import keras

    pre = prepared.preprocessing
    head = head_for(prepared)
    check_fits_in_memory(estimate_layers("lstm", pre.family_shape, head, opts))
    layers = [keras.Input(pre.sample_shape, name="sample")]
    if not pre.x_scaling.is_identity:
        layers.append(scaling_layer(pre.x_scaling))
    if pre.family_shape != pre.sample_shape:
        layers.append(keras.layers.Reshape(pre.family_shape))
    layers += recurrent_layers(opts)
    layers.append(head_layer(head))
    if not pre.y_scaling.is_identity:
        layers.append(target_units_layer(pre.y_scaling))
    return keras.Sequential(layers, name=name or "sequential")


def columns_of(scaling: Affine, columns: slice) -> Affine:
    """The scaling of some feature columns of (time step, feature) samples."""
    import numpy as np

    if np.ndim(scaling.offset) == 0:
        return scaling
    return Affine(scaling.offset[..., columns], scaling.scale[..., columns])


def build_branches(prepared: Prepared, branches: dict[str, slice], opts: ModelOptions, name=""):
    """Lessons 23-24: one named input per group of feature columns of (time step, feature)
    samples, each through its own recurrent stack, merged with Concatenate into one head."""
    import keras

    pre = prepared.preprocessing
    head = head_for(prepared)
    steps, width = pre.sample_shape
    if opts.layers < 1:
        raise UserError("an ensemble needs at least one recurrent layer per input: use layers=1")
    shapes = {name: (steps, len(range(width)[columns])) for name, columns in branches.items()}
    blocks = [
        (f"{name}: {block}", count)
        for name, shape in shapes.items()
        for block, count in estimate_layers("lstm", shape, head, opts)[:-1]
    ]
    merged_width = opts.units * len(branches)
    blocks.append((f"Dense {head.units} output", merged_width * head.units + head.units))
    check_fits_in_memory(blocks)
    inputs, merged = {}, []
    for input_name, columns in branches.items():
        x = inputs[input_name] = keras.Input(shapes[input_name], name=input_name)
        if not pre.x_scaling.is_identity:
            x = scaling_layer(columns_of(pre.x_scaling, columns), f"{input_name}_scaler")(x)
        merged.append(lstm_body(x, opts))
    x = keras.layers.Concatenate()(merged) if len(merged) > 1 else merged[0]
    outputs = head_layer(head)(x)
    if not pre.y_scaling.is_identity:
        outputs = target_units_layer(pre.y_scaling)(outputs)
    return keras.Model(inputs, outputs, name=name or "ensemble")
