"""Build step: model builders that take their input shape from the data.

Every builder wraps a model family's body (`steps.model.families`) between the data's own
preprocessing (the fitted scaling of `steps.data.prepare`, then the family's reshape) and the
task's head. Before any weight is allocated, `check_fits_in_memory` refuses a model too
large for this machine (lesson 03).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from steps.data.prepare import Affine, Prepared, Preprocessing
from steps.errors import UserError
from steps.model import families
from steps.model.families import Block, Family, Shape
from steps.model.layers import recurrent_layers
from steps.model.options import ModelOptions

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


BINARY = Head(1, "sigmoid", "binary_crossentropy", ("accuracy",))


def head_for(prepared: Prepared) -> Head:
    if prepared.task == "regression":  # one unit per target column
        return Head(prepared.data.y_train.shape[-1], "linear", "mse", ("mae",))
    if prepared.data.y_train.ndim == 2 and prepared.data.y_train.shape[1] == 1:
        return BINARY  # two classes given as one 0/1 column: a sigmoid unit (lessons 79-83)
    loss = "categorical_crossentropy" if prepared.one_hot else "sparse_categorical_crossentropy"
    return Head(len(prepared.class_names), "softmax", loss, ("accuracy",))


# ---------------------------------------------------------------- size estimate (no allocation)


def estimate(family: Family, shape: Shape, head: Head, opts: ModelOptions) -> list[Block]:
    """(description, parameter count) of each trainable block, from shapes alone."""
    blocks, width = family.estimate(shape, opts)
    return [*blocks, (f"Dense {head.units} output", width * head.units + head.units)]


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


def head_layer(head: Head, name: str | None = "head"):
    """The output Dense layer: float32 even under a mixed dtype policy (HEAD_DTYPE)."""
    import keras

    return keras.layers.Dense(head.units, activation=head.activation, name=name, dtype=HEAD_DTYPE)


def family_body(x, family: Family, opts: ModelOptions):
    """The family's reshape (when the sample is not what it reads), then its body."""
    import keras

    shape = family.input_shape(tuple(x.shape[1:]))
    if shape != tuple(x.shape[1:]):
        x = keras.layers.Reshape(shape)(x)
    return family.body(x, opts)


def build(family: str, prepared: Prepared, opts: ModelOptions, name: str = ""):
    """Raw sample -> scaling -> family reshape -> body -> head -> target units."""
    import keras

    chosen = families.get(family)
    families.check_layers(family, opts.layers)
    pre: Preprocessing = prepared.preprocessing
    head = head_for(prepared)
    shape = chosen.input_shape(pre.sample_shape)
    check_fits_in_memory(estimate(chosen, shape, head, opts))
    inputs = keras.Input(pre.sample_shape, name="sample")
    x = inputs if pre.x_scaling.is_identity else scaling_layer(pre.x_scaling)(inputs)
    x = family_body(x, chosen, opts)  # before the head: layers draw their seeds in order
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


def recurrent_family(family: str) -> Family:
    """The entry points that build one narrow `-P model=` to the recurrent families; another
    family from a Python caller is refused in the narrowing's words."""
    chosen = families.get(family)
    if not chosen.cell:
        recurrent = ", ".join(families.recurrent_names())
        raise UserError(f"bad value {family!r} for model: choose one of {recurrent}")
    return chosen


def build_sequential(family: str, prepared: Prepared, opts: ModelOptions, name: str = ""):
    """Lesson 20's other API: `build(family, ...)`'s layers, in the same order, as a
    keras.Sequential (so the same parameters, and the same predictions from the same weights)."""
    import keras

    chosen = recurrent_family(family)
    families.check_layers(family, opts.layers)
    pre = prepared.preprocessing
    head = head_for(prepared)
    shape = chosen.input_shape(pre.sample_shape)
    check_fits_in_memory(estimate(chosen, shape, head, opts))
    layers = [keras.Input(pre.sample_shape, name="sample")]
    if not pre.x_scaling.is_identity:
        layers.append(scaling_layer(pre.x_scaling))
    if shape != pre.sample_shape:
        layers.append(keras.layers.Reshape(shape))
    layers += recurrent_layers(chosen.cell, opts)
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


def build_branches(
    family: str, prepared: Prepared, branches: dict[str, slice], opts: ModelOptions, name=""
):
    """Lessons 23-24: one named input per group of feature columns of (time step, feature)
    samples, each through its own recurrent stack, merged with Concatenate into one head."""
    import keras

    chosen = recurrent_family(family)
    families.check_layers(family, opts.layers)
    pre = prepared.preprocessing
    head = head_for(prepared)
    steps, width = pre.sample_shape
    shapes = {name: (steps, len(range(width)[columns])) for name, columns in branches.items()}
    blocks, merged_width = [], 0
    for input_name, shape in shapes.items():
        branch, out = chosen.estimate(shape, opts)
        blocks += [(f"{input_name}: {block}", count) for block, count in branch]
        merged_width += out
    blocks.append((f"Dense {head.units} output", merged_width * head.units + head.units))
    check_fits_in_memory(blocks)
    inputs, merged = {}, []
    for input_name, columns in branches.items():
        x = inputs[input_name] = keras.Input(shapes[input_name], name=input_name)
        if not pre.x_scaling.is_identity:
            x = scaling_layer(columns_of(pre.x_scaling, columns), f"{input_name}_scaler")(x)
        merged.append(chosen.body(x, opts))
    x = keras.layers.Concatenate()(merged) if len(merged) > 1 else merged[0]
    outputs = head_layer(head)(x)
    if not pre.y_scaling.is_identity:
        outputs = target_units_layer(pre.y_scaling)(outputs)
    return keras.Model(inputs, outputs, name=name or "ensemble")
