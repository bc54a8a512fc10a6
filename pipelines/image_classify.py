"""Lessons 35-41: images classified by any model family.

35 Conv2D widens, Dense narrows, MaxPooling2D keeps each window's max; 36 MNIST: imshow
(a sample grid is logged), one-hot labels, softmax, categorical_crossentropy; 37-41 no model
is tied to a data set: `-P model=cnn|dnn|lstm|gru|conv1d|...` on mnist, fashion_mnist,
cifar10, cifar100, digits, an `npz:` file of images or a `dir:` folder of class sub-folders.
Each family reads its own input: flat rows (DNN), images with channels (CNN), rows as time
steps (recurrent families, Conv1D). The twelve `cnn_|dnn_|lstm_` x
`mnist|fashion_mnist|cifar10|cifar100` entry points run this pipeline with their own
defaults. Besides the confusion matrix, each run logs every class's test accuracy
(evaluation/per_class_accuracy.csv, a bar chart, and a `test_accuracy_<class>` metric each
when there are at most 10 classes).

    mlflow run . -e cnn_mnist --env-manager local
    mlflow run . -e lstm_fashion_mnist --env-manager local
    mlflow run . -e image_classify --env-manager local -P dataset=digits -P model=conv1d
"""

from pipelines.params import Params
from steps import vision
from steps.track import plots
from steps.track.tracker import Tracker


def run(params: Params, tracker: Tracker) -> None:
    dataset = vision.load_images(tracker, params.dataset)
    tracker.log_figure(plots.sample_grid(dataset), "plots/samples.png")
    vision.fit_images(tracker, dataset, params.recipe())  # + each class's test accuracy
