"""Entry-point name -> pipeline module, lessons and default parameters.

To add a lesson: write `pipelines/<module>.py` with `run(params, tracker)`, add an entry
here, then `make mlproject` and a row in the README table.
"""

from dataclasses import dataclass, replace

from pipelines.params import Basic, Common


@dataclass(frozen=True)
class EntryPoint:
    name: str
    module: str  # pipelines.<module>.run(params, tracker)
    lessons: str
    summary: str
    defaults: Common


MNIST_CNN = Common(  # the keras-io mnist_convnet model
    dataset="mnist",
    model="cnn",
    filters="32,64",
    pool_last=True,
    layers=0,
    dropout=0.5,
    epochs=15,
    batch_size=128,
    patience=3,
    val_fraction=0.1,
)
CIFAR_CNN = Common(  # the TensorFlow CNN tutorial's model
    dataset="cifar10",
    model="cnn",
    filters="32,64,64",
    pool_last=False,
    layers=1,
    units=64,
    epochs=15,
    batch_size=64,
    patience=3,
    val_fraction=0.1,
)

ENTRY_POINTS: dict[str, EntryPoint] = {
    e.name: e
    for e in (
        EntryPoint(
            "dnn_basic",
            "dnn_basic",
            "01-04",
            "a first Dense model on y = 2x + 1; predictions for new inputs",
            Basic(
                dataset="linear",
                units=16,
                epochs=200,
                batch_size=8,
                patience=20,
                learning_rate=0.01,
            ),
        ),
        EntryPoint(
            "dnn_regression",
            "dnn_regression",
            "05-09",
            "train/test split, regression scored by RMSE, MAE and R2; depth via -P layers",
            Common(
                dataset="diabetes",
                units=32,
                layers=2,
                epochs=300,
                batch_size=16,
                patience=30,
                dropout=0.1,
            ),
        ),
        EntryPoint(
            "image_classify",
            "image_classify",
            "35-41",
            "any image data set with any model family (-P dataset= -P model=)",
            MNIST_CNN,
        ),
        EntryPoint(
            "cnn_mnist",
            "image_classify",
            "35-36",
            "MNIST with a CNN: sample grid, one-hot labels, softmax",
            MNIST_CNN,
        ),
        EntryPoint(
            "cnn_cifar10",
            "image_classify",
            "39",
            "CIFAR-10 with the TensorFlow tutorial's CNN",
            CIFAR_CNN,
        ),
        # ---- issue 3, model APIs: validation, io_patterns, functional_dnn, ensemble
        # ---- issue 3, sequences: rnn, rnn_ensemble, timeseries
        # ---- issue 3, saving and utilities: save_load, checkpoint, prepare_data, gpu_check
        # ---- issue 3, tables and comparisons: tabular, overfitting, csv, compare_models
    )
}


def defaults_for(name: str, **overrides: object) -> Common:
    return replace(ENTRY_POINTS[name].defaults, **overrides)
