#!/usr/bin/env bash
# cnn_cifar10 on JAX on a GPU: the pipeline against a bare Keras 3 script of the same model
# (bench/bare_cifar10.py), at batch 128 and 1024, steady-state images/s (first epoch left
# out) and their ratio (goal: pipeline >= 0.9 x bare). Details: bench/gpu.py's docstring.
#
# Made for a GPU machine without network that has JAX (GPU build) and PyTorch but no
# TensorFlow, on Python 3.12. What it lacks travels as wheels in .whl/ (git-ignored). Fetch
# them once, from the repository root, on a machine with the package index (versions: the
# ones this project is tested with):
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64 \
#     --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
#     --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
#     keras==3.15.1 namex==0.1.0 optree==0.20.0 \
#     mlflow==3.17.2 mlflow-skinny==3.17.2 mlflow-tracing==3.17.2 \
#     alembic==1.20.1 SQLAlchemy==2.1.9 Mako==1.4.3 sqlparse==0.6.1 cachetools==7.3.3 \
#     cryptography==50.0.2 cffi==2.1.1 pycparser==3.12 databricks-sdk==0.162.0 \
#     fastapi==0.165.0 starlette==1.10.0 pydantic==2.14.4 pydantic_core==2.50.5 \
#     typing-inspection==0.4.5 annotated-types==0.8.0 GitPython==3.2.1 gitdb==4.0.12 \
#     smmap==5.0.3 importlib_metadata==9.1.0 opentelemetry-api==1.45.2 \
#     opentelemetry-sdk==1.45.2 opentelemetry-semantic-conventions==0.66b2 \
#     opentelemetry-proto==1.45.2 typing_extensions==4.16.0
#
# (35 MB. Such a machine already has numpy, pandas, scikit-learn, matplotlib, tensorboard,
# protobuf, pyyaml, requests, jax and the rest of what the cnn_cifar10 path imports; the list
# above is what that path imported here beyond it, plus typing_extensions, which
# pydantic_core wants at 4.16 or newer. Optuna is not on that path. If the import check
# below names another module, add its wheel the same way, e.g. protobuf==7.36.2 when
# opentelemetry-proto finds that machine's protobuf older than 5.)
#
# Then copy the checkout with .whl/ to the GPU machine and run `bash bench/gpu.sh` from its
# root. It prints a markdown table and writes gpu_bench.json to $OUT when that is set (else
# to $BENCH_WORK).
#
# Rehearsal on a CPU with this project's venv (no wheels; TensorFlow hidden as on the GPU):
#   PYTHON=.venv/bin/python BENCH_WHEELS=0 BENCH_HIDE_TENSORFLOW=1 BENCH_TRAIN=1000 \
#     BENCH_TEST=200 BENCH_EPOCHS=3 BENCH_BATCHES="32 128" bash bench/gpu.sh
#
# On a machine with several GPUs the pipeline also trains data-parallel on all of them
# (-P devices=all, same global batch) and the speed-up over one device is reported;
# rehearse that case on the CPU by adding JAX_NUM_CPU_DEVICES=2 to the line above (a
# rehearsal of the commands only: one CPU split in two is no faster).
#
# Sizes: BENCH_TRAIN (50000), BENCH_TEST (10000), BENCH_EPOCHS (8), BENCH_BATCHES
# ("128 1024"), BENCH_REPEATS (1); BENCH_WORK (/tmp/keras-lessons-gpu) holds data and runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if [ "${BENCH_WHEELS:-1}" = 1 ]; then
    if ! ls .whl/*.whl >/dev/null 2>&1; then
        echo "error: no wheels in .whl/: fetch them with the commands at the top of $0" >&2
        exit 2
    fi
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi

export KERAS_BACKEND=jax
if [ "${BENCH_HIDE_TENSORFLOW:-0}" = 1 ]; then
    export PYTHONPATH=$PWD/bench/no_tensorflow${PYTHONPATH:+:$PYTHONPATH}
fi

# What the pipeline needs imports without TensorFlow (and says which module is missing).
"$PYTHON" - <<'EOF'
import importlib, importlib.util, sys
missing = []
for name in ("jax", "keras", "mlflow", "mlflow.keras", "mlflow.pyfunc",
             "mlflow.store.tracking.sqlalchemy_store", "alembic", "sklearn", "pandas",
             "matplotlib", "tensorboard.compat.proto.event_pb2"):
    try:
        importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - report every broken import, not only the first
        missing.append(f"{name} ({type(exc).__name__}: {exc})")
if missing:
    sys.exit("error: cannot import " + "; ".join(missing) + ": add its wheel to .whl/")
import jax, keras, mlflow
try:
    tensorflow = "present" if importlib.util.find_spec("tensorflow") else "absent"
except ImportError:
    tensorflow = "hidden"
print(f"python {sys.version.split()[0]}, jax {jax.__version__}, keras {keras.__version__}, "
      f"mlflow {mlflow.__version__}, tensorflow {tensorflow}")
EOF

exec "$PYTHON" bench/gpu.py
