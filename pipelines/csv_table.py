"""Lessons 58-59: a CSV read with pandas, inspected, learnt, and written back out.

58 read a CSV with pandas and inspect it: the run logs its profile (shape, dtypes, missing
values per column, describe()); 59 write a table back out: the predictions for the test
rows go out as CSV, the original columns plus the true and the predicted target. With no
file given, a bundled table (wine) is first written out as CSV and read back as yours
would be.

    mlflow run . -e csv --env-manager local -P path=data.csv -P target=price
    mlflow run . -e csv --env-manager local            # wine, written out then read back
"""

import tempfile
from pathlib import Path

from pipelines.params import Params
from steps import workflow
from steps.data import catalog, tables
from steps.data.dataset import existing_file
from steps.data.sources.csv_file import read_csv_table
from steps.data.table_front import Front
from steps.track.tracker import Tracker


def run(params: Params, tracker: Tracker) -> None:
    source = f"csv:{params.path}" if params.path else params.dataset
    uri, target = source, params.target
    if not uri.startswith("csv:"):  # lesson 59 first: a bundled table written out as CSV
        target = target or "target"
        bundled = tables.dataset_frame(workflow.load_dataset(tracker, uri), target)
        written = Path(tempfile.mkdtemp(prefix="csv-")) / f"{uri.rsplit(':')[-1]}.csv"
        bundled.to_csv(written, index=False)
        tracker.log_table(bundled, f"data/{written.name}")
        tracker.set_tags(source_csv=f"data/{written.name}")
        uri = f"csv:{written}"

    # Lesson 58: read it with pandas and look at it before learning anything.
    path = existing_file(Path(uri.removeprefix("csv:")), "csv")
    raw = read_csv_table(path, params.table_options())
    columns, report = tables.profile(raw)
    print(report)
    tracker.log_table(columns, "profile/columns.csv")
    tracker.log_text(report, "profile/profile.txt")

    dataset = workflow.load_dataset(tracker, uri, target=target, table=params.table_options())
    tracker.set_tags(dataset=source)  # named as given, also when written out first
    tracker.dataset = (catalog.label(source), *tracker.dataset[1:])
    trained = workflow.fit_dataset(tracker, dataset, params.recipe())

    # Lesson 59: the test rows as they were in the file, with the true and predicted target.
    rows = Front.from_array(dataset.front).rows  # after the rows -P missing= dropped
    out = tables.with_predictions(rows, dataset, params.prepare_options(), trained.predictions)
    tracker.log_table(out, "predictions/test_predictions.csv")
    print(out.head().to_string(index=False))
