"""Transfer-learning steps (lessons 75-78): a Keras Applications base, frozen, plus a new head.

The model takes the data set's raw samples: it rescales them to 0-255, resizes them to
an input size the base accepts, turns them into the colours the base was trained on
(grey to three channels; BGR minus the ImageNet mean for VGG16/ResNet50, -1..1 for
MobileNetV2; EfficientNet normalises inside itself), then runs the base (a pretrained
one frozen, in inference mode), pools, and classifies with a new Dense head.

Parameter counts (lessons 75-76) come from the architecture alone: loading ImageNet
weights changes the values, not the count. What changes between "with" and "without"
pretrained weights is what is trained: a pretrained base is frozen, so its parameters
move from trainable to non-trainable; a base with random weights has nothing worth keeping
and trains whole, its BatchNormalization layers in training mode. "With top" means the
1000-class ImageNet classifier at 224x224, built with random weights (no download; VGG16's
is 138M parameters, ~550 MB).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from steps.data.sources.remote import keras_home
from steps.errors import DownloadError, UserError
from steps.model.build import HEAD_DTYPE
from steps.options import BASES, MIN_SIZE

TOP_SIZE = 224  # ImageNet's input size, at which the "with top" models are defined
MOBILENET_SIZES = (96, 128, 160, 192, 224)  # MobileNetV2's ImageNet weights exist for these
MOBILENET_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def check_choice(base: str, alpha: float) -> None:
    """What the parameter table cannot check one parameter at a time: the widths MobileNetV2
    has, and alpha for it only (`transfer`'s rule). The base is checked where the parameters
    are read; a Python caller's unknown one is refused here in the same words."""
    if base not in BASES:
        raise UserError(f"bad value {base!r} for base: choose one of {', '.join(BASES)}")
    if base == "mobilenet_v2" and alpha not in MOBILENET_ALPHAS:
        allowed = ", ".join(map(str, MOBILENET_ALPHAS))
        raise UserError(f"bad value {alpha} for alpha: choose one of {allowed}")
    if base != "mobilenet_v2" and alpha != 1.0:
        raise UserError(f"alpha (width multiplier) applies to mobilenet_v2 only, not {base}")


def input_size(base: str, weights: str, image_shape: tuple[int, ...], requested: int = 0) -> int:
    """The side the images are resized to: requested (0, or MIN_SIZE or more: `-P input_size=`
    is checked where the parameters are read), or the data's own (at least MIN_SIZE)."""
    if requested:
        return requested
    side = max(MIN_SIZE, *image_shape[:2])
    if base == "mobilenet_v2" and weights == "imagenet":  # the nearest size with weights
        side = next((s for s in MOBILENET_SIZES if s >= side), MOBILENET_SIZES[-1])
    return side


def imagenet_weights(base: str, size: int, alpha: float) -> str:
    """The base's ImageNet weights without its top: the file keras.applications would fetch,
    fetched the same way (keras.utils.get_file, Keras's URL and pinned hash) into
    $KERAS_HOME/models as set now. keras.applications itself reads KERAS_HOME only once, when
    Keras is imported."""
    import keras

    chosen = BASES[base]
    # MobileNetV2 has weights for five input sizes; at any other size Keras loads 224's.
    url = chosen.weights_url.format(
        alpha=float(alpha), size=size if size in MOBILENET_SIZES else TOP_SIZE
    )
    name = url.rsplit("/", 1)[-1]
    try:
        return keras.utils.get_file(
            name,
            url,
            file_hash=chosen.weights_md5,
            cache_subdir="models",
            cache_dir=str(keras_home()),
        )
    except Exception as exc:
        if "URL fetch failure" not in str(exc):
            raise
        raise DownloadError(
            f"cannot download the imagenet weights for {base} from {url}; Keras looks for "
            f"{keras_home() / 'models' / name}: put a copy there, or give "
            "-P weights=PATH (a local file) or -P weights=none (random start, no download)"
        ) from None


def keras_weights(weights: str, base: str, size: int, alpha: float) -> str | None:
    """`imagenet` (downloaded once), `none` or a local file, as keras.applications takes it."""
    if weights == "none":
        return None
    if weights == "imagenet":
        return imagenet_weights(base, size, alpha)
    path = Path(weights).expanduser()
    if not path.is_file():
        raise UserError(
            f"weights file not found: {path}; give -P weights=imagenet, none or an existing "
            "file (.h5 / .weights.h5) saved from the same base without its top"
        )
    return str(path.resolve())


def create_base(
    base: str,
    *,
    weights: str = "none",
    size: int = TOP_SIZE,
    include_top: bool = False,
    alpha: float = 1.0,
):
    """keras.applications.<Base>, with a clear message when the weights cannot be had.
    ImageNet weights are fetched for the base without its top only (see imagenet_weights)."""
    import keras

    check_choice(base, alpha)
    if include_top and weights == "imagenet":
        raise ValueError("imagenet weights are fetched for bases without their top only")
    extra = {"alpha": alpha} if base == "mobilenet_v2" else {}
    constructor = getattr(keras.applications, BASES[base].function)
    source = keras_weights(weights, base, size, alpha)
    try:
        return constructor(
            include_top=include_top,
            weights=source,
            input_shape=(size, size, 3),
            **extra,
        )
    except Exception as exc:
        if weights not in ("imagenet", "none") and isinstance(exc, (ValueError, OSError)):
            raise UserError(
                f"cannot load {weights} into {base} without its top at {size}x{size}: {exc}"
            ) from None
        raise


def count(model) -> tuple[int, int]:
    """(trainable, non-trainable) parameters under the model's current trainable flags."""
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return trainable, frozen


def parameter_table(bases_by_top: dict[bool, object]):
    """Lessons 75-76: counts with and without the top, pretrained-and-frozen or from scratch."""
    import pandas as pd

    rows = []
    for top, model in bases_by_top.items():
        was_trainable = model.trainable
        for pretrained in (True, False):
            model.trainable = not pretrained
            trainable, frozen = count(model)
            rows.append(
                {
                    "top": "with top" if top else "without top",
                    "weights": "pretrained, frozen" if pretrained else "none, trained",
                    "trainable": trainable,
                    "non_trainable": frozen,
                    "total": trainable + frozen,
                }
            )
        model.trainable = was_trainable
    return pd.DataFrame(rows)


def colors_layer(base: str, channels: int):
    """A frozen Dense on the channel axis: 0-255 grey or RGB -> what the base expects."""
    import keras

    kernel = np.ones((1, 3), np.float32) if channels == 1 else np.eye(3, dtype=np.float32)
    bias = np.zeros(3, np.float32)
    colors = BASES[base].colors
    if colors == "caffe":  # RGB -> BGR, minus ImageNet's mean
        kernel, bias = kernel[:, ::-1].copy(), -CAFFE_MEAN_BGR
    elif colors == "tf":  # 0..255 -> -1..1
        kernel, bias = kernel / 127.5, bias - 1.0
    layer = keras.layers.Dense(3, trainable=False, name=f"{colors}_colors")
    layer.build((None, None, None, channels))
    layer.set_weights([kernel, bias])
    return layer


def build(
    base_model,
    base: str,
    *,
    sample_shape: tuple[int, ...],
    pixel_max: float,
    size: int,
    n_classes: int,
    dropout: float = 0.0,
    train_base: bool = False,
):
    """Raw image -> 0-255 -> resized -> base colours -> base -> pooling -> new head.
    The base is frozen (in inference mode) unless `train_base` (a random start)."""
    import keras

    if len(sample_shape) not in (2, 3) or (
        len(sample_shape) == 3 and sample_shape[2] not in (1, 3)
    ):
        raise UserError(
            f"transfer takes grey or RGB images; these samples have shape {sample_shape}"
        )
    inputs = keras.Input(sample_shape, name="sample")
    x = keras.layers.Rescaling(255.0 / pixel_max)(inputs)
    if len(sample_shape) == 2:
        x = keras.layers.Reshape((*sample_shape, 1))(x)
    if tuple(sample_shape[:2]) != (size, size):
        x = keras.layers.Resizing(size, size)(x)
    x = colors_layer(base, 1 if len(sample_shape) == 2 else sample_shape[2])(x)
    base_model.trainable = train_base
    # frozen: BatchNormalization stays in inference mode; trained: it follows fit
    x = base_model(x) if train_base else base_model(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="head", dtype=HEAD_DTYPE)(x)
    return keras.Model(inputs, outputs, name=f"{base}_transfer")


def unfreeze_top(base_model, layers: int) -> int:
    """Make the last `layers` layers of the base trainable (fine-tuning); returns how many
    of them hold weights. BatchNormalization layers stay frozen, as Keras's guide advises."""
    import keras

    if layers <= 0:
        return 0
    if layers > len(base_model.layers):
        raise UserError(
            f"bad value {layers} for fine_tune_layers: {base_model.name} has "
            f"{len(base_model.layers)} layers"
        )
    base_model.trainable = True
    for position, layer in enumerate(base_model.layers):
        in_top = position >= len(base_model.layers) - layers
        layer.trainable = in_top and not isinstance(layer, keras.layers.BatchNormalization)
    return sum(1 for layer in base_model.layers[-layers:] if layer.trainable and layer.weights)
