"""Lessons 63-64 (and 78's photos): a folder of class sub-folders, read, cached, classified.

63 read many images at once and keep them as .npy: Keras 3 dropped ImageDataGenerator, so
the folder is read with `keras.utils.image_dataset_from_directory`, resized to
`-P image_size=` (64, or height,width), and cached as .npy like every other data set; the
cache key hashes the files' names, sizes and contents (not their times), so a second run is
a cache hit. Every file is decoded up front: corrupt images, non-image files and files
outside a class folder are skipped and counted (`skipped_files` metric, data/skipped_files.csv);
an empty class folder or a single class is a clear error. 64 a CNN classifies the images
(male / female in the lesson); `-P augment=true` puts RandomFlip, RandomRotation and
RandomZoom layers in front of it, which act in training only. Any folder with two class
sub-folders of photos is lesson 64 as taught (`photos/female/*.jpg`, `photos/male/*.jpg`);
`-P dataset=cats_vs_dogs` reads the dogs and cats photos of TensorFlow's transfer-learning
tutorial (downloaded once) through the same reader, its validation half as the test split.

    mlflow run . -e image_folder --env-manager local     # digits_folder: offline, written once
    mlflow run . -e image_folder --env-manager local -P dataset=dir:/abs/path/to/photos
    mlflow run . -e image_folder --env-manager local -P dataset=dir:/abs/path -P augment=true
    mlflow run . -e image_folder --env-manager local -P dataset=cats_vs_dogs -P image_size=96

Give an absolute path: `mlflow run` runs the pipeline in the project folder. Without one, the
lesson reads `digits_folder`: scikit-learn's bundled digits written out as a folder of PNG
files, one sub-folder per class (steps/data/sources/folders.py), through the same folder reader;
the run prints that folder's path and tags it (`folder`).
"""

from dataclasses import replace

from pipelines.params import Params
from steps import vision
from steps.data import catalog
from steps.errors import UserError
from steps.track import plots
from steps.track.tracker import Tracker


def run(params: Params, tracker: Tracker) -> None:
    if not catalog.is_photos(params.dataset):
        photos = [*catalog.FOLDERS, *(n for n, named in catalog.NAMED.items() if named.sized)]
        raise UserError(
            "image_folder reads a folder of class sub-folders: give -P dataset=dir:/abs/path "
            f"or {' or '.join(photos)} (image_classify takes the named data sets)"
        )
    dataset = vision.load_images(tracker, params.dataset, size=params.image_size)
    tracker.log_figure(plots.sample_grid(dataset), "plots/samples.png")
    # -P augment=true: random flips, rotations and zooms before the CNN, in training only
    recipe = replace(params.recipe(), family="cnn")  # this lesson's model is a CNN
    vision.fit_images(tracker, dataset, recipe, augment=params.augment)
