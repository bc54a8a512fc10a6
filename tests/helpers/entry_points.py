"""Tables about the entry points that more than one test module checks."""

from __future__ import annotations

from pipelines.entry_points import IMAGE_ALIASES

# The image aliases: `<family>_<dataset>` runs image_classify with its own defaults.
ALIASES = {f"{family}_{dataset}": (family, dataset) for family, dataset, *_ in IMAGE_ALIASES}
