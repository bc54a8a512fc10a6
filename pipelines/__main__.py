import gc
import sys

from pipelines.cli import main

code = main(sys.argv[1:])
# The process ends here: none of its objects need collecting, and walking them all twice
# on the way out takes seconds (exit handlers, MLflow's flushing among them, still run).
gc.freeze()
sys.exit(code)
