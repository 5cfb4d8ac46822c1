"""The choice of a sweep's point on validation numbers: the best mean, or the
one-standard-error rule.

Each point's runs are summarised (:func:`summarise`): a run's value is the mean over its folds
with cross-validation; the mean is over seeds, and the standard error that of the mean over
seeds (over folds when one seed ran with folds; none with a single run). ``best`` takes the
point with the highest mean; ``one_se`` takes, of the points whose mean is at least the best
mean minus the best point's standard error, the one with the smallest values (``prefer:
smaller``) or the largest (``larger``). Points come in ascending order of their values (the
swept settings compared in name order, :func:`biomedclf.config.sweeps.order_key`), so the
smallest is the first candidate and the largest the last; a tie for the best mean goes to the
first point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Summary:
    """A point's runs summarised: mean, SD and standard error of the mean."""

    mean: float
    sd: float | None  # ddof 1; None with one value
    se: float | None  # of the mean; None with one value
    n: int  # the values the SD is over
    over: str  # seeds | folds | none


def summarise(runs: Sequence[Sequence[float]]) -> Summary:
    """Mean, SD and standard error of a point from its runs' values: one list per seed,
    holding that seed's value per fold (one value without folds)."""
    if not runs or any(len(r) == 0 for r in runs):
        raise ValueError("summarise: every seed needs at least one value")
    per_seed = [float(np.mean(r)) for r in runs]
    if len(per_seed) > 1:
        values, over = per_seed, "seeds"
    elif len(runs[0]) > 1:
        values, over = [float(v) for v in runs[0]], "folds"
    else:
        values, over = per_seed, "none"
    mean = float(np.mean(per_seed))
    if len(values) < 2:
        return Summary(mean=mean, sd=None, se=None, n=len(values), over=over)
    sd = float(np.std(values, ddof=1))
    return Summary(mean=mean, sd=sd, se=sd / math.sqrt(len(values)), n=len(values), over=over)


@dataclass(frozen=True)
class Choice:
    """The chosen point (an index into the points), the best one and the rule's threshold."""

    selected: int
    best: int
    threshold: float  # one_se: best mean minus its standard error; best: the best mean


def choose(means: Sequence[float], ses: Sequence[float | None], select: str, prefer: str) -> Choice:
    """The point to take, from the points' mean validation metrics and their standard
    errors, in ascending order of the points' values (see the module's docstring).

    ``select`` is ``best`` or ``one_se``; ``prefer`` (one_se) ``smaller`` or ``larger``. A
    point without a standard error counts as 0 (one run: the rule takes the best).
    """
    if not means:
        raise ValueError("choose: a sweep without points")
    if select not in ("best", "one_se") or prefer not in ("smaller", "larger"):
        raise ValueError(
            f"choose: select {select!r}, prefer {prefer!r}; use best or one_se, "
            "smaller or larger (sweeps.{name}.select, .prefer)"
        )
    best = int(np.argmax(means))
    if select == "best":
        return Choice(selected=best, best=best, threshold=float(means[best]))
    threshold = float(means[best]) - (ses[best] or 0.0)
    within = [i for i, m in enumerate(means) if m >= threshold]
    return Choice(
        selected=within[0] if prefer == "smaller" else within[-1], best=best, threshold=threshold
    )
