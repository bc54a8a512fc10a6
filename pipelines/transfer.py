"""Lessons 75-78: transfer learning with a pretrained Keras Applications base.

75-76 use VGG16 and compare parameter counts with and without the 1000-class top and with
and without pretrained weights (a pretrained base is frozen, so its parameters become
non-trainable; the weights themselves do not change the count): logged as
parameters/counts.csv, the base's totals as `base_parameters_with_top` and
`base_parameters_without_top` (VGG16: 138,357,544 and 14,714,688). 77 CIFAR-10 with
several bases, a child run each under one parent that compares them (`-P dataset=cifar10
-P base=vgg16,resnet50,mobilenet_v2,efficientnet_b0`, `-P weights=none` offline); 78 dogs
vs cats photos: `-P dataset=cats_vs_dogs`, the 3,000 photos of TensorFlow's
transfer-learning tutorial (downloaded once), or your own folder (`-P dataset=dir:PATH`).
Without `-P dataset=` it reads `digits_folder`, scikit-learn's bundled digits written as a
folder of PNG files and read as a user's folder is, so only the ImageNet weights need the
network. A pretrained base is frozen under a new head; `-P fine_tune_layers=N` then also
trains the base's top N layers at a tenth of the learning rate (two phases, as in Keras's
transfer-learning guide). A base with random weights (`-P weights=none`) has nothing worth
freezing: the whole network trains. The run logs the trained model's `trainable_parameters`
and `non_trainable_parameters`. Images are
resized inside the model to what the base accepts (`-P input_size=`, 0: the data's own size,
at least 32; for mobilenet_v2 with ImageNet weights the nearest of 96..224).

`-P weights=imagenet` (the default: the lesson is pretrained weights) downloads the weights
once into $KERAS_HOME/models (offline it fails in one line naming the file, that folder and
`-P weights=none`, with exit code 3), `-P weights=none` starts from random weights and needs
no download, `-P weights=PATH` loads a local file saved from the same base without its top.

    mlflow run . -e transfer --env-manager local
    mlflow run . -e transfer --env-manager local -P weights=none     # no network at all
    mlflow run . -e transfer --env-manager local -P dataset=cifar10
    mlflow run . -e transfer --env-manager local -P dataset=cifar10 -P base=vgg16,mobilenet_v2
    mlflow run . -e transfer --env-manager local -P base=vgg16 -P fine_tune_layers=4
    mlflow run . -e transfer --env-manager local -P dataset=cats_vs_dogs -P image_size=160
    mlflow run . -e transfer --env-manager local -P dataset=dir:/abs/photos -P weights=none
"""

from dataclasses import replace

from pipelines.params import Params
from steps import transfer, vision, workflow
from steps.data.prepare import prepare
from steps.model import build
from steps.track import plots
from steps.track.tracker import Tracker
from steps.train import distribute, fit


def run(params: Params, tracker: Tracker) -> None:
    dataset = vision.load_images(tracker, params.dataset, size=params.image_size)
    tracker.log_figure(plots.sample_grid(dataset), "plots/samples.png")
    fit.seed_everything(params.seed, params.deterministic)
    prepared = prepare(dataset, params.prepare_options())
    shape = prepared.preprocessing.sample_shape
    size = transfer.input_size(params.base, params.weights, shape, params.input_size)
    tracker.log_params({"input_shape": f"{size}x{size}x3"})

    # 75-76: the base with and without its top, counted pretrained-and-frozen or from scratch
    base = transfer.create_base(params.base, weights=params.weights, size=size, alpha=params.alpha)
    top = transfer.create_base(params.base, include_top=True, alpha=params.alpha)
    counts = transfer.parameter_table({True: top, False: base})
    del top
    tracker.log_table(counts, "parameters/counts.csv")
    totals = counts.groupby("top")["total"].first()  # the weights change what trains, not this
    tracker.log_metrics(
        {
            "base_parameters_with_top": totals["with top"],
            "base_parameters_without_top": totals["without top"],
        }
    )
    print(counts.to_string(index=False))

    model = transfer.build(
        base,
        params.base,
        sample_shape=shape,
        pixel_max=dataset.pixel_max or 255.0,
        size=size,
        n_classes=len(prepared.class_names),
        dropout=params.dropout,
        train_base=params.weights == "none",  # a random base trains with its head
    )
    config = params.fit_options()
    if params.fine_tune_layers:  # first the new head alone, then the top of the base too
        rows, batch = distribute.share(prepared.data, config.batch_size, distribute.active())
        head = fit.fit(model, build.head_for(prepared), rows, replace(config, batch_size=batch))
        tracker.log_metrics({"head_epochs": head.epochs_run})
        fit.refuse(fit.divergence_problem(head, config))
        transfer.unfreeze_top(base, params.fine_tune_layers)
        config = replace(config, learning_rate=config.learning_rate / 10)
    trainable, frozen = transfer.count(model)
    tracker.log_metrics({"trainable_parameters": trainable, "non_trainable_parameters": frozen})
    trained = workflow.train_and_log(tracker, model, prepared, config)
    vision.log_class_accuracy(tracker, prepared, trained.predictions)
