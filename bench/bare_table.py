"""The `tabular` lesson's DNN on a bundled table as a bare Keras script: the baseline
`make bench` times the pipeline's per-epoch overhead against on small data. Same split
(scikit-learn's, stratified, seeded as the prepare step does), scaler, model and batch size;
no callbacks. Prints one JSON line: fit seconds and the test accuracy.

    python bench/bare_table.py DATASET EPOCHS BATCH_SIZE SEED UNITS LAYERS DROPOUT L2 RATE
"""

import json
import sys
import time

import keras
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

name, epochs, batch_size, seed, units, layers = sys.argv[1], *map(int, sys.argv[2:7])
dropout, l2, learning_rate = map(float, sys.argv[7:10])
keras.utils.set_random_seed(seed)
x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
x = x.astype("float32")
x, x_test, y, y_test = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
x_train, x_val, y_train, y_val = train_test_split(
    x, y, test_size=0.2, random_state=seed, stratify=y
)
scaler = StandardScaler().fit(x_train)
x_train, x_val, x_test = (scaler.transform(part) for part in (x_train, x_val, x_test))

hidden = []
for _ in range(layers):
    penalty = keras.regularizers.L2(l2) if l2 else None
    hidden.append(keras.layers.Dense(units, activation="relu", kernel_regularizer=penalty))
    if dropout:
        hidden.append(keras.layers.Dropout(dropout))
model = keras.Sequential(
    [
        keras.Input(shape=x_train.shape[1:]),
        *hidden,
        keras.layers.Dense(int(y.max()) + 1, activation="softmax"),
    ]
)
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
started = time.perf_counter()
model.fit(
    x_train,
    y_train,
    validation_data=(x_val, y_val),
    epochs=epochs,
    batch_size=batch_size,
    verbose=0,
)
fit_seconds = time.perf_counter() - started
accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
print(json.dumps({"fit_seconds": fit_seconds, "test_accuracy": accuracy}))
