"""Model families (lessons 35-46, 60-61, 66, 79-83): one record each, in `FAMILIES`.

A record is all the project knows of a family: the input it reads (a raw sample's shape
turned into the body's), its body (the layers between the data's scaling and the task's
head), a size estimate from shapes alone (checked before any weight is allocated, lesson
03), the fewest `layers` it can be built with, Optuna's search space for it (`tune`), and
the build options it reads (the others are tagged `ignored_params` on its runs).
Every list of families (`-P model=` choices, `tune`'s spaces, the recurrent ones that
`rnn` and `Bidirectional` take) is read from `FAMILIES`.

To add a family, write its body (and size estimate) here and add its record to FAMILIES.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields

from steps.errors import UserError
from steps.model.layers import after, conv_block, dense_stack, recurrent_layers, regularized
from steps.model.options import ModelOptions
from steps.model.space import FIT_SPACE, Choice, FloatRange, IntRange, Space

Shape = tuple[int, ...]
Block = tuple[str, int]  # (description, parameter count)

EVERY_OPTION: tuple[str, ...] = tuple(field.name for field in fields(ModelOptions))
CONV2D_ONLY = ("filters", "pool_last")
# The build options all but the cnn read (recurrent cells keep their own activation).
DENSE_OPTIONS = tuple(name for name in EVERY_OPTION if name not in CONV2D_ONLY)


@dataclass(frozen=True)
class Family:
    name: str
    input_shape: Callable[[Shape], Shape]  # a raw sample's shape -> what the body reads
    body: Callable  # (Keras tensor, ModelOptions) -> Keras tensor
    estimate: Callable[[Shape, ModelOptions], tuple[list[Block], int]]  # blocks, output width
    space: Space
    min_layers: int = 0
    cell: str = ""  # the Keras layer of a recurrent family (LSTM, GRU, SimpleRNN)
    reads: tuple[str, ...] = DENSE_OPTIONS  # the ModelOptions fields its body and estimate use

    def unread(self) -> tuple[str, ...]:
        """The build options this family's model does not depend on."""
        return tuple(name for name in EVERY_OPTION if name not in self.reads)


# ---------------------------------------------------------------- the input each family reads


def flat(shape: Shape) -> Shape:
    return (math.prod(shape),)


def grid(shape: Shape) -> Shape:
    """Images with channels; a table's row becomes a one-pixel-wide column image."""
    if len(shape) == 1:
        return (shape[0], 1, 1)
    if len(shape) == 2:
        return (*shape, 1)
    return (shape[0], shape[1], math.prod(shape[2:]))


def time_steps(shape: Shape) -> Shape:
    """(time steps, features): a window stays as it is, an image's rows are its time steps,
    a table's row is one feature per step."""
    if len(shape) == 1:
        return (shape[0], 1)
    return (shape[0], math.prod(shape[1:]))


# ---------------------------------------------------------------- bodies


def dnn_body(x, opts: ModelOptions):
    return dense_stack(x, opts, opts.layers)


def cnn_body(x, opts: ModelOptions):
    """keras-io's mnist_convnet layout: Dropout before the head and after each Dense layer,
    not on the feature maps (dropping their pixels cost 1.6x the fit time in `make bench`)."""
    import keras

    for i, filters in enumerate(opts.filters):
        x = conv_block(x, filters, opts)
        if pools(i, opts) and min(x.shape[1], x.shape[2]) >= 2:
            x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    if opts.dropout > 0 and opts.layers == 0:  # else each Dense layer's own Dropout follows it
        x = keras.layers.Dropout(opts.dropout)(x)
    return dense_stack(x, opts, opts.layers)


def pools(block: int, opts: ModelOptions) -> bool:
    return block < len(opts.filters) - 1 or opts.pool_last


def recurrent_body(cell: str) -> Callable:
    def body(x, opts: ModelOptions):
        for layer in recurrent_layers(cell, opts):
            x = layer(x)
        return x

    return body


def conv1d_body(x, opts: ModelOptions):
    import keras

    for _ in range(opts.layers):
        padding = "valid" if x.shape[1] >= 3 else "same"
        x = after(keras.layers.Conv1D(opts.units, 3, padding=padding, **regularized(opts))(x), opts)
    return keras.layers.Flatten()(x)


# ---------------------------------------------------------------- size estimates


def norm(opts: ModelOptions) -> int:
    return 4 if opts.batch_norm else 0  # gamma, beta, moving mean, moving variance


def conv_out(size: int, kernel: int = 3) -> int:
    return size - kernel + 1 if size >= kernel else size  # 'valid' when it fits, else 'same'


def dense_blocks(width: int, opts: ModelOptions, layers: int) -> tuple[list[Block], int]:
    blocks = []
    for _ in range(layers):
        count = width * opts.units + opts.units + norm(opts) * opts.units
        blocks.append((f"Dense {opts.units} on {width} inputs", count))
        width = opts.units
    return blocks, width


def dnn_estimate(shape: Shape, opts: ModelOptions) -> tuple[list[Block], int]:
    return dense_blocks(math.prod(shape), opts, opts.layers)


def cnn_estimate(shape: Shape, opts: ModelOptions) -> tuple[list[Block], int]:
    height, width, channels = shape
    blocks: list[Block] = []
    for i, filters in enumerate(opts.filters):
        count = 9 * channels * filters + filters + norm(opts) * filters
        blocks.append((f"Conv2D {filters}x3x3 on {channels} channels", count))
        if min(height, width) >= 3:  # 'valid', as conv_block; else 'same' keeps the size
            height, width = conv_out(height), conv_out(width)
        channels = filters
        if pools(i, opts) and min(height, width) >= 2:
            height, width = height // 2, width // 2
    dense, out = dense_blocks(height * width * channels, opts, opts.layers)
    return blocks + dense, out


