"""How the rows reach `model.fit`: on TensorFlow, one input pipeline per fit, reshuffled each
epoch in an order that depends only on (seed, epoch).

NumPy arrays handed to `fit` on TensorFlow cost most of a small table's training time: Keras
builds a new `tf.data` pipeline for the training rows and another for the validation rows at
every epoch. Here the rows become tensors once, one pipeline yields every epoch's batches in
turn, and `fit` keeps its iterators from epoch to epoch (`steps_per_epoch`,
`validation_steps`): iris trains about 4x faster. Epoch e's order is
`stateless_shuffle(range(rows), seed=(seed, e))`, so every epoch has its own order (Keras's
own shuffle repeats one order once a global seed is set) and a fit resumed at epoch e sees the
batches an uninterrupted fit would.

JAX and PyTorch take the arrays: Keras iterates them in NumPy, which is fast there, and
shuffles with NumPy's generator, which `steps.train.reseed` sets from (seed, epoch). So does
`validation_split` (lesson 11 shows Keras cutting it), which Keras takes from arrays only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from steps.data.prepare import Split


@dataclass(frozen=True)
class Feed:
    """`model.fit`'s arguments that carry the rows, and the callback the pipeline needs."""

    x: object
    y: object | None
    validation_data: object | None
    batch_size: int | None
    validation_split: float = 0.0
    steps_per_epoch: int | None = None
    callbacks: list = field(default_factory=list)

    def fit_arguments(self) -> dict[str, object]:
        return {
            "x": self.x,
            "y": self.y,
            "validation_data": self.validation_data,
            "batch_size": self.batch_size,
            "validation_split": self.validation_split,
            "shuffle": self.y is not None,  # a pipeline shuffles itself
            "steps_per_epoch": self.steps_per_epoch,
        }


def rows(x) -> int:
    """Row count of an input: an array, or a multi-input model's dict, list or tuple of them."""
    import keras

    return len(keras.tree.flatten(x)[0])


def batch_count(row_count: int, batch_size: int) -> int:
    return math.ceil(row_count / batch_size)


def uses_pipeline(x, y, validation_split: float = 0.0) -> bool:
    """Whether rows go through `tf.data`: on TensorFlow, arrays of numbers or text."""
    import keras

    if keras.backend.backend() != "tensorflow" or validation_split > 0:
        return False
    leaves = [a for part in (x, y) for a in (part.values() if isinstance(part, dict) else [part])]
    return all(isinstance(a, np.ndarray) and tensor_kind(a) for a in leaves)


def tensor_kind(array: np.ndarray) -> bool:
    """Numbers, booleans or text: what becomes a tensor as it is."""
    if array.dtype.kind == "O":  # text as Python strings
        return array.size > 0 and isinstance(array.flat[0], str)
    return array.dtype.kind in "biufUS"


def feed(data: Split, batch_size: int, seed: int, epochs: int, validation_split: float) -> Feed:
    """The rows of `data` as `model.fit` should take them on this backend."""
    has_val = rows(data.x_val) > 0
    if not uses_pipeline(data.x_train, data.y_train, validation_split):
        return Feed(
            data.x_train,
            data.y_train,
            (data.x_val, data.y_val) if has_val else None,
            batch_size,
            validation_split=0.0 if has_val else validation_split,
        )
    first_epoch, starts = first_epoch_variable()
    train = shuffled_batches(data.x_train, data.y_train, batch_size, seed, epochs, first_epoch)
    return Feed(
        train,
        None,
        batches(data.x_val, data.y_val, batch_size) if has_val else None,
        None,
        steps_per_epoch=batch_count(rows(data.x_train), batch_size),
        callbacks=[starts],
    )


def build_before_tracing(model, pipeline) -> None:
    """Create the optimizer's and the metrics' variables before `fit` traces its train step.

    On TensorFlow without a distribution strategy Keras creates them inside the first traced
    step, and TensorFlow then traces that step a second time without them: 0.3 s a fit, most of
    a small trial's fixed cost. Keras builds them this way itself under a strategy. Numbers
    only: a text model's layers build from real strings.
    """
    import tensorflow as tf

    specs = tf.nest.flatten(pipeline.element_spec)
    if tf.distribute.has_strategy() or not all(s.dtype.is_numeric for s in specs):
        return
    model._symbolic_build(data_batch=pipeline.element_spec)


def first_epoch_variable():
    """(a variable holding the epoch a fit starts at, the callback that sets it): the
    pipeline starts its epochs there, so a resumed fit's first batches are that epoch's."""
    import keras
    import tensorflow as tf

    first_epoch = tf.Variable(0, dtype=tf.int64, trainable=False)

    class FirstEpoch(keras.callbacks.Callback):
        started = False

        def on_epoch_begin(self, epoch, logs=None):
            if not self.started:  # before fit's iterator exists: it is made in the first epoch
                first_epoch.assign(epoch)
                self.started = True

    return first_epoch, FirstEpoch()


def shuffled_batches(x, y, batch_size: int, seed: int, epochs: int, first_epoch):
    """Every epoch's batches from `first_epoch` to `epochs`, one after the other, each epoch
    in its own order drawn from (seed, epoch)."""
    import tensorflow as tf

    tensors = tf.nest.map_structure(tf.convert_to_tensor, (x, y))
    count, seed = rows(x), tf.constant(seed, tf.int64)

    def epoch_indices(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([seed, epoch])
        )
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    return (
        tf.data.Dataset.range(epochs)
        .filter(lambda epoch: epoch >= first_epoch)
        .flat_map(epoch_indices)
        .map(lambda taken: tf.nest.map_structure(lambda t: tf.gather(t, taken), tensors))
        .prefetch(tf.data.AUTOTUNE)
        .with_options(without_autotune())
    )


def without_autotune():
    """tf.data options that leave out its autotuning thread. Deleting an iterator waits for
    that thread to wake, which it does less and less often: a fit of 3 epochs of 54,000
    images trained for 58 s, then waited 25 s for its iterator to go (every such fit ended at
    83 s). A prefetch still sizes its own buffer."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def batches(x, y, batch_size: int):
    """The rows in their order, batched: validation and test rows on TensorFlow. Without
    prefetch: Keras makes a new iterator for each evaluation, and a prefetching one cost more
    to start and close than evaluating a small table's validation rows."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
    return dataset.with_options(without_autotune())


def evaluation_arguments(x, y, batch_size: int) -> dict[str, object]:
    """`model.evaluate`'s arguments for the rows: the same path as the validation rows."""
    if uses_pipeline(x, y):
        return {"x": batches(x, y, batch_size)}
    return {"x": x, "y": y, "batch_size": batch_size}
