"""Where data sets come from, one module per kind of source: Keras's example archives
(`keras_sets`, `text_sets`, fetched through `remote`), scikit-learn's bundled sets
(`sklearn_sets`), generated toys (`toys`), and the user's own files (`npz_file`, `csv_file`,
`image_folder`). `steps.data.catalog` maps `-P dataset=` names and URI schemes to them.
"""
