"""The config's ``statistics:`` section as the typed settings of the stats job.

The workflow validates the config against ``workflow/schemas/config.schema.yaml``, which fills
every default, before a job runs (docs/architecture.md, "Each fact written once").
:meth:`StatisticsSettings.from_config` takes that section as it is, with no defaults of its
own: a missing or unknown key is an error naming ``statistics.{key}``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from biomedclf.stats.bootstrap import BOOTSTRAP_METRICS, check_confidence

#: What to do about a statistics section this module cannot use.
FIX = "validate the config against workflow/schemas/config.schema.yaml (the workflow does)"


@dataclass(frozen=True)
class StatisticsSettings:
    """How the statistics of a study are computed (the config's ``statistics:`` section)."""

    n_bootstrap: int  # resamples of each percentile bootstrap
    confidence: float  # level of every interval, strictly between 0 and 1
    seed: int  # study seed from which each bootstrap's seed is derived
    calibration_bins: int  # equal-width bins of the reliability curves and the ECE
    primary: str  # the bootstrapped metric the variants are ranked by

    def __post_init__(self) -> None:
        """Refuse values no statistic can use, naming the config key."""
        if self.n_bootstrap < 1:
            raise ValueError(f"statistics.n_bootstrap {self.n_bootstrap}: must be at least 1")
        if self.calibration_bins < 1:
            raise ValueError(
                f"statistics.calibration_bins {self.calibration_bins}: must be at least 1"
            )
        try:
            check_confidence(self.confidence)
        except ValueError as exc:
            raise ValueError(f"statistics.confidence: {exc}") from exc
        if self.primary not in BOOTSTRAP_METRICS:
            raise ValueError(
                f"statistics.primary: {self.primary!r}; use one of {BOOTSTRAP_METRICS} (the "
                "metrics with bootstrap intervals)"
            )

    @classmethod
    def from_config(cls, statistics: Mapping[str, Any]) -> StatisticsSettings:
        """The settings of the validated ``statistics:`` section; every key must be there."""
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [f"statistics.{k}" for k in names if k not in statistics]
        unknown = [f"statistics.{k}" for k in statistics if k not in names]
        if missing or unknown:
            problems = [f"missing {', '.join(missing)}"] if missing else []
            problems += [f"unknown {', '.join(unknown)}"] if unknown else []
            raise ValueError(f"{'; '.join(problems)} (keys: {', '.join(names)}); {FIX}")
        return cls(**{k: statistics[k] for k in names})
