"""Per-epoch reseeding: the randomness of each epoch (shuffling, dropout) drawn from
(seed, epoch) instead of from whatever came before, so a resumed fit continues exactly."""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np


def epoch_seeds(seed: int):
    """Reseed Python, NumPy, the backend and every layer's SeedGenerator at each epoch.

    Not `keras.utils.set_random_seed`: TensorFlow's `set_seed` clears its kernel caches, which
    cost 0.2 s an epoch. On TensorFlow the rows' order comes from the input pipeline
    (`steps.train.feed`), drawn from (seed, epoch) too; the other backends shuffle with NumPy's
    generator, reseeded here."""
    import keras

    torch = keras.backend.backend() == "torch"

    class EpochSeeds(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            epoch_seed = seed * 10_000 + epoch
            random.seed(epoch_seed)
            np.random.seed(epoch_seed % 2**32)
            if torch:
                import torch as backend_torch

                backend_torch.manual_seed(epoch_seed)
            for generator in seed_generators(self.model):
                state = np.array([epoch_seed, 0], dtype=generator.state.dtype)
                generator.state.assign(state)

    return EpochSeeds()


def all_layers(layer) -> Iterator:
    for sub in getattr(layer, "layers", []):
        yield sub
        yield from all_layers(sub)


def seed_generators(model) -> list:
    import keras

    found = []
    for layer in all_layers(model):
        found += [v for v in vars(layer).values() if isinstance(v, keras.random.SeedGenerator)]
    return found
