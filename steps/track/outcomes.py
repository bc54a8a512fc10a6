"""Outcome step: what a comparison lesson teaches, read off its variants as a verdict
(lessons 09, 42, 60, 68-70, 73).

Where the lesson is an outcome (a deeper network scores worse, Conv1D is about as good as an
LSTM and faster, an unregularised network overfits), a run that finishes shows nothing: the
parent run says what happened, as metrics and a `verdict` tag whose sentence also ends the
run's description. Variants trained over several seeds (a sweep with `-P seed=1,2,3`) are
summed up per value as the mean over the seeds and its spread (the standard deviation).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from steps.track.compare import main_score, metric_key
from steps.train.search import default_direction

# Lesson 60: Conv1D reaches about the LSTM's score (0.998 in the lesson) in much less time.
# "About" is within a tenth either way: one fit each, on a few hundred test rows (digits,
# seed 42: 1.045, the Conv1D ahead, in 0.50 of the LSTM's fit time).
SCORE_BAND = (0.9, 1.1)


@dataclass(frozen=True)
class Verdict:
    sentence: str  # what the variants showed, in words
    metrics: dict[str, float] = field(default_factory=dict)


def log_verdict(tracker, verdict: Verdict | None) -> None:
    """The verdict on the parent run (metrics, the `verdict` tag) and on the terminal."""
    if verdict is None:
        return
    tracker.log_metrics(verdict.metrics)
    tracker.set_tags(verdict=verdict.sentence)
    print(f"verdict: {verdict.sentence}")


# ---------------------------------------------------------------- lesson 42: overfitting


def overfit_story(history: dict[str, list[float]]) -> dict[str, float]:
    """One fit's curves in three numbers: the epoch (from 1) of its lowest val_loss, how much
    val_loss rose from there to the last epoch, and how much the training loss fell meanwhile
    (both above 0: it overfit)."""
    val, loss = np.asarray(history["val_loss"]), np.asarray(history["loss"])
    best = int(np.argmin(val))
    return {
        "best_val_epoch": best + 1,
        "val_loss_rise": float(val[-1] - val[best]),
        "loss_fall": float(loss[best] - loss[-1]),
    }


def moved(fall: float) -> str:
    """`fell 0.2`, or `rose 0.01` (an L2 penalty's share of the loss can grow)."""
    return f"fell {fall:.3g}" if fall >= 0 else f"rose {-fall:.3g}"


def overfitting_verdict(histories: dict[str, dict[str, list[float]]]) -> Verdict:
    """`plain: val_loss rose 0.12 from its best epoch 14 while loss fell 0.20; regularized:
    ...`, then whether the plain network overfit and the regularized one less."""
    stories = {name: overfit_story(history) for name, history in histories.items()}
    said = [
        f"{name}: val_loss rose {s['val_loss_rise']:.3g} from its best epoch "
        f"{s['best_val_epoch']:.0f} while loss {moved(s['loss_fall'])}"
        for name, s in stories.items()
    ]
    plain, regularized = stories["plain"], stories["regularized"]
    if plain["val_loss_rise"] <= 0 or plain["loss_fall"] <= 0:
        conclusion = "the plain network did not overfit"
    elif regularized["val_loss_rise"] < plain["val_loss_rise"]:
        conclusion = "the plain network overfit, the regularized one less"
    else:
        conclusion = "the plain network overfit, and regularization did not lessen it"
    metrics = {
        f"{quantity}_{metric_key(name)}": value
        for name, story in stories.items()
        for quantity, value in story.items()
    }
    return Verdict(f"{'; '.join(said)}: {conclusion}", metrics)


# ---------------------------------------------------------------- sweeps: 09 and 73


def finished(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["status"] == "FINISHED"] if "status" in frame else frame


def per_value(frame: pd.DataFrame, score: str, by: list[str]) -> pd.DataFrame:
    """The score's mean, spread (standard deviation; 0 for one seed) and seed count for each
    combination of the `by` columns, in first-seen order."""
    grouped = finished(frame).groupby(by, sort=False)[score]
    table = grouped.agg(["mean", "std", "count"]).reset_index()
    table["std"] = table["std"].fillna(0.0)
    return table


def spread_text(row: pd.Series, seeds: int) -> str:
    return f"{row['mean']:.3g} ± {row['std']:.2g}" if seeds > 1 else f"{row['mean']:.3g}"


def over_seeds(frame: pd.DataFrame, varied: tuple[str, ...]) -> str:
    seeds = finished(frame)["seed"].nunique() if "seed" in varied else 1
    return f" (mean ± sd over {seeds} seeds)" if seeds > 1 else ""


def depth_verdict(frame: pd.DataFrame, varied: tuple[str, ...]) -> Verdict:
    """Lesson 09: the depth whose score is best, and how the deepest compares with it."""
    score = main_score(frame)
    higher = default_direction(score) == "maximize"
    table = per_value(frame.assign(layers=frame["layers"].astype(int)), score, ["layers"])
    table = table.sort_values("layers")
    seeds = int(table["count"].max())
    best = table.loc[table["mean"].idxmax() if higher else table["mean"].idxmin()]
    deepest = table.iloc[-1]
    shortfall = (best["mean"] - deepest["mean"]) * (1 if higher else -1)
    depth = {index: int(row["layers"]) for index, row in table.iterrows()}
    listed = ", ".join(f"layers={depth[i]} {spread_text(r, seeds)}" for i, r in table.iterrows())
    best_depth, deepest_depth = int(best["layers"]), int(deepest["layers"])
    sentence = f"{score}{over_seeds(frame, varied)}: {listed}; best at layers={best_depth}"
    if deepest_depth == best_depth:
        sentence += ": the deepest scored best"
    else:
        sentence += f"; the deepest, layers={deepest_depth}, is {shortfall:.3g} worse"
    metrics = {"best_layers": float(best_depth), "deepest_shortfall": float(shortfall)}
    for index, row in table.iterrows():
        metrics[f"{score}_mean_layers_{depth[index]}"] = float(row["mean"])
        metrics[f"{score}_sd_layers_{depth[index]}"] = float(row["std"])
    return Verdict(sentence, metrics)


def batch_norm_verdict(frame: pd.DataFrame, varied: tuple[str, ...]) -> Verdict:
    """Lesson 73: what BatchNormalization changed, the score and the kept epoch, at each
    value of whatever else varied (a learning rate)."""
    score = main_score(frame)
    others = [name for name in varied if name not in ("batch_norm", "seed")]
    rows = finished(frame).assign(batch_norm=lambda f: f["batch_norm"].astype(str).str.lower())
    said, metrics = [], {}
    groups = rows.groupby(others, sort=False) if others else [((), rows)]
    for values, group in groups:
        at = dict(zip(others, values if isinstance(values, tuple) else (values,), strict=True))
        means = group.groupby("batch_norm")[[c for c in (score, "best_epoch") if c in group]]
        means = means.mean()
        if not {"true", "false"} <= set(means.index):
            continue
        change = means.loc["true"] - means.loc["false"]
        where = " ".join(f"{k}={v}" for k, v in at.items())
        spread = per_value(group, score, ["batch_norm"]).set_index("batch_norm")
        seeds = int(spread["count"].max())
        text = (
            f"{f'at {where}: ' if where else ''}{score} "
            f"{spread_text(spread.loc['false'], seeds)} → "
            f"{spread_text(spread.loc['true'], seeds)} ({change[score]:+.3g})"
        )
        if "best_epoch" in means:
            off, on = means.loc["false", "best_epoch"], means.loc["true", "best_epoch"]
            text += f", kept epoch {off:.0f} → {on:.0f}"
        said.append(text)
        suffix = metric_key("_".join(f"{k}_{v}" for k, v in at.items()))
        metrics[f"batch_norm_effect{'_' + suffix if suffix else ''}"] = float(change[score])
    text = "; ".join(said) or "no pair of runs with and without BatchNormalization finished"
    if "parameters" in rows and rows.groupby("batch_norm")["parameters"].mean().nunique() == 1:
        text += (
            " (it added no layer: the model has no hidden layer to normalise; "
            "give -P layers=1 or more)"
        )
    return Verdict(f"BatchNormalization{over_seeds(frame, varied)}: {text}", metrics)


def sweep_verdict(frame: pd.DataFrame, varied: tuple[str, ...]) -> Verdict | None:
    """The verdict of a sweep whose lesson is an outcome: depths (09), BatchNormalization
    (73), each alone or with a seed list (and, for 73, a learning rate); else none."""
    rest = set(varied) - {"seed"}
    if rest == {"layers"}:
        return depth_verdict(frame, varied)
    if "batch_norm" in rest and rest <= {"batch_norm", "learning_rate"}:
        return batch_norm_verdict(frame, varied)
    return None


# ---------------------------------------------------------------- 60 and 68-70


def models_verdict(frame: pd.DataFrame) -> Verdict | None:
    """With both an LSTM and a Conv1D, lesson 60's claim: the Conv1D's score over the LSTM's
    (within SCORE_BAND) and its fit time over the LSTM's (below 1); else none (the
    description names the best family already)."""
    score = main_score(frame)
    rows = finished(frame).set_index("variant")
    if not {"lstm", "conv1d"} <= set(rows.index):
        return None
    lstm, conv1d = rows.loc["lstm"], rows.loc["conv1d"]
    score_ratio = float(conv1d[score] / lstm[score])
    time_ratio = float(conv1d["fit_seconds"] / lstm["fit_seconds"])
    low, high = SCORE_BAND
    holds = low <= score_ratio <= high and time_ratio < 1
    sentence = (
        f"conv1d scores {score_ratio:.3f} of the lstm's {score} (band {low:g}-{high:g}) in "
        f"{time_ratio:.2f} of its fit time (one timing each): lesson 60's claim "
        f"{'holds' if holds else 'does not hold'}"
    )
    metrics = {
        "conv1d_over_lstm_score": score_ratio,
        "conv1d_over_lstm_seconds": time_ratio,
        "conv1d_claim_holds": float(holds),
    }
    return Verdict(sentence, metrics)


def optimizers_verdict(frame: pd.DataFrame) -> Verdict:
    """Lessons 68-70: which optimizer and rate won, which lost, and each optimizer's best rate."""
    score = main_score(frame)
    rows = finished(frame).reset_index(drop=True)
    higher = default_direction(score) == "maximize"
    order = rows.sort_values(score, ascending=not higher)
    won, lost = order.iloc[0], order.iloc[-1]
    best_rates = order.drop_duplicates("optimizer")
    rates = ", ".join(f"{r.optimizer} {r.learning_rate:g}" for _, r in best_rates.iterrows())
    sentence = (
        f"{won['variant']} won ({score} {won[score]:.4g}); {lost['variant']} lost "
        f"({lost[score]:.4g}); each optimizer's best rate: {rates}"
    )
    metrics = {f"winner_{score}": float(won[score]), "winner_learning_rate": won["learning_rate"]}
    return Verdict(sentence, metrics)
