"""Lesson 42: overfitting, and Dropout (and L2) as its remedy.

A wide model trained long without early stopping learns its training rows by heart:
training loss falls towards 0 while validation loss climbs back up. The same model trains
twice, as two child runs of one parent: `plain` (no regularization) and `regularized`
(`-P dropout=`, `-P l2=`). The parent logs each variant's train/validation gap at the last
epoch (`loss_gap_<variant>` = val_loss - loss, `accuracy_gap_<variant>` = accuracy -
val_accuracy; above 0 is overfit), both variants' curves in one figure, and the comparison
as CSV. Its verdict, in the description and above the curves, says how each overfit: how
far val_loss rose from its best epoch while the training loss kept falling
(`val_loss_rise_<variant>`, `loss_fall_<variant>`, `best_val_epoch_<variant>`). The
lesson's other remedies are parameters too: less data overfits more
(`-P train_rows=100`), a smaller model less (`-P units=32`).

    mlflow run . -e overfitting --env-manager local [-P dropout=0.5 -P l2=0.001]
"""

from dataclasses import replace

from pipelines.params import Params
from steps import workflow
from steps.data.prepare import Prepared, prepare
from steps.model import build
from steps.track import compare, outcomes
from steps.track.tracker import Tracker
from steps.train import fit


def fewer_rows(prepared: Prepared, count: int) -> Prepared:
    """Keep the first `count` training rows (0: all); validation and test stay whole."""
    if count == 0:
        return prepared
    data = prepared.data
    return replace(
        prepared, data=replace(data, x_train=data.x_train[:count], y_train=data.y_train[:count])
    )


def run(params: Params, tracker: Tracker) -> None:
    dataset = workflow.load_dataset(tracker, params.dataset, target=params.target)
    prepared = fewer_rows(prepare(dataset, params.prepare_options()), params.train_rows)
    tracker.log_params({"train_rows_used": len(prepared.data.x_train)})
    to_beat = workflow.log_baselines(tracker, prepared)  # on the rows both variants learn from
    regularized = params.model_options()
    variants = {
        "plain": replace(regularized, dropout=0.0, l1=0.0, l2=0.0),
        "regularized": regularized,
    }

    rows, histories = [], {}
    for name, options in variants.items():
        varied = {"dropout": options.dropout, "l1": options.l1, "l2": options.l2}
        with tracker.child_run(name, varied) as child:
            fit.seed_everything(params.seed, params.deterministic)
            model = build.build(params.model, prepared, options, name=name)
            trained = workflow.train_and_log(
                child, model, prepared, params.fit_options(), scores_to_beat=to_beat
            )
            gaps = compare.gaps(trained.fit.history)
            child.log_metrics(gaps)
        rows.append(compare.trained_row(name, trained, **varied, **gaps))
        histories[name] = trained.fit.history

    table = compare.table(rows)
    gap_columns = [c for c in table.columns if c.endswith("_gap")]
    tracker.log_metrics(compare.per_variant_metrics(table, gap_columns))
    tracker.log_table(table, "comparison/overfitting.csv")
    verdict = outcomes.overfitting_verdict(histories)
    outcomes.log_verdict(tracker, verdict)
    names = ("loss", "accuracy") if "accuracy" in histories["plain"] else ("loss",)
    figure = compare.curves_figure(histories, names, verdict.sentence)
    tracker.log_figure(figure, "plots/overfitting.png")
    tracker.log_figure(
        compare.bar_chart(table, gap_columns, "train/validation gap"), "plots/gaps.png"
    )
    print(table.to_string(index=False))
