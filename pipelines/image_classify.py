"""Lessons 35-41: images classified by any model family.

35 Conv2D widens, Dense narrows, MaxPooling2D keeps each window's max; 36 MNIST: imshow
(a sample grid is logged), one-hot labels, softmax, categorical_crossentropy; 37-41 no model
is tied to a data set: `-P model=cnn|dnn|lstm|conv1d` on mnist, fashion_mnist, cifar10,
cifar100, digits or an `npz:` file of images.

    mlflow run . -e cnn_mnist --env-manager local
    mlflow run . -e cnn_cifar10 --env-manager local
    mlflow run . -e image_classify --env-manager local -P dataset=digits -P model=dnn
"""

from pipelines.params import Common
from steps import plots, workflow
from steps.errors import UserError
from steps.tracking import Tracker


def run(params: Common, tracker: Tracker) -> None:
    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    if not dataset.is_image or dataset.task != "classification":
        raise UserError(
            f"{params.dataset} is not a set of labelled images; use an image data set "
            "(mnist, fashion_mnist, cifar10, cifar100, digits) or dnn_regression for tables"
        )
    tracker.log_figure(plots.sample_grid(dataset), "plots/samples.png")
    workflow.fit_dataset(tracker, dataset, params.recipe())
