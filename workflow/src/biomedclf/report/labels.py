"""What the report calls a metric and a loss, from the data the numbers come with.

Metric names come from the one table of them, :data:`biomedclf.stats.significance.METRIC_LABELS`
(also the words of the verdicts and warnings in stats.json); the loss from the ``loss`` a run
trained with (its ``train.json``).
"""

from __future__ import annotations

from collections.abc import Iterable

from biomedclf.stats.significance import METRIC_LABELS

#: The fold metric that is the macro AUROC (biomedclf.crossval.across_folds.FOLD_KEY).
MACRO_AUROC = "macro_auroc"

#: How a training loss (train.json's ``loss``, biomedclf.train.losses.Objective.name) is
#: named on an axis; another loss by its own name.
LOSS_LABELS = {"binary cross-entropy": "BCE", "cross-entropy": "cross-entropy"}


def metric_name(metric: str, scope: str | None = "test", multiclass: bool = False) -> str:
    """A metric's name in words: ``test accuracy``, ``balanced accuracy``, ``AUROC``.

    ``scope`` names what was scored (``test``, ``out-of-fold``; ``None``: unnamed, plain
    ``accuracy``); the AUROC of more than two classes (and the fold metric ``macro_auroc``)
    is the ``macro AUROC``.
    """
    if metric == MACRO_AUROC or (metric == "auroc" and multiclass):
        return "macro AUROC"
    if metric not in METRIC_LABELS:
        raise ValueError(f"no name for metric {metric!r}; known: {sorted(METRIC_LABELS)}")
    words = METRIC_LABELS[metric]
    return words.replace("test ", "" if scope is None else f"{scope} ")


def capitalised(text: str) -> str:
    """``text`` with its first letter upper case and the rest as it is (``AUROC`` stays)."""
    return text[:1].upper() + text[1:]


def loss_label(losses: Iterable[str]) -> str:
    """The loss axis label of runs that trained with ``losses`` (train.json's ``loss``):
    ``Loss (BCE)``; several different losses are listed."""
    names = list(dict.fromkeys(LOSS_LABELS.get(loss, loss) for loss in losses))
    return f"Loss ({', '.join(names)})" if names else "Loss"
