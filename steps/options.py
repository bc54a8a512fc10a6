"""What the topic steps at this level take from the parameters: the text options, the
pretrained bases transfer learning starts from, and the standard lesson's `Recipe`. Like
the rooms' own `options` modules (`steps.data.options`, `steps.model.options`,
`steps.train.options`), it imports nothing heavy, so the parameter table
(`pipelines.params`) reads it in milliseconds; `steps.text`, `steps.transfer` and
`steps.workflow` do the work."""

from __future__ import annotations

from dataclasses import dataclass

from steps.data.options import PrepareOptions
from steps.model.options import ModelOptions
from steps.train.options import FitOptions


@dataclass(frozen=True)
class Recipe:
    """Everything the standard lesson (`steps.workflow.fit_dataset`) needs besides the data."""

    family: str
    prepare: PrepareOptions
    model: ModelOptions
    fit: FitOptions


# ---------------------------------------------------------------- text (lessons 79-83)


# How the padded word indices enter the model's body (lesson 80): through an Embedding, as
# one vocabulary-wide one-hot vector per word, or as the index itself (one number per word).
WORD_INPUTS = ("embedding", "onehot", "index")


@dataclass(frozen=True)
class TextOptions:
    """Every text padded or cut to `maxlen` words, each word an `embedding_dim` vector (or,
    without an Embedding, a one-hot vector or its bare index: `word_input`)."""

    maxlen: int
    embedding_dim: int
    bidirectional: bool  # each recurrent layer reads the text both ways (lesson 83)
    word_input: str  # embedding, onehot or index (WORD_INPUTS)


# ---------------------------------------------------------------- transfer learning (75-78)

MIN_SIZE = 32  # the smallest input every one of these bases accepts without its top


@dataclass(frozen=True)
class Base:
    function: str  # keras.applications.<function>
    colors: str  # what the base expects: caffe (BGR - mean), tf (-1..1) or raw (0-255)
    # Its ImageNet weights without the top: the URL and pinned MD5 keras.applications uses
    # (MobileNetV2 has one file per width and input size, and no pinned hash).
    weights_url: str
    weights_md5: str | None = None


APPLICATIONS = "https://storage.googleapis.com/tensorflow/keras-applications/"
BASES: dict[str, Base] = {
    "vgg16": Base(
        "VGG16",
        "caffe",
        f"{APPLICATIONS}vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "6d6bbae143d832006294945121d1f1fc",
    ),
    "resnet50": Base(
        "ResNet50",
        "caffe",
        f"{APPLICATIONS}resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "4d473c1dd8becc155b73f8504c6f6626",
    ),
    "mobilenet_v2": Base(
        "MobileNetV2",
        "tf",
        f"{APPLICATIONS}mobilenet_v2/"
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{size}_no_top.h5",
    ),
    "efficientnet_b0": Base(
        "EfficientNetB0",
        "raw",
        "https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5",
        "50bc09e76180e00e4465e1a485ddc09d",
    ),
}
