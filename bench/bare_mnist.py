"""The keras-io `mnist_convnet` lesson as a bare Keras script: the baseline `make bench` times
the pipeline against. Prints one JSON line: fit seconds (wall and CPU), first-epoch-end time,
test accuracy.

    python bench/bare_mnist.py FILE.npz EPOCHS BATCH_SIZE SEED
"""

import json
import sys
import time

import keras
import numpy as np

path, epochs, batch_size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
keras.utils.set_random_seed(seed)
with np.load(path) as archive:
    x_train, y_train = archive["x_train"], archive["y_train"]
    x_test, y_test = archive["x_test"], archive["y_test"]
x_train = np.expand_dims(x_train.astype("float32") / 255, -1)
x_test = np.expand_dims(x_test.astype("float32") / 255, -1)
y_train, y_test = keras.utils.to_categorical(y_train, 10), keras.utils.to_categorical(y_test, 10)

model = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
first_epoch_end = []
marker = keras.callbacks.LambdaCallback(
    on_epoch_end=lambda epoch, logs: first_epoch_end.append(time.time()) if epoch == 0 else None
)
started, cpu_started = time.perf_counter(), time.process_time()
model.fit(
    x_train,
    y_train,
    batch_size=batch_size,
    epochs=epochs,
    validation_split=0.1,
    verbose=0,
    callbacks=[marker],
)
fit_seconds = time.perf_counter() - started
fit_cpu_seconds = time.process_time() - cpu_started
accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
print(
    json.dumps(
        {
            "fit_seconds": fit_seconds,
            "fit_cpu_seconds": fit_cpu_seconds,
            "first_epoch_end": first_epoch_end[0],
            "test_accuracy": accuracy,
        }
    )
)
