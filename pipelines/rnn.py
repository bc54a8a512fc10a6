"""Lessons 17-22: recurrent layers on a windowed time series.

17 / 18 / 19 LSTM, SimpleRNN, GRU: `-P model=lstm|simple_rnn|gru`; 20 the same model from the
functional API or as a keras.Sequential: `-P api=functional|sequential` (same layers, same
parameter count); 21 EarlyStopping: `-P patience=N`; 22 return_sequences keeps the time axis,
so recurrent layers stack: `-P layers=N` (every layer but the last returns sequences; the
run's `model_summary.txt` shows each layer's output shape).

The default data is the toy `series` (see `timeseries`) cut into windows of `-P window=`
steps, each predicting the next value: a recurrent layer's lesson is reading time steps in
order, which a series shows directly (images read row by row are `image_classify -P
model=lstm`). `-P features=N` feeds more columns of the series.

    mlflow run . -e rnn --env-manager local [-P model=gru -P api=sequential -P layers=2]
"""

from pipelines.params import Params
from steps import workflow
from steps.data import windows
from steps.data.prepare import prepare
from steps.model import build
from steps.track.tracker import Tracker
from steps.train import fit


def run(params: Params, tracker: Tracker) -> None:
    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    windowed = windows.window_dataset(dataset, params.window, params.features, params.target)
    tracker.log_params({"n_windows": len(windowed.x_train)})

    fit.seed_everything(params.seed, params.deterministic)
    prepared = prepare(windowed, params.prepare_options())
    name, options = f"{params.model}_{params.api}", params.model_options()
    if params.api == "sequential":
        model = build.build_sequential(params.model, prepared, options, name=name)
    else:
        model = build.build(params.model, prepared, options, name=name)

    summary: list[str] = []  # lesson 22: (None, window, units) while sequences are returned
    model.summary(print_fn=lambda line, *_: summary.append(line))
    tracker.log_text("\n".join(summary), "model_summary.txt")
    workflow.train_and_log(tracker, model, prepared, params.fit_options())
