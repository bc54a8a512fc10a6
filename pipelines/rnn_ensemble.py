"""Lessons 23-24: an LSTM ensemble with EarlyStopping.

23 two sequence inputs, each through its own LSTM, merged with Concatenate into one Dense
head (the functional API's multi-input model); 24 EarlyStopping ends the fit once val_loss
stops improving for `-P patience=` epochs, and the best epoch's weights are kept.

The two inputs are windows of one multi-column series: `target` holds the target's own past,
`others` the other `-P features=` - 1 columns beside it (on the default `series` data set:
the driver that the target follows, and a seasonal wave). The logged model takes a dict keyed
by input name: `model.predict({"target": ..., "others": ...})`.

    mlflow run . -e rnn_ensemble --env-manager local [-P window=12 -P patience=10]
"""

from pipelines.params import Params
from steps import workflow
from steps.data import windows
from steps.data.prepare import prepare
from steps.model import build
from steps.track.tracker import Tracker
from steps.train import fit

BRANCHES = {"target": slice(0, 1), "others": slice(1, None)}


def run(params: Params, tracker: Tracker) -> None:
    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    windowed = windows.window_dataset(dataset, params.window, params.features, params.target)
    columns = windowed.feature_names
    tracker.log_params(
        {
            "n_windows": len(windowed.x_train),
            "inputs": f"target={columns[0]}; others={','.join(columns[1:])}",
        }
    )

    fit.seed_everything(params.seed, params.deterministic)
    prepared = prepare(windowed, params.prepare_options())
    prepared = windows.split_inputs(prepared, BRANCHES)
    model = build.build_branches(params.model, prepared, BRANCHES, params.model_options())
    workflow.train_and_log(tracker, model, prepared, params.fit_options())
