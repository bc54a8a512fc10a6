"""Tables about the entry points that more than one test module checks."""

from __future__ import annotations

# The image aliases: `<family>_<dataset>` runs image_classify with its own defaults.
ALIASES = {
    f"{family}_{dataset}": (family, dataset)
    for family in ("cnn", "dnn", "lstm")
    for dataset in ("mnist", "fashion_mnist", "cifar10", "cifar100")
}
