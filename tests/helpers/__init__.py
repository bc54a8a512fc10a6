"""What the test modules share; fixtures stay in tests/conftest.py.

- `runs`: launching an entry point (`mlflow_run`, `in_process`) and checking its runs;
- `upstream_files`: tiny files in the exact formats Keras downloads;
- `images`: folders of class sub-folders of images (`dir:PATH`);
- `entry_points`: tables about the entry points that more than one module checks;
- `servers`: a dashboard on a free local port, awaited and always stopped.
"""
