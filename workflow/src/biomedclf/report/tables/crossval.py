"""The cross-validation tables, from ``stats/crossval.json``
(:mod:`biomedclf.crossval.across_folds`), written by
:func:`biomedclf.report.crossval.write_crossval_report`:

* ``crossval.{csv,md}``: per variant the held-out metric over folds (mean, SD over the
  seed-averaged folds, corrected interval), the pooled out-of-fold metric and the fold
  ensemble's test metric (mean ± SD over seeds);
* ``crossval_tests.{csv,md}``: per comparison and variant the corrected resampled
  t-test across folds (mean difference, corrected interval, t, df, p, verdict).

Fractions are shown as percentages in the Markdown and kept as fractions in the CSV; the
interval level is ``statistics.confidence``.
"""

from __future__ import annotations

from typing import Any

from biomedclf.report.labels import capitalised, metric_name
from biomedclf.report.rendering import fmt_p, fmt_value, level_text, markdown_table


def _pct(x: float | None) -> str:
    """A fraction as a percentage with one decimal (``n/a`` when undefined)."""
    return fmt_value(x, "accuracy")


def _mean_sd(d: dict[str, Any]) -> str:
    text = _pct(d["mean"])
    return text if d.get("sd") is None else f"{text} ± {_pct(d['sd'])}"


def fold_metric(cv: dict[str, Any]) -> str:
    """The held-out metric of crossval.json in words (``accuracy``, ``macro AUROC``)."""
    return metric_name(cv["metric"], scope=None)


def variant_rows(cv: dict[str, Any]) -> list[list[Any]]:
    """CSV rows of ``crossval.csv``, one per variant."""
    return [
        [
            v,
            cv["k"],
            len(s["seeds"]),
            cv["metric"],
            s["cv_mean"],
            s["cv_sd"],
            *s["cv_ci"],
            s["out_of_fold"]["mean"],
            s["out_of_fold"]["sd"],
            s["ensemble_test"]["mean"],
            s["ensemble_test"]["sd"],
            s["ensemble_test_accuracy"]["mean"],
            s["n_test"],
        ]
        for v, s in cv["variants"].items()
    ]


VARIANT_HEADER = [
    "variant",
    "folds",
    "seeds",
    "metric",
    "cv_mean",
    "cv_sd",
    "cv_ci_low",
    "cv_ci_high",
    "out_of_fold_mean",
    "out_of_fold_sd",
    "ensemble_test_mean",
    "ensemble_test_sd",
    "ensemble_test_accuracy",
    "n_test",
]


def variant_markdown(cv: dict[str, Any], confidence: float) -> str:
    """``crossval.md``: the cross-validated estimate of each variant, with its corrected
    ``confidence`` interval."""
    header = [
        "Variant",
        f"Held-out folds: mean ± SD ({cv['k']} folds)",
        f"Corrected {level_text(confidence)} CI",
        "Out-of-fold (pooled)",
        "Fold ensemble on test",
    ]
    rows = [
        [
            v,
            f"{_pct(s['cv_mean'])} ± {_pct(s['cv_sd'])}",
            f"[{_pct(s['cv_ci'][0])}, {_pct(s['cv_ci'][1])}]",
            _mean_sd(s["out_of_fold"]),
            _mean_sd(s["ensemble_test"]),
        ]
        for v, s in cv["variants"].items()
    ]
    note = (
        f"{capitalised(fold_metric(cv))} in %. Held-out folds: each fold model on the fold it "
        "did not train on, averaged over seeds per fold; the SD is over folds; the interval is the "
        "Nadeau-Bengio corrected one (the folds' training sets overlap). Out-of-fold: every "
        "non-test image predicted once, pooled; fold ensemble: the mean of the fold models' "
        "probabilities on the held-out test split (mean ± SD over seeds)."
    )
    return note + "\n\n" + markdown_table(header, rows, ["l", "r", "r", "r", "r"])


TEST_HEADER = [
    "comparison",
    "baseline",
    "variant",
    "metric",
    "mean_difference",
    "ci_low",
    "ci_high",
    "t",
    "df",
    "p_value",
    "verdict",
]


def test_rows(cv: dict[str, Any], comparisons: dict[str, Any]) -> list[list[Any]]:
    """CSV rows of ``crossval_tests.csv``."""
    return [
        [
            name,
            comparisons[name]["baseline"],
            v,
            cv["metric"],
            t["mean_difference"],
            t["ci_low"],
            t["ci_high"],
            t["t"],
            t["df"],
            t["p_value"],
            t["verdict"],
        ]
        for name, per in cv["comparisons"].items()
        for v, t in per.items()
    ]


def test_markdown(cv: dict[str, Any], comparisons: dict[str, Any], confidence: float) -> str:
    """``crossval_tests.md``: the corrected resampled t-test of every comparison, with its
    ``confidence`` interval."""
    rows = [
        [
            name,
            f"{v} vs {base}",
            f"{100 * d:+.1f}",
            f"[{100 * lo:+.1f}, {100 * hi:+.1f}]",
            f"{t:.2f}",
            df,
            fmt_p(p),
            verdict,
        ]
        for name, base, v, _, d, lo, hi, t, df, p, verdict in test_rows(cv, comparisons)
    ]
    note = (
        f"Held-out {fold_metric(cv)} difference in percentage points, variant minus baseline, "
        f"per fold (seeds averaged), tested across the {cv['k']} folds with the Nadeau-Bengio "
        "corrected resampled t-test (df = folds - 1)."
    )
    header = [
        "Comparison",
        "Variant vs baseline",
        "Mean difference (pp)",
        f"Corrected {level_text(confidence)} CI",
        "t",
        "df",
        "p",
        "Verdict",
    ]
    return note + "\n\n" + markdown_table(header, rows, ["l", "l", "r", "r", "r", "r", "r", "l"])
