"""The digest beside a data set's name in MLflow (`steps.track.digests`): the same rows give
the same digest, other rows or another data set another one. Real data sets read through the
npy cache, split by the real prepare step, logged by the Tracker into a real sqlite store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from steps.data import cache, catalog
from steps.track.digests import rows_digest

from helpers.options import prepare_options

SKLEARN_SETS = ("iris", "diabetes", "breast_cancer", "wine", "digits")


def logged_inputs(client, dataset: str, **changes: object) -> dict[str, tuple[str, str]]:
    """The parts of `dataset` one run logs, split with the default options and `changes`, as
    the store gives them back: context -> (name, digest)."""
    import mlflow

    from steps import workflow
    from steps.data.prepare import prepare
    from steps.track.tracker import Tracker

    mlflow.set_experiment("digests")
    with mlflow.start_run() as run:
        tracker = Tracker(run.info.run_id, run.info.experiment_id, Path("tb"))
        data = workflow.load_dataset(tracker, dataset)
        tracker.log_inputs(prepare(data, prepare_options(**changes)).data)
    stored = client.get_run(run.info.run_id).inputs.dataset_inputs
    return {i.tags[0].value: (i.dataset.name, i.dataset.digest) for i in stored}


def test_each_bundled_set_shows_its_own_digests(tracking):
    """digits, diabetes, iris... once all showed the same digest: the version of scikit-learn."""
    shown = {name: logged_inputs(tracking, name) for name in SKLEARN_SETS}
    for name, parts in shown.items():
        assert {label for label, _ in parts.values()} == {name}
    digests = [digest for parts in shown.values() for _, digest in parts.values()]
    assert len(set(digests)) == len(digests) == 3 * len(SKLEARN_SETS), shown


def test_another_seed_shows_other_digests_and_the_same_seed_the_same(tracking):
    first = logged_inputs(tracking, "iris", seed=1)
    again = logged_inputs(tracking, "iris", seed=1)
    other = logged_inputs(tracking, "iris", seed=2)
    assert first == again
    assert first.keys() == other.keys() == {"train", "validation", "test"}
    assert all(first[part] != other[part] for part in first), (first, other)


def test_other_fractions_show_other_digests(tracking):
    default = logged_inputs(tracking, "diabetes")
    smaller_test = logged_inputs(tracking, "diabetes", test_fraction=0.1)
    assert all(default[part] != smaller_test[part] for part in default)


def test_sklearn_sets_have_their_own_content_key():
    """The key names the npy cache entry and starts every digest of the set."""
    keys = {cache.content_key(catalog.resolve(name)) for name in SKLEARN_SETS}
    assert len(keys) == len(SKLEARN_SETS)


@pytest.mark.parametrize(
    "changed",
    [
        lambda x, y: (x.astype(np.int32), y),  # the same numbers, another dtype
        lambda x, y: (x.reshape(3, 2), y),  # the same bytes, another shape
        lambda x, y: (x[::-1], y),  # the rows in another order
        lambda x, y: (x, y + 1),  # other targets
    ],
)
def test_digest_changes_with_dtype_shape_order_and_targets(changed):
    x, y = np.arange(6, dtype=np.int64).reshape(2, 3), np.array([0, 1])
    assert rows_digest("key", *changed(x, y)) != rows_digest("key", x, y)


def test_digest_of_named_inputs_ignores_their_order_and_reads_text():
    a, b = np.zeros((2, 3), np.float32), np.ones((2, 1), np.float32)
    assert rows_digest("key", {"a": a, "b": b}, None) == rows_digest("key", {"b": b, "a": a}, None)
    texts = np.array(["no fun", "truly fun"], dtype=object)
    assert rows_digest("key", texts, None) != rows_digest("key", texts[::-1], None)
    assert rows_digest("key", texts, None) != rows_digest("other", texts, None)
