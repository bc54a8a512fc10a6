"""`-P backend=`: the JAX backend end to end, without TensorFlow; precision and XLA options.

Keras reads KERAS_BACKEND once, at its first import, and this test process has imported it
with TensorFlow: every JAX check runs in its own process. TensorFlow is hidden from those
processes (`NO_TENSORFLOW`), as on a GPU machine that has JAX and no TensorFlow, so a stray
`import tensorflow` on the JAX path fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from pipelines.declare import validate
from pipelines.params import Params
from steps import backends
from steps.data import prepare
from steps.data.sources import image_folder, sklearn_sets
from steps.errors import UserError
from steps.model import build
from steps.train import fit

from helpers.options import model_options, prepare_options
from helpers.runs import REPO, TINY, artifact_paths, finished_run, mlflow_run, only_run

# Put first on PYTHONPATH, its sitecustomize makes `import tensorflow` fail (bench/gpu.sh's).
NO_TENSORFLOW = REPO / "bench" / "no_tensorflow"

# Not imported here: this process runs TensorFlow, and JAX would start its own runtime.
needs_jax = pytest.mark.skipif(
    not backends.installed("jax"), reason="the JAX backend is optional: pip install '.[jax]'"
)


@pytest.fixture
def jax_env(lesson_env) -> dict[str, str]:
    """A pipeline process on JAX with TensorFlow hidden (sitecustomize runs at start-up)."""
    path = os.pathsep.join([str(NO_TENSORFLOW), str(REPO)])
    return lesson_env | {"PYTHONPATH": path, "JAX_PLATFORMS": "cpu"}


@pytest.mark.slow
@needs_jax
def test_cnn_cifar10_on_jax_without_tensorflow(jax_env, tracking, tmp_path):
    """What a user sees: the run finishes, says jax, has its metrics, TensorBoard traces
    that TensorBoard reads, and a model that MLflow reloads and predicts with."""
    import mlflow
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    params = TINY | {"backend": "jax", "filters": "4,8,8", "reduce_lr_patience": 1}
    result = mlflow_run("cnn_cifar10", params, jax_env, tmp_path)
    run = finished_run(result, tracking, "cnn_cifar10")
    assert "No module named 'tensorflow'" not in result.stderr
    assert run.info.status == "FINISHED"
    assert run.data.params["backend"] == "jax"
    assert {"test_loss", "test_accuracy", "fit_seconds"} <= run.data.metrics.keys()
    epochs = int(run.data.metrics["epochs_run"])
    assert epochs == TINY["epochs"]
    for name in ("loss", "val_loss", "accuracy", "learning_rate"):
        steps = [m.step for m in tracking.get_metric_history(run.info.run_id, name)]
        assert steps == list(range(1, epochs + 1)), name  # epochs from 1 (TensorBoard: 0)

    artifacts = artifact_paths(tracking, run.info.run_id)
    for split, expected in (
        ("train", {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"}),
        ("validation", {"epoch_loss", "epoch_accuracy"}),
    ):
        assert any(p.startswith(f"tensorboard/{split}/events.out.tfevents.") for p in artifacts)
        local = tracking.download_artifacts(run.info.run_id, f"tensorboard/{split}", str(tmp_path))
        events = EventAccumulator(local).Reload()
        assert set(events.Tags()["scalars"]) == expected, split
        for tag in expected:
            assert [s.step for s in events.Scalars(tag)] == list(range(epochs)), (split, tag)
    history = tracking.get_metric_history(run.info.run_id, "loss")
    written = EventAccumulator(str(tmp_path / "train")).Reload().Scalars("epoch_loss")
    np.testing.assert_allclose([s.value for s in written], [m.value for m in history], rtol=1e-6)

    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3)).astype("float32")
    predictions = np.asarray(model.predict(images))
    assert predictions.shape == (3, 10)
    np.testing.assert_allclose(predictions.sum(axis=1), 1, rtol=1e-4)


JAX_CHECKS = """
import json
import keras
import numpy as np
from pipelines.params import Params
from steps import activations, backends
from steps.data import prepare
from steps.model import build
from steps.train import fit
from steps.data.sources import sklearn_sets

out = {"backend": keras.backend.backend()}
x = (np.arange(-4.7, 4.8, 0.2) + 0.05).astype(np.float32)
for name in ("sigmoid", "relu", "softmax", "gelu"):
    values, gradients = activations.values_and_gradients(name, x)
    above, _ = activations.values_and_gradients(name, x + 1e-2)
    below, _ = activations.values_and_gradients(name, x - 1e-2)
    out[name] = float(np.max(np.abs(gradients - (above - below) / 2e-2)))

