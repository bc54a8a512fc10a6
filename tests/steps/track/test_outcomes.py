"""The verdicts of the outcome lessons (`steps.track.outcomes`), computed from comparison
tables and curves as the pipelines hand them over, and the verdict ending a run's description."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from steps.track import outcomes
from steps.track.summary import result_line


def curves(val_loss: list[float], loss: list[float]) -> dict[str, list[float]]:
    return {"loss": loss, "val_loss": val_loss}


def test_overfit_story_reads_the_rise_after_the_best_epoch():
    story = outcomes.overfit_story(curves([0.5, 0.3, 0.2, 0.25, 0.32], [0.6, 0.3, 0.2, 0.1, 0.05]))
    assert story == pytest.approx({"best_val_epoch": 3, "val_loss_rise": 0.12, "loss_fall": 0.15})


def test_overfitting_verdict_says_how_each_overfit_and_which_less():
    verdict = outcomes.overfitting_verdict(
        {
            "plain": curves([0.5, 0.2, 0.32], [0.5, 0.3, 0.1]),
            "regularized": curves([0.5, 0.25, 0.27], [0.5, 0.35, 0.3]),
        }
    )
    assert verdict.sentence == (
        "plain: val_loss rose 0.12 from its best epoch 2 while loss fell 0.2; regularized: "
        "val_loss rose 0.02 from its best epoch 2 while loss fell 0.05: the plain network "
        "overfit, the regularized one less"
    )
    assert verdict.metrics == pytest.approx(
        {
            "best_val_epoch_plain": 2,
            "val_loss_rise_plain": 0.12,
            "loss_fall_plain": 0.2,
            "best_val_epoch_regularized": 2,
            "val_loss_rise_regularized": 0.02,
            "loss_fall_regularized": 0.05,
        }
    )
    still_learning = {"plain": curves([0.5, 0.4], [0.5, 0.4])} | {
        "regularized": curves([0.5, 0.4], [0.5, 0.45])
    }
    assert outcomes.overfitting_verdict(still_learning).sentence.endswith(
        "the plain network did not overfit"
    )
    penalised = {"plain": curves([0.2, 0.3], [0.3, 0.1])} | {
        "regularized": curves([0.2, 0.25], [0.3, 0.32])
    }
    assert outcomes.overfitting_verdict(penalised).sentence == (
        "plain: val_loss rose 0.1 from its best epoch 1 while loss fell 0.2; regularized: "
        "val_loss rose 0.05 from its best epoch 1 while loss rose 0.02: the plain network "
        "overfit, the regularized one less"
    )


def sweep_rows(values: dict[tuple[str, str], float], varied: tuple[str, str]) -> pd.DataFrame:
    """A sweep's comparison table: what varied as the texts given, status, score, kept epoch."""
    return pd.DataFrame(
        [
            {"variant": f"{a}_{b}", varied[0]: a, varied[1]: b, "status": "FINISHED"}
            | {"test_r2": score, "best_epoch": 10}
            for (a, b), score in values.items()
        ]
    )


def test_a_depth_sweep_over_seeds_gives_each_depths_mean_and_spread():
    table = sweep_rows(
        {
            ("1", "1"): 0.50,
            ("1", "2"): 0.52,
            ("8", "1"): 0.46,
            ("8", "2"): 0.44,
            ("4", "1"): 0.49,
            ("4", "2"): 0.51,
        },
        ("layers", "seed"),
    )
    verdict = outcomes.sweep_verdict(table, ("layers", "seed"))
    assert verdict.sentence == (
        "test_r2 (mean ± sd over 2 seeds): layers=1 0.51 ± 0.014, layers=4 0.5 ± 0.014, "
        "layers=8 0.45 ± 0.014; best at layers=1; the deepest, layers=8, is 0.06 worse"
    )
    assert verdict.metrics == pytest.approx(
        {
            "best_layers": 1,
            "deepest_shortfall": 0.06,
            **{"test_r2_mean_layers_1": 0.51, "test_r2_sd_layers_1": 0.0141421},
            **{"test_r2_mean_layers_4": 0.50, "test_r2_sd_layers_4": 0.0141421},
            **{"test_r2_mean_layers_8": 0.45, "test_r2_sd_layers_8": 0.0141421},
        },
        rel=1e-4,
    )


def test_a_depth_sweep_whose_deepest_wins_says_so():
    table = sweep_rows({("1", "42"): 0.4, ("3", "42"): 0.5}, ("layers", "seed"))
    verdict = outcomes.sweep_verdict(table.drop(columns="seed"), ("layers",))
    assert verdict.sentence == (
        "test_r2: layers=1 0.4, layers=3 0.5; best at layers=3: the deepest scored best"
    )
    assert verdict.metrics["deepest_shortfall"] == 0


