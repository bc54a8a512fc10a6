"""Layer helpers every model family and hand-written model shares (lessons 42, 73).

`ModelOptions` (in `steps.model.options`) are the build parameters; the helpers add a layer
with the options' kernel initializer and L1/L2 penalty, and the per-layer extras:
BatchNormalization, the activation, Dropout.
"""

from __future__ import annotations

from steps.model.options import ModelOptions


def regularized(opts: ModelOptions) -> dict:
    import keras

    penalty = None
    if opts.l1 > 0 or opts.l2 > 0:
        penalty = keras.regularizers.L1L2(l1=opts.l1, l2=opts.l2)
    return {"kernel_initializer": opts.initializer, "kernel_regularizer": penalty}


def extras(opts: ModelOptions) -> list:
    """The per-layer extras of lessons 73 and 42: BatchNormalization, activation, Dropout."""
    import keras

    layers = [keras.layers.BatchNormalization()] if opts.batch_norm else []
    layers.append(keras.layers.Activation(opts.activation))
    if opts.dropout > 0:
        layers.append(keras.layers.Dropout(opts.dropout))
    return layers


def after(x, opts: ModelOptions):
    for layer in extras(opts):
        x = layer(x)
    return x


def dense_layers(opts: ModelOptions, count: int) -> list:
    """`count` Dense layers with their extras, fresh, as a list (a keras.Sequential takes it)."""
    import keras

    return [
        layer
        for _ in range(count)
        for layer in (keras.layers.Dense(opts.units, **regularized(opts)), *extras(opts))
    ]


def dense_stack(x, opts: ModelOptions, count: int):
    for layer in dense_layers(opts, count):
        x = layer(x)
    return x


def conv_block(x, filters: int, opts: ModelOptions):
    """Conv2D with its activation fused in, or Conv2D -> BatchNormalization -> activation."""
    import keras

    padding = "valid" if min(x.shape[1], x.shape[2]) >= 3 else "same"
    if not opts.batch_norm:
        return keras.layers.Conv2D(
            filters, 3, padding=padding, activation=opts.activation, **regularized(opts)
        )(x)
    x = keras.layers.Conv2D(filters, 3, padding=padding, **regularized(opts))(x)
    return keras.layers.Activation(opts.activation)(keras.layers.BatchNormalization()(x))


def recurrent_layers(cell: str, opts: ModelOptions) -> list:
    """Lessons 17-22: `opts.layers` layers of the Keras `cell` (LSTM, SimpleRNN, GRU); every
    one but the last returns its whole sequence (return_sequences keeps the time axis), so
    they stack."""
    import keras

    layer = getattr(keras.layers, cell)
    layers = []
    for i in range(opts.layers):
        last = i == opts.layers - 1
        layers.append(layer(opts.units, return_sequences=not last, **regularized(opts)))
        if opts.batch_norm:
            layers.append(keras.layers.BatchNormalization())
        if opts.dropout > 0:
            layers.append(keras.layers.Dropout(opts.dropout))
    return layers
