"""Notes beside a comparison's verdict: few training runs, seeds that disagree.

The recipe-level verdict (:mod:`biomedclf.stats.comparisons`) averages over seeds; these notes
say when that average hides something the reader should weigh: fewer than
:data:`biomedclf.stats.recipe.MIN_RECIPE_SEEDS` runs per recipe (the training variance is
poorly known), per-seed differences of opposite signs, per-seed McNemar tests significant in
opposite directions. Each names the variants and seeds.
"""

from __future__ import annotations

from biomedclf.stats.comparison_records import McNemarTests, RecipeDifference, SeedDifference
from biomedclf.stats.recipe import MIN_RECIPE_SEEDS
from biomedclf.stats.significance import format_difference


def runs_text(n: int) -> str:
    """``1 training run``, ``3 training runs``."""
    return f"{n} training run{'s' * (n != 1)}"


def _p_words(p: float) -> str:
    """A p-value in a note: ``p = 0.035``, ``p < 0.001``."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3g}"


def _seed_list(entries: list[tuple[int, str]]) -> str:
    """``seed 1 (p = 0.006)``, ``seeds 0 (+4.8 pp) and 2 (+0.7 pp)``."""
    items = [f"{s} ({what})" for s, what in entries]
    joined = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return f"seed{'s' * (len(items) != 1)} {joined}"


def sign_note(baseline: str, variant: str, per_seed: list[SeedDifference]) -> list[str]:
    """A note when the per-seed differences (variant minus baseline) disagree in sign,
    naming the seeds and their differences (in percentage points: accuracy's)."""
    ahead = [(e.seed, e.difference) for e in per_seed if (e.difference or 0) > 0]
    behind = [(e.seed, e.difference) for e in per_seed if (e.difference or 0) < 0]
    if not (ahead and behind):
        return []

    def listed(entries: list[tuple[int, float]]) -> str:
        """Seeds with their differences."""
        return _seed_list([(s, format_difference(d, None, None)) for s, d in entries])

    return [
        f"the seeds disagree in sign: {variant} is ahead of {baseline} on {listed(ahead)} "
        f"and behind on {listed(behind)}"
    ]


def mcnemar_note(baseline: str, variant: str, tests: McNemarTests, alpha: float) -> list[str]:
    """A note when per-seed McNemar tests are significant (p < ``alpha``) in opposite
    directions."""
    significant = [t for t in tests.per_seed if t.p_value < alpha]
    up = [(t.seed, _p_words(t.p_value)) for t in significant if t.variant_only > t.baseline_only]
    down = [(t.seed, _p_words(t.p_value)) for t in significant if t.variant_only < t.baseline_only]
    if not (up and down):
        return []
    return [
        f"the per-seed McNemar tests are significant in opposite directions: {variant} is "
        f"better on {_seed_list(up)}, {baseline} on {_seed_list(down)}"
    ]


def few_seeds_note(recipe: RecipeDifference) -> list[str]:
    """A note when the recipes have fewer than :data:`MIN_RECIPE_SEEDS` runs each: the
    training variance is poorly known (or, below 2, cannot be estimated)."""
    runs = min(recipe.n_seeds.baseline, recipe.n_seeds.variant)
    if not recipe.few_seeds:
        return []
    if recipe.low is None:
        return [
            f"{runs_text(runs)} of each: the training variance cannot be estimated, so there "
            "is no recipe-level verdict; train at least 2 seeds (training.seeds), better "
            f"{MIN_RECIPE_SEEDS}"
        ]
    df = recipe.df
    dof = f"{df:.1f} degrees of freedom" if df is not None else "few degrees of freedom"
    return [
        f"{runs_text(runs)} of each (fewer than {MIN_RECIPE_SEEDS}): the training variance is "
        f"poorly known, so the recipe-level interval is wide (a t on {dof})"
    ]
