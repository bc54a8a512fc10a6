"""Activation functions and their derivatives, from Keras's own code by autodiff."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from steps import activations

# -4.65, -4.45, ... 4.75: at least 0.05 from every kink (0, +-0.5, +-1, +-3 of relu,
# hard_*, *_shrink, sparse_*), so central differences with a 0.01 step stay on one side.
X = (np.arange(-4.7, 4.8, 0.2) + 0.05).astype(np.float32)


def test_every_keras_activation_is_plotted_or_said_why_not():
    helpers = {"get", "serialize", "deserialize"}
    available = {n for n in dir(keras.activations) if not n.startswith("_")} - helpers
    assert available == set(activations.ACTIVATIONS) | set(activations.NOT_PLOTTED)
    assert activations.ACTIVATIONS[:4] == ("sigmoid", "tanh", "relu", "softmax")


@pytest.mark.parametrize("name", activations.ACTIVATIONS)
def test_autodiff_gradient_matches_finite_differences(name):
    values, gradients = activations.values_and_gradients(name, X)
    step = 1e-2
    above, _ = activations.values_and_gradients(name, X + step)
    below, _ = activations.values_and_gradients(name, X - step)
    central = (above.astype(np.float64) - below) / (2 * step)
    scale = np.maximum(1.0, np.abs(central))  # exponential reaches e^4.7
    assert np.all(np.abs(gradients - central) / scale < 2e-3), name
    assert values.shape == gradients.shape == X.shape


def test_the_shapes_lesson_71_shows():
    table = activations.activation_table(("sigmoid", "tanh", "relu", "softmax"), X)
    assert table["sigmoid_grad"].max() <= 0.25 + 1e-6  # sigmoid's gradient is at most 1/4
    assert table["tanh_grad"].max() <= 1.0 + 1e-6
    assert set(table["relu_grad"].round(6)) == {0.0, 1.0}
    # softmax of the logits (x, 0) is sigmoid(x): the same curve and gradient
    np.testing.assert_allclose(table["softmax"], table["sigmoid"], atol=1e-6)
    np.testing.assert_allclose(table["softmax_grad"], table["sigmoid_grad"], atol=1e-6)


def test_figure_has_one_panel_per_activation():
    table = activations.activation_table(activations.ACTIVATIONS, X)
    figure = activations.activation_figure(table, activations.ACTIVATIONS)
    titled = [ax for ax in figure.axes if ax.get_title()]
    assert len(titled) == len(activations.ACTIVATIONS)
    assert all(len(ax.lines) == 4 for ax in titled)  # f, df/dx and the two axes


@pytest.mark.parametrize("rate", [0.1, 0.9])
def test_gradient_descent_follows_the_slope_to_the_minimum(rate):
    """On x^2 - 4x + 6 each step is x - rate * (2x - 4): x_n = 2 - 2 (1 - 2 rate)^n from 0."""
    path = activations.gradient_descent(lambda x: x**2 - 4 * x + 6, 0.0, rate, 30)
    assert path["step"].tolist() == list(range(31))
    expected = 2 - 2 * (1 - 2 * rate) ** path["step"]
    np.testing.assert_allclose(path["x"], expected, atol=1e-5)
    np.testing.assert_allclose(path["gradient"], 2 * path["x"] - 4, atol=1e-5)
    assert path["f"].iloc[0] == 6 and path["f"].iloc[-1] == pytest.approx(2, abs=1e-4)
    if rate > 0.5:  # a step too long for one side: x lands across the minimum each time
        assert ((path["x"].iloc[1:] > 2) != (path["x"].shift().iloc[1:] > 2)).all()