digits = sklearn_sets.source("digits").load()
prepared = prepare.prepare(digits, Params(seed=3).prepare_options())
small = prepare.Split(*(part[:48] for part in (
    prepared.data.x_train, prepared.data.y_train, prepared.data.x_val, prepared.data.y_val,
    prepared.data.x_test, prepared.data.y_test)))
config = Params(epochs=1, batch_size=16, verbose=0, seed=3, jit_compile="false").fit_options()
options = Params(units=8, layers=1, filters=(4,)).model_options()

def train():
    fit.seed_everything(3)
    model = build.build("cnn", prepared, options)
    result = fit.fit(model, build.head_for(prepared), small, config)
    return model, result.history

model, first = train()
_, second = train()
out["same_seed_same_history"] = first == second
out["jit_compile_false"] = model.jit_compile

backends.set_precision("mixed_bfloat16")
model = build.build("cnn", prepared, options)
history = fit.fit(model, build.head_for(prepared), small, config).history
out["mixed"] = {layer.name: layer.dtype_policy.name for layer in model.layers}
out["mixed_loss"] = history["loss"]
print("RESULT", json.dumps(out))
"""


@pytest.fixture(scope="module")
def jax_checks(tmp_path_factory) -> dict:
    """The unit-level JAX checks, in one process: gradients, seeding, precision, XLA."""
    folder = tmp_path_factory.mktemp("jax_checks")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERAS_LESSONS_")}
    env |= {
        "KERAS_BACKEND": "jax",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": os.pathsep.join([str(NO_TENSORFLOW), str(REPO)]),
        "KERAS_LESSONS_CACHE": str(folder / "cache"),
    }
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(JAX_CHECKS)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


@pytest.mark.slow
@needs_jax
def test_activation_gradients_come_from_jax_grad(jax_checks):
    assert jax_checks["backend"] == "jax"
    for name in ("sigmoid", "relu", "softmax", "gelu"):
        assert jax_checks[name] < 2e-3, name  # autodiff agrees with central differences


@needs_jax
def test_same_seed_gives_the_same_history_on_jax(jax_checks):
    assert jax_checks["same_seed_same_history"]
    assert jax_checks["jit_compile_false"] is False


@needs_jax
def test_mixed_bfloat16_on_jax_trains_with_a_float32_head(jax_checks):
    policies = jax_checks["mixed"]
    assert policies["head"] == "float32"
    assert {policies[name] for name in policies if name.startswith("conv2d")} == {"mixed_bfloat16"}
    assert all(np.isfinite(jax_checks["mixed_loss"]))


# ---------------------------------------------------------------- choosing the backend


def test_backend_comes_from_the_parameter_then_the_variable(monkeypatch):
    import keras

    loaded = keras.backend.backend()  # this process's Keras: the one any choice must match
    monkeypatch.setenv("KERAS_BACKEND", loaded)
    assert backends.choose("") == loaded
    monkeypatch.delenv("KERAS_BACKEND")
    if loaded == "tensorflow":
        assert backends.choose("") == "tensorflow"  # neither given: TensorFlow
    for other in (b for b in backends.BACKENDS if b != loaded and backends.installed(b)):
        with pytest.raises(UserError, match=f"already loaded with the {loaded} backend"):
            backends.choose(other)
    with pytest.raises(UserError, match="'theano' is not a Keras backend"):
        monkeypatch.setenv("KERAS_BACKEND", "theano")
        backends.choose("")


def test_a_backend_that_is_not_installed_fails_the_run_in_one_line(tmp_path, monkeypatch, capsys):
    """As `mlflow run -P backend=torch` meets it (torch is no dependency): one line naming the
    install command, exit 2, and the run MLflow created FAILED with the reason on it."""
    import mlflow

    from pipelines import cli

    monkeypatch.setattr(backends, "PACKAGES", backends.PACKAGES | {"torch": ("torch_not_here",)})
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    launched = client.create_run(client.create_experiment("dnn_basic")).info.run_id
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_RUN_ID", launched)
    capsys.readouterr()  # MLflow's own lines while it created the store
    try:
        assert cli.main(["dnn_basic", "--backend", "torch"]) == 2
    finally:
        mlflow.set_tracking_uri(None)
    line = "error: backend torch is not installed (torch_not_here missing): run `pip install torch`"
    assert capsys.readouterr().err.splitlines() == [f"{line}, or choose another with -P backend="]
    run = client.get_run(launched)
    assert run.info.status == "FAILED"
    assert run.data.tags["error"].startswith("backend torch is not installed")

    monkeypatch.setattr(backends, "PACKAGES", backends.PACKAGES | {"jax": ("jax_not_here",)})
    with pytest.raises(UserError, match=r"backend jax is not installed .*pip install '\.\[jax\]'"):
        backends.choose("jax")


def test_bad_precision_and_jit_values_are_refused():
    with pytest.raises(UserError, match="mixed_precision: choose one of float32, mixed_float16"):
        validate(Params, {"mixed_precision": "half"})
    with pytest.raises(UserError, match="jit_compile: choose one of auto, true, false"):
        validate(Params, {"jit_compile": "yes"})
    with pytest.raises(UserError, match="backend: choose one of tensorflow, jax, torch"):
        validate(Params, {"backend": "cntk"})


# ---------------------------------------------------------------- precision and XLA (in process)


@pytest.fixture
def digits_cnn():
    digits = sklearn_sets.source("digits").load()
    return prepare.prepare(digits, prepare_options(seed=1))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_builds_16_bit_layers_and_a_float32_head(digits_cnn, policy):
    import keras

    try:
        backends.set_precision(policy)
        model = build.build("cnn", digits_cnn, model_options(units=8, layers=1, filters=(4,)))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    assert conv.dtype_policy.name == policy
    assert conv.compute_dtype == policy.removeprefix("mixed_")
    assert conv.kernel.dtype == "float32"  # variables stay float32
    head = model.get_layer("head")
    assert head.dtype_policy.name == "float32"
    assert model.outputs[0].dtype == "float32"


def test_default_precision_is_float32_even_after_a_mixed_run(digits_cnn):
    import keras

    backends.set_precision("mixed_float16")  # an earlier run in the same process
    backends.set_precision("")
    model = build.build("cnn", digits_cnn, model_options(units=8, layers=1, filters=(4,)))
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    assert keras.mixed_precision.global_policy().name == "float32"


@pytest.mark.parametrize("value", ["auto", "true", "false"])
def test_jit_compile_reaches_model_compile(digits_cnn, value):
    config = Params(jit_compile=value).fit_options()
    assert config.jit_compile == value
    model = build.build("cnn", digits_cnn, model_options(units=8, layers=1, filters=(4,)))
    fit.compile_model(model, build.head_for(digits_cnn), config)
    from keras.src.trainers.trainer import model_supports_jit

    # auto: Keras decides (off on a CPU-only TensorFlow, on for JAX when the model allows).
    requested = {"true": True, "false": False, "auto": model._resolve_auto_jit_compile()}[value]
    assert model.get_compile_config()["jit_compile"] is requested
    # In effect: Keras drops XLA where it refuses it, as on TensorFlow once op determinism is
    # on (the pipelines' seed_everything turns it on; an earlier test in this worker may have).
    assert model.jit_compile is (requested and model_supports_jit(model))


def test_the_cli_logs_the_backend_and_sets_the_policy(tmp_path, monkeypatch):
    """In process (this process runs Keras on its own backend): the run's `backend` param is
    the one Keras loaded, and -P mixed_precision= is the policy while the pipeline runs."""
    import keras
    import mlflow

    from pipelines import cli

    seen = {}
    monkeypatch.setenv("KERAS_BACKEND", keras.backend.backend())  # restored after: cli sets it
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("KERAS_LESSONS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(
        "pipelines.dnn_basic.run",
        lambda params, tracker: seen.update(policy=keras.mixed_precision.global_policy().name),
    )
    try:
        code = cli.main(["dnn_basic", "--mixed_precision", "mixed_bfloat16", "--verbose", "0"])
    finally:
        keras.mixed_precision.set_global_policy("float32")
        mlflow.set_tracking_uri(None)
    assert code == 0
    assert seen["policy"] == "mixed_bfloat16"
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = only_run(client, "dnn_basic")
    assert run.data.params["backend"] == keras.backend.backend()
    assert run.data.params["mixed_precision"] == "mixed_bfloat16"


# ---------------------------------------------------------------- what needs TensorFlow


def test_raw_text_models_stop_in_one_line_off_tensorflow(monkeypatch):
    from steps import text

    monkeypatch.setattr(backends, "current", lambda: "jax")
    with pytest.raises(UserError, match=r"TextVectorization.* rerun with -P backend=tensorflow"):
        text.vectorizer(np.array(["a b", "c"]), num_words=0, length=4)


def test_image_folders_say_tensorflow_is_needed_when_it_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(backends, "installed", lambda package: package != "tensorflow")
    with pytest.raises(UserError, match="needs TensorFlow installed: run `pip install tensorflow`"):
        image_folder.scan_image_folder(tmp_path)
