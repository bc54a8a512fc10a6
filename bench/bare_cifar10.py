"""The TensorFlow tutorial's CIFAR-10 CNN as a bare Keras 3 script (any backend): the
baseline bench/gpu.py times cnn_cifar10 against. Prints one line, RESULT {json}: each
epoch's end (time.time()), the training row count, the backend.

    python bench/bare_cifar10.py FILE.npz EPOCHS BATCH_SIZE SEED VAL_FRACTION
"""

import json
import math
import sys
import time

import keras
import numpy as np

path, epochs, batch_size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
val_fraction = float(sys.argv[5])
keras.utils.set_random_seed(seed)
with np.load(path) as archive:
    x, y = archive["x_train"], archive["y_train"]
n_val = math.ceil(val_fraction * len(x))  # as many validation rows as the pipeline keeps
order = np.random.default_rng(seed).permutation(len(x))
x = x[order].astype("float32") / 255
y = y[order]
x_train, y_train, x_val, y_val = x[n_val:], y[n_val:], x[:n_val], y[:n_val]

model = keras.Sequential(
    [
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10),
    ]
)
model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
ends = []
clock = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: ends.append(time.time()))
model.fit(
    x_train,
    y_train,
    validation_data=(x_val, y_val),
    epochs=epochs,
    batch_size=batch_size,
    verbose=0,
    callbacks=[clock],
)
result = {"epoch_ends": ends, "n_train": len(x_train), "backend": keras.backend.backend()}
print("RESULT", json.dumps(result))
