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
    from tqdm import tqdm

    from steps import files, scoring
    from steps.track.model_log import quiet_keras

    inputs = scoring.model_inputs(model.metadata.get_input_schema())
    rows = 0
    with (
        files.replacing(target) as partial,
        tqdm(total=scoring.total_rows(source), unit="rows") as bar,
        quiet_keras(),
    ):
        for chunk in scoring.chunks(source, inputs, chunk_size):
            frame = scoring.prediction_frame(model.predict(chunk))
            frame.to_csv(partial, mode="a" if rows else "w", header=not rows, index=False)
            rows += len(frame)
            bar.update(len(frame))
    return rows


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
