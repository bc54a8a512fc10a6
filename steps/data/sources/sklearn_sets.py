"""scikit-learn's bundled sets: iris, diabetes, breast_cancer, wine, digits (offline)."""

from __future__ import annotations

import numpy as np

from steps.data.dataset import Dataset, Source


def source(name: str) -> Source:
    import sklearn
    from sklearn import datasets as sk

    def load() -> Dataset:
        if name == "diabetes":
            bunch = sk.load_diabetes(scaled=False)
            return Dataset(
                name=name,
                task="regression",
                x_train=bunch.data,
                y_train=bunch.target,
                feature_names=tuple(bunch.feature_names),
            )
        loader = {
            "iris": sk.load_iris,
            "breast_cancer": sk.load_breast_cancer,
            "wine": sk.load_wine,
            "digits": sk.load_digits,
        }[name]
        bunch = loader()
        images = name == "digits"
        return Dataset(
            name=name,
            task="classification",
            x_train=bunch.images.astype(np.uint8) if images else bunch.data,
            y_train=bunch.target,
            class_names=tuple(str(n) for n in bunch.target_names),
            feature_names=() if images else tuple(bunch.feature_names),
            pixel_max=16.0 if images else None,
        )

    return Source(name=name, key=f"sklearn-{sklearn.__version__}-{name}", load=load)