# Keras 3's recurrent cells: gates per cell, and GRU's reset_after=True keeps two biases a gate.
GATES = {"LSTM": (4, 1), "SimpleRNN": (1, 1), "GRU": (3, 2)}


def recurrent_estimate(cell: str) -> Callable:
    gates, biases = GATES[cell]

    def estimate(shape: Shape, opts: ModelOptions) -> tuple[list[Block], int]:
        width, blocks = shape[-1], []
        for _ in range(opts.layers):
            count = gates * (opts.units * (width + opts.units) + biases * opts.units)
            blocks.append(
                (f"{cell} {opts.units} on {width} features", count + norm(opts) * opts.units)
            )
            width = opts.units
        return blocks, width

    return estimate


def conv1d_estimate(shape: Shape, opts: ModelOptions) -> tuple[list[Block], int]:
    steps, width = shape
    blocks = []
    for _ in range(opts.layers):
        count = 3 * width * opts.units + opts.units + norm(opts) * opts.units
        blocks.append((f"Conv1D {opts.units} on {width} features", count))
        width, steps = opts.units, conv_out(steps)
    return blocks, width * steps


# ---------------------------------------------------------------- the registry

RECURRENT_SPACE: Space = {  # recurrent layers keep their own tanh/sigmoid: no activation
    "units": IntRange(16, 128, log=True),
    "layers": IntRange(1, 2),
    "dropout": FloatRange(0.0, 0.5),
    **FIT_SPACE,
}


def recurrent(name: str, cell: str) -> Family:
    return Family(
        name,
        input_shape=time_steps,
        body=recurrent_body(cell),
        estimate=recurrent_estimate(cell),
        space=RECURRENT_SPACE,
        min_layers=1,
        cell=cell,
        reads=tuple(name for name in DENSE_OPTIONS if name != "activation"),
    )


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            "dnn",
            input_shape=flat,
            body=dnn_body,
            estimate=dnn_estimate,
            space={
                "units": IntRange(16, 256, log=True),
                "layers": IntRange(1, 4),
                "dropout": FloatRange(0.0, 0.5),
                "activation": Choice(("relu", "tanh", "elu", "selu")),
                **FIT_SPACE,
            },
        ),
        Family(
            "cnn",
            input_shape=grid,
            body=cnn_body,
            estimate=cnn_estimate,
            space={
                "filters": Choice(("16,32", "32,64", "32,64,64")),
                "units": IntRange(16, 128, log=True),
                "layers": IntRange(0, 2),  # Dense layers after the conv blocks
                "dropout": FloatRange(0.0, 0.5),
                "activation": Choice(("relu", "elu")),
                **FIT_SPACE,
            },
            reads=EVERY_OPTION,
        ),
        recurrent("lstm", "LSTM"),
        recurrent("gru", "GRU"),
        recurrent("simple_rnn", "SimpleRNN"),
        Family(
            "conv1d",
            input_shape=time_steps,
            body=conv1d_body,
            estimate=conv1d_estimate,
            space={
                "units": IntRange(16, 128, log=True),
                "layers": IntRange(1, 3),
                "dropout": FloatRange(0.0, 0.5),
                "activation": Choice(("relu", "elu")),
                **FIT_SPACE,
            },
            min_layers=1,
        ),
    )
}


def names() -> tuple[str, ...]:
    return tuple(FAMILIES)


def recurrent_names() -> tuple[str, ...]:
    return tuple(name for name, family in FAMILIES.items() if family.cell)


# What every family's search covers: `tune` takes no fixed value for these.
SEARCHED_BY_ALL: tuple[str, ...] = tuple(
    name for name in FAMILIES["dnn"].space if all(name in f.space for f in FAMILIES.values())
)


def get(name: str) -> Family:
    if name not in FAMILIES:
        raise UserError(f"unknown model family {name!r}; choose one of {', '.join(FAMILIES)}")
    return FAMILIES[name]


# The one policy for a depth below a family's fewest layers (an LSTM or Conv1D body needs
# one): a depth the user gave is refused, naming the fewest; a default one (an entry point's,
# such as a CNN's 0 Dense layers when -P model=lstm alone is given) becomes the fewest.


def check_layers(name: str, layers: int) -> None:
    """Refuse a depth given below the family's fewest, in one line naming it."""
    least = get(name).min_layers
    if layers < least:
        raise UserError(f"bad value {layers} for layers: model={name} needs {least} or more")


def default_layers(name: str, layers: int) -> int:
    """A default depth for the family: raised to its fewest, silently."""
    return max(layers, get(name).min_layers)


def depth_rule() -> str:
    """The policy in words, for `-P layers=`'s help."""
    by_least: dict[int, list[str]] = {}
    for family in FAMILIES.values():
        if family.min_layers:
            by_least.setdefault(family.min_layers, []).append(family.name)
    if not by_least:
        return ""

    def named(names: list[str]) -> str:
        return " and ".join((", ".join(names[:-1]), names[-1])) if len(names) > 1 else names[0]

    least = ", ".join(f"{n} for {named(names)}" for n, names in by_least.items())
    return f"at least {least} (a default depth below it becomes it; one given below it is refused)"


def check_bidirectional(name: str, bidirectional: bool) -> None:
    """Bidirectional wraps a recurrent layer (lesson 83)."""
    if bidirectional and not get(name).cell:
        raise UserError(
            f"bidirectional=true wraps a recurrent layer: use model="
            f"{' or model='.join(recurrent_names())}, not {name}"
        )
