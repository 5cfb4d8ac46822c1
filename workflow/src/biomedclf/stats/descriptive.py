"""Descriptive statistics over seeds, with undefined values as ``None``.

A study repeats every run with several seeds; :func:`describe` summarises one quantity over
them (mean, sample standard deviation, range, the values in seed order). Whatever cannot be
computed (the standard deviation of one seed, a mean of no finite value) is ``None``, so the
result is strict JSON (no NaN) and a reader sees "undefined" rather than a number. The result
is the *describe* record of stats.json, :class:`biomedclf.stats.variant_records.Summary`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from biomedclf.stats.variant_records import Summary


def finite_or_none(x: float | None) -> float | None:
    """``x`` as a float, or ``None`` when it is ``None``, NaN or infinite."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def describe(values: Sequence[float | None]) -> Summary:
    """Mean, sample standard deviation (ddof=1; ``None`` with one value), min, max, values.

    ``n`` counts the finite values, ``values`` keeps every value in the given (seed) order with
    ``None`` for missing or non-finite ones.
    """
    vals = [None if v is None else finite_or_none(v) for v in values]
    finite = np.array([v for v in vals if v is not None], dtype=float)
    n = int(finite.size)
    return Summary(
        mean=float(finite.mean()) if n else None,
        sd=float(finite.std(ddof=1)) if n > 1 else None,
        min=float(finite.min()) if n else None,
        max=float(finite.max()) if n else None,
        n=n,
        values=vals,
    )