def test_batch_norm_verdict_gives_its_change_at_each_rate():
    table = sweep_rows(
        {("false", "0.001"): 0.9, ("true", "0.001"): 0.92, ("false", "0.03"): 0.5},
        ("batch_norm", "learning_rate"),
    )
    table.loc[len(table)] = {
        "variant": "x",
        "batch_norm": "true",
        "learning_rate": "0.03",
        "status": "FINISHED",
        "test_r2": 0.8,
        "best_epoch": 4,
    }
    verdict = outcomes.sweep_verdict(table, ("batch_norm", "learning_rate"))
    assert verdict.sentence == (
        "BatchNormalization: at learning_rate=0.001: test_r2 0.9 → 0.92 (+0.02), kept epoch "
        "10 → 10; at learning_rate=0.03: test_r2 0.5 → 0.8 (+0.3), kept epoch 10 → 4"
    )
    assert verdict.metrics == pytest.approx(
        {"batch_norm_effect_learning_rate_0.001": 0.02, "batch_norm_effect_learning_rate_0.03": 0.3}
    )


def test_batch_norm_over_seeds_gives_each_mean_with_its_spread():
    table = sweep_rows(
        {("false", "1"): 0.8, ("false", "2"): 0.9, ("true", "1"): 0.9, ("true", "2"): 0.9},
        ("batch_norm", "seed"),
    )
    verdict = outcomes.sweep_verdict(table, ("batch_norm", "seed"))
    assert verdict.sentence == (
        "BatchNormalization (mean ± sd over 2 seeds): test_r2 0.85 ± 0.071 → 0.9 ± 0 (+0.05), "
        "kept epoch 10 → 10"
    )
    assert verdict.metrics == pytest.approx({"batch_norm_effect": 0.05})


def test_batch_norm_on_a_model_without_hidden_layers_says_it_changed_nothing():
    table = sweep_rows({("false", "42"): 0.9, ("true", "42"): 0.9}, ("batch_norm", "seed"))
    verdict = outcomes.sweep_verdict(table.assign(parameters=650), ("batch_norm",))
    assert verdict.sentence == (
        "BatchNormalization: test_r2 0.9 → 0.9 (+0), kept epoch 10 → 10 (it added no layer: "
        "the model has no hidden layer to normalise; give -P layers=1 or more)"
    )
    assert verdict.metrics == {"batch_norm_effect": 0.0}


def test_other_sweeps_have_no_verdict():
    table = sweep_rows({("relu", "1"): 0.5}, ("activation", "seed"))
    assert outcomes.sweep_verdict(table, ("activation", "seed")) is None


@pytest.mark.parametrize(
    ("conv1d_score", "conv1d_seconds", "holds"),
    [(0.95, 4.0, True), (0.85, 4.0, False), (0.95, 11.0, False)],
    ids=["holds", "scores-too-low", "slower"],
)
def test_the_conv1d_claim_holds_within_its_band_and_faster(conv1d_score, conv1d_seconds, holds):
    table = pd.DataFrame(
        {
            "variant": ["lstm", "conv1d"],
            "test_accuracy": [0.97, conv1d_score],
            "fit_seconds": [10.0, conv1d_seconds],
        }
    )
    verdict = outcomes.models_verdict(table)
    score_ratio, time_ratio = conv1d_score / 0.97, conv1d_seconds / 10
    assert verdict.metrics == pytest.approx(
        {
            "conv1d_over_lstm_score": score_ratio,
            "conv1d_over_lstm_seconds": time_ratio,
            "conv1d_claim_holds": float(holds),
        }
    )
    assert verdict.sentence == (
        f"conv1d scores {score_ratio:.3f} of the lstm's test_accuracy (band 0.9-1.1) in "
        f"{time_ratio:.2f} of its fit time (one timing each): lesson 60's claim "
        f"{'holds' if holds else 'does not hold'}"
    )
    # without the pair, the description's best family says it all
    assert outcomes.models_verdict(table.assign(variant=["dnn", "conv1d"])) is None


def test_the_optimizers_verdict_names_the_winner_loser_and_best_rates():
    table = pd.DataFrame(
        {
            "variant": ["adam lr=0.001", "adam lr=0.01", "sgd lr=0.001", "sgd lr=0.01"],
            "optimizer": ["adam", "adam", "sgd", "sgd"],
            "learning_rate": [0.001, 0.01, 0.001, 0.01],
            "test_accuracy": [0.95, 0.97, 0.3, 0.8],
        }
    )
    verdict = outcomes.optimizers_verdict(table)
    assert verdict.sentence == (
        "adam lr=0.01 won (test_accuracy 0.97); sgd lr=0.001 lost (0.3); each optimizer's "
        "best rate: adam 0.01, sgd 0.01"
    )
    assert verdict.metrics == {"winner_test_accuracy": 0.97, "winner_learning_rate": 0.01}


def test_the_description_ends_with_the_verdict(tracking):
    mlflow.set_experiment("outcomes")
    with mlflow.start_run(run_name="layers=1,8") as parent:
        with mlflow.start_run(run_name="layers=1", nested=True):
            mlflow.log_metrics({"test_r2": 0.5})
        mlflow.set_tag("verdict", "test_r2: best at layers=1")
    assert result_line(parent.info.run_id) == (
        "1 child runs; best layers=1: test_r2 0.5. test_r2: best at layers=1"
    )
