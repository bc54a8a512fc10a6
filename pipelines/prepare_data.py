"""Lessons 54-57: save the data sets as .npy once, for fast loading ever after.

54 keep data as `.npy` files, saved before preprocessing (every pipeline reads through this
npy cache); 55-57 the eight example sets (mnist, fashion_mnist, cifar10, cifar100,
boston_housing, diabetes, iris, breast_cancer) saved, reloaded and trained. This entry point
only warms the cache: per data set it reports hit or miss, rows, the bytes of the cached
arrays and the seconds it took (printed, `cache/datasets.csv`, and metrics). A data set that
cannot be downloaded is skipped with a one-line reason; the run fails only if none could be
prepared. Run it twice: the second run reports hits.

    mlflow run . -e prepare_data --env-manager local [-P dataset=all | -P dataset=mnist,iris]
"""

import re

import pandas as pd

from pipelines.params import Params
from steps.data import warm
from steps.errors import UserError
from steps.track.tracker import Tracker


def run(params: Params, tracker: Tracker) -> None:
    names = warm.dataset_names(params.dataset)
    results = []
    for name in names:
        result = warm.warm(name, target=params.target)
        results.append(result)
        if result.status == "skipped":
            print(f"skipped {name}: {result.message}")
        else:
            print(
                f"{name}: cache {result.status}, {result.rows} rows, "
                f"{result.bytes} bytes, {result.seconds:.2f} s"
            )
        key = re.sub(r"[^\w.-]", "_", name)
        tracker.log_metrics(
            {
                f"{key}_rows": result.rows,
                f"{key}_bytes": result.bytes,
                f"{key}_seconds": result.seconds,
                f"{key}_hit": result.status == "hit",
            }
        )
    table = pd.DataFrame([vars(r) for r in results])
    tracker.log_table(table, "cache/datasets.csv")
    counts = {s: sum(r.status == s for r in results) for s in ("hit", "miss", "skipped")}
    tracker.log_metrics(
        {f"datasets_{status}": count for status, count in counts.items()}
        | {"cached_bytes": sum(r.bytes for r in results)}
    )
    tracker.set_tags(dataset=params.dataset, cache="miss" if counts["miss"] else "hit")
    if counts["skipped"] == len(results):
        raise UserError(
            f"none of {', '.join(names)} could be prepared (first reason: {results[0].message})"
        )
