"""steps.transfer on MobileNetV2 at width 0.35 (the smallest base): no download anywhere."""

from __future__ import annotations

import numpy as np
import pytest

from steps import transfer
from steps.errors import UserError


@pytest.fixture(scope="module")
def small_base():
    return transfer.create_base("mobilenet_v2", size=32, alpha=0.35)


def test_input_size_is_the_datas_own_but_at_least_32():
    assert transfer.input_size("vgg16", "none", (8, 8)) == 32
    assert transfer.input_size("resnet50", "none", (64, 48, 3)) == 64
    assert transfer.input_size("vgg16", "none", (8, 8), requested=48) == 48
    # MobileNetV2's ImageNet weights exist for 96..224 only: the nearest is taken
    assert transfer.input_size("mobilenet_v2", "imagenet", (32, 32, 3)) == 96
    assert transfer.input_size("mobilenet_v2", "imagenet", (150, 150, 3)) == 160


@pytest.mark.parametrize(
    ("base", "alpha", "message"),
    [
        ("vgg19", 1.0, "bad value 'vgg19' for base: choose one of vgg16, resnet50"),
        ("mobilenet_v2", 0.3, "bad value 0.3 for alpha: choose one of 0.35"),
        ("vgg16", 0.5, "alpha (width multiplier) applies to mobilenet_v2 only"),
    ],
)
def test_bad_choices_are_named(base, alpha, message):
    with pytest.raises(UserError) as error:
        transfer.check_choice(base, alpha)
    assert message in str(error.value)


def test_colors_match_each_bases_own_preprocessing():
    import keras

    rgb = np.array([[[[10.0, 20.0, 30.0], [255.0, 0.0, 128.0]]]], np.float32)
    caffe = keras.applications.vgg16.preprocess_input(rgb.copy())
    np.testing.assert_allclose(transfer.colors_layer("vgg16", 3)(rgb), caffe, atol=1e-4)
    tf_mode = keras.applications.mobilenet_v2.preprocess_input(rgb.copy())
    np.testing.assert_allclose(transfer.colors_layer("mobilenet_v2", 3)(rgb), tf_mode, atol=1e-5)
    np.testing.assert_allclose(transfer.colors_layer("efficientnet_b0", 3)(rgb), rgb)
    grey = np.array([[[[50.0]]]], np.float32)
    np.testing.assert_allclose(transfer.colors_layer("efficientnet_b0", 1)(grey), [[[[50.0] * 3]]])


def test_parameter_counts_with_and_without_top_and_weights(small_base):
    top = transfer.create_base("mobilenet_v2", include_top=True, alpha=0.35)
    table = transfer.parameter_table({True: top, False: small_base}).set_index(["top", "weights"])
    with_top, without = table.loc["with top"], table.loc["without top"]
    # the ImageNet top is pooling plus Dense(1000) on 1280 features
    assert with_top["total"].iloc[0] - without["total"].iloc[0] == 1280 * 1000 + 1000
    for part in (with_top, without):
        frozen, scratch = part.loc["pretrained, frozen"], part.loc["none, trained"]
        assert frozen["trainable"] == 0 and frozen["non_trainable"] == frozen["total"]
        assert scratch["total"] == frozen["total"]
        assert 0 < scratch["non_trainable"] < scratch["trainable"]  # BatchNorm statistics only
    assert small_base.trainable  # the table leaves the base as it found it


