"""Batch scoring, after lessons 28-31 (a saved model reloads and predicts): a logged or
registered model's predictions for a file of raw rows, in chunks, with a progress bar.

The file is checked against the model's signature before anything is written; the output
CSV appears whole or not at all. The scoring is a run too (experiment `predict`): the model,
the files, the rows scored and the seconds it took.

    python -m pipelines predict --model models:/diabetes@champion --input rows.csv \
        --output predictions.csv
    mlflow run . -e predict --env-manager local -P model=models:/diabetes@champion \
        -P input=/abs/rows.npz -P output=/abs/predictions.csv
"""

from __future__ import annotations

import time
from pathlib import Path

from pipelines.declare import command_line, defaults_of, validate
from pipelines.params import PredictParams
from steps.errors import UserError

LESSONS = "28-31"
DESCRIPTION = "Score a .csv or .npz file with a logged model (its own preprocessing)."


def parser():
    names, defaults = tuple(PredictParams.model_fields), defaults_of(PredictParams)
    return command_line(PredictParams, "python -m pipelines predict", DESCRIPTION, names, defaults)


def parse(argv: list[str]) -> PredictParams:
    """The command line's parameters, checked as declared in `PredictParams`."""
    return validate(PredictParams, vars(parser().parse_args(argv)))


def load_model(uri: str):
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot load model {uri}: {first}") from None


def score(model, source: Path, target: Path, chunk_size: int) -> int:
    """Write the predictions for every row of `source` to `target`; the rows scored."""
    from tqdm.auto import tqdm  # a notebook's widget bar in a kernel, else the terminal's

    from steps import files, scoring
    from steps.track.model_log import quiet_keras

    schema = model.metadata.get_input_schema()
    if scoring.takes_columns(schema):  # a table's model: the file's columns by name
        chunks = scoring.table_chunks(source, schema, chunk_size)
    else:
        chunks = scoring.chunks(source, scoring.model_inputs(schema), chunk_size)
    rows = 0
    with (
        files.replacing(target) as partial,
        tqdm(total=scoring.total_rows(source), unit="rows") as bar,
        quiet_keras(),
    ):
        for chunk in chunks:
            frame = scoring.prediction_frame(predicted(model, chunk))
            frame.to_csv(partial, mode="a" if rows else "w", header=not rows, index=False)
            rows += len(frame)
            bar.update(len(frame))
    return rows


def predicted(model, chunk):
    """The model's predictions, or a UserError with the first line of why it refused them
    (a value of the wrong type, a missing value a model trained without imputing refuses)."""
    from mlflow.exceptions import MlflowException

    try:
        return model.predict(chunk)
    except (MlflowException, ValueError) as exc:
        text = str(exc).strip()
        reason = text.rsplit("Error: ", 1)[-1].splitlines()[0] if text else type(exc).__name__
        raise UserError(f"cannot score the rows: {reason}") from None


def run(args: PredictParams) -> None:
    from steps.track.run import tracked_run

    values = {"model": args.model, "input": str(args.input), "output": args.output}
    values["chunk_size"] = args.chunk_size
    with tracked_run("predict", LESSONS, values, name=f"predict · {args.input.name}") as tracker:
        started = time.perf_counter()
        rows = score(load_model(args.model), args.input, Path(args.output), args.chunk_size)
        seconds = time.perf_counter() - started
        tracker.log_metrics({"rows_scored": rows, "seconds": seconds})
        tracker.set_tags(scored_model=args.model)
    print(f"scored {rows} rows of {args.input} with {args.model} into {args.output}")
