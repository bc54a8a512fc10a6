"""Lesson 47: check that the GPU is used.

Lists the Keras backend and the devices it sees (TensorFlow: `tf.config`, JAX:
`jax.devices()`, torch: `torch.cuda`), then times a `-P size` square float32 matmul
`-P repeats` times on each, logging the median seconds and GFLOP/s (metrics, tags and
`devices.json`). Without a GPU it says "no GPU found: running on CPU only" and succeeds.

    mlflow run . -e gpu_check --env-manager local [-P size=1024 -P repeats=5]
"""

import json
import re

from pipelines.params import Params
from steps import devices
from steps.track.tracker import Tracker


def run(params: Params, tracker: Tracker) -> None:
    import keras

    backend = keras.backend.backend()
    found = devices.list_devices(backend)
    summary = devices.summary(backend, found)
    print(summary)
    gpus = [d for d in found if d.kind == "GPU"]
    tracker.set_tags(
        backend=backend,
        gpu=", ".join(d.description or d.name for d in gpus) if gpus else "none",
        device_summary=summary,
    )
    tracker.log_params({"backend": backend, "keras_version": keras.__version__})
    timings = []
    for device in found:
        timing = devices.time_matmul(backend, device, params.size, params.repeats)
        timings.append(timing)
        key = re.sub(r"[^\w.-]", "_", device.name.removeprefix("/device:"))
        tracker.log_metrics(
            {f"matmul_seconds_{key}": timing.median_seconds, f"matmul_gflops_{key}": timing.gflops}
        )
        print(
            f"{device.name} ({device.kind}): {params.size}x{params.size} float32 matmul "
            f"{timing.median_seconds * 1000:.2f} ms (median of {params.repeats}), "
            f"{timing.gflops:.1f} GFLOP/s"
        )
    tracker.log_metrics({"gpu_count": len(gpus), "device_count": len(found)})
    report = {"backend": backend, "summary": summary, "devices": [t.as_dict() for t in timings]}
    tracker.log_text(json.dumps(report, indent=1) + "\n", "devices.json")