def test_vgg16_counts_with_and_without_its_top():
    """Lessons 75-76 on the lesson's own model, built offline (weights=None: the count is the
    architecture's). The top is Flatten plus three Dense layers: 7x7x512 -> 4096 -> 4096 ->
    1000. Building VGG16 with its top costs ~1 s and ~1.4 GB here."""
    import gc

    top = transfer.create_base("vgg16", include_top=True)
    with_top = transfer.parameter_table({True: top}).set_index("weights")
    del top
    gc.collect()
    base = transfer.create_base("vgg16", size=32)
    without = transfer.parameter_table({False: base}).set_index("weights")
    assert with_top["total"].tolist() == [138_357_544, 138_357_544]
    assert without["total"].tolist() == [14_714_688, 14_714_688]
    dense = (7 * 7 * 512 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    assert dense == 138_357_544 - 14_714_688
    # no BatchNormalization: trained from scratch, every parameter trains; pretrained, none
    assert without.loc["none, trained", "non_trainable"] == 0
    assert without.loc["pretrained, frozen", "trainable"] == 0


def test_model_takes_raw_grey_images_and_trains_the_head_only(small_base):
    model = transfer.build(
        small_base, "mobilenet_v2", sample_shape=(8, 8), pixel_max=16.0, size=32, n_classes=10
    )
    probabilities = np.asarray(model.predict(np.full((3, 8, 8), 16.0, np.float32), verbose=0))
    assert probabilities.shape == (3, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    trainable, _ = transfer.count(model)
    assert trainable == 1280 * 10 + 10


def test_a_random_base_trains_whole_with_its_head():
    """weights=none: the counts table's "none, trained" row plus the head is what trains;
    only BatchNorm statistics and the fixed colour layer (RGB: 3 x 3 + 3) stay frozen."""
    base = transfer.create_base("mobilenet_v2", size=32, alpha=0.35)
    scratch = transfer.parameter_table({False: base}).set_index("weights").loc["none, trained"]
    model = transfer.build(
        base,
        "mobilenet_v2",
        sample_shape=(32, 32, 3),
        pixel_max=255.0,
        size=32,
        n_classes=10,
        train_base=True,
    )
    assert transfer.count(model) == (
        scratch["trainable"] + 1280 * 10 + 10,
        scratch["non_trainable"] + 3 * 3 + 3,
    )


def test_fine_tuning_unfreezes_the_top_layers_but_not_batchnorm(small_base):
    import keras

    transfer.build(
        small_base, "mobilenet_v2", sample_shape=(32, 32, 3), pixel_max=255.0, size=32, n_classes=2
    )
    with_weights = transfer.unfreeze_top(small_base, 6)
    trainable = [layer for layer in small_base.layers if layer.trainable and layer.weights]
    assert len(trainable) == with_weights > 0
    assert all(layer in small_base.layers[-6:] for layer in trainable)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in trainable)
    with pytest.raises(UserError, match=r"for fine_tune_layers: .* has 154 layers"):
        transfer.unfreeze_top(small_base, 1000)


def test_weights_from_a_local_file(tmp_path, small_base):
    path = tmp_path / "base.weights.h5"
    small_base.save_weights(path)
    loaded = transfer.create_base("mobilenet_v2", weights=str(path), size=32, alpha=0.35)
    for mine, theirs in zip(small_base.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    with pytest.raises(UserError, match=r"weights file not found: .*missing.h5"):
        transfer.create_base("mobilenet_v2", weights=str(tmp_path / "missing.h5"), size=32)
    with pytest.raises(UserError, match=r"cannot load .* into vgg16 without its top"):
        transfer.create_base("vgg16", weights=str(path), size=32)


def test_imagenet_weights_are_looked_for_in_keras_home_as_set_now(
    tmp_path, monkeypatch, small_base
):
    """keras.applications reads KERAS_HOME once, when Keras is imported; the weights are
    looked for in the home set when the base is made (MobileNetV2's files have no pinned
    hash: a copy put there is used as it is, nothing is downloaded)."""
    import keras

    home = tmp_path / "later_home"  # made after Keras was imported, so unknown to it
    (home / "models").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
    keras.saving.save_model(small_base, home / "models" / name)  # the legacy .h5 Keras serves
    loaded = transfer.create_base("mobilenet_v2", weights="imagenet", size=96, alpha=0.35)
    for mine, theirs in zip(small_base.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
