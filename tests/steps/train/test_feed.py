"""The input pipeline: every row once per epoch, a new order each epoch drawn from (seed,
epoch) alone, so a fit that starts at epoch e sees the batches an uninterrupted one would."""

import numpy as np
import pytest

from steps.data.prepare import Split
from steps.train import feed

ROWS, BATCH, EPOCHS = 10, 4, 3


def epoch_orders(seed: int, first: int) -> list[list[int]]:
    import tensorflow as tf

    x = np.arange(ROWS, dtype=np.float32).reshape(ROWS, 1)
    start = tf.Variable(first, dtype=tf.int64)
    pipeline = feed.shuffled_batches(x, x[:, 0] * 10, BATCH, seed, EPOCHS, start)
    rows = []
    for features, targets in pipeline:
        assert np.array_equal(features.numpy()[:, 0] * 10, targets.numpy())  # rows stay whole
        rows += [int(v) for v in features.numpy()[:, 0]]
    return [rows[i : i + ROWS] for i in range(0, len(rows), ROWS)]


def test_each_epoch_has_every_row_once_in_its_own_order():
    orders = epoch_orders(seed=42, first=0)
    assert len(orders) == EPOCHS
    assert all(sorted(order) == list(range(ROWS)) for order in orders)
    assert len({tuple(order) for order in orders}) == EPOCHS


def test_the_order_depends_on_the_seed_and_epoch_only():
    assert epoch_orders(seed=42, first=0) == epoch_orders(seed=42, first=0)
    assert epoch_orders(seed=42, first=1) == epoch_orders(seed=42, first=0)[1:]
    assert epoch_orders(seed=7, first=0) != epoch_orders(seed=42, first=0)


def split_of(x, y) -> Split:
    return Split(x, y, x[:3], y[:3], x[:3], y[:3])


def test_fit_takes_a_pipeline_of_whole_batches_on_tensorflow():
    x, y = np.ones((10, 2), np.float32), np.arange(10)
    rows = feed.feed(split_of(x, y), batch_size=4, seed=1, epochs=2, validation_split=0.0)
    arguments = rows.fit_arguments()
    assert arguments["y"] is None and arguments["batch_size"] is None
    assert arguments["steps_per_epoch"] == 3 and arguments["shuffle"] is False
    validation = [len(b[0]) for b in arguments["validation_data"]]
    assert validation == [3]


def test_the_pipelines_run_without_the_autotuning_thread():
    """Deleting an iterator waits for tf.data's autotuning thread to wake, which it does less
    and less often: a 58 s fit then took 83 s. Both pipelines leave it out."""
    x, y = np.ones((10, 2), np.float32), np.arange(10)
    arguments = feed.feed(split_of(x, y), 4, seed=1, epochs=2, validation_split=0.0)
    for pipeline in (arguments.x, arguments.validation_data):
        assert pipeline.options().autotune.enabled is False


@pytest.mark.parametrize(
    "x, split", [(np.ones((10, 2), np.float32), 0.2), (np.array([{}] * 10), 0.0)]
)
def test_keras_takes_the_arrays_for_validation_split_and_odd_rows(x, split):
    """Lesson 11 shows Keras's own validation_split, which takes arrays only."""
    y = np.arange(10)
    data = Split(x, y, x[:0], y[:0], x[:0], y[:0])
    rows = feed.feed(data, batch_size=4, seed=1, epochs=2, validation_split=split)
    arguments = rows.fit_arguments()
    assert arguments["x"] is x and arguments["y"] is y and arguments["batch_size"] == 4
    assert arguments["validation_split"] == split and arguments["shuffle"] is True


def test_a_fit_traces_its_train_step_once():
    """Keras would create the optimizer's and the metrics' variables in the first traced step,
    and TensorFlow would then trace it again: built first, a fit traces it once."""
    from steps.data import prepare
    from steps.data.sources import sklearn_sets
    from steps.model import build
    from steps.train import fit

    from helpers.options import fit_options, model_options, prepare_options

    prepared = prepare.prepare(sklearn_sets.source("iris").load(), prepare_options(seed=3))
    model = build.build("dnn", prepared, model_options(units=8, layers=1))
    traced = []
    step = model.train_step
    model.train_step = lambda data: traced.append(data) or step(data)  # runs only when traced
    config = fit_options(epochs=2, patience=0, reduce_lr_patience=0, verbose=0, checkpoint=False)
    result = fit.fit(model, build.head_for(prepared), prepared.data, config)
    assert result.epochs_run == 2
    assert len(traced) == 1
