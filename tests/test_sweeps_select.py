"""A sweep's choice on validation numbers: the one-standard-error rule on a known-answer table,
the runs' validation rows read and nothing else, the selection file, and the chosen point's
runs as the variant {sweep}.selected."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from sklearn.metrics import roc_auc_score
from sweep_fixtures import specs_of, split_rows, sweep_params, write_run, write_sweep_runs

from biomedclf.sweeps.record import read_selection
from biomedclf.sweeps.select import choose, summarise
from biomedclf.sweeps.selected import write_selected_run
from biomedclf.sweeps.selection import select_point, write_sweep_selection
from biomedclf.sweeps.validation import validation_metric, validation_scores
from biomedclf.train.scores import score_columns

#: Five points in ascending order of their values, three seeds each: the best mean is p2's
#: (0.85, standard error 0.02 / sqrt(3) = 0.0115), so the points within one standard error of
#: it (mean >= 0.8385) are p1 (0.84), p2 and p3 (0.84), not p4 (0.83) nor p0 (0.72).
KNOWN = {
    "p0": [0.70, 0.72, 0.74],
    "p1": [0.82, 0.84, 0.86],
    "p2": [0.83, 0.85, 0.87],
    "p3": [0.84, 0.84, 0.84],
    "p4": [0.81, 0.83, 0.85],
}


def _known_answer() -> tuple[list[float], list[float | None]]:
    summaries = [summarise([[v] for v in values]) for values in KNOWN.values()]
    return [s.mean for s in summaries], [s.se for s in summaries]


def test_summary_over_seeds_folds_or_none():
    s = summarise([[0.83], [0.85], [0.87]])
    assert s.mean == pytest.approx(0.85) and s.sd == pytest.approx(0.02)
    assert s.se == pytest.approx(0.02 / math.sqrt(3)) and s.over == "seeds"
    # with folds: a seed's value is its folds' mean; the SE is over seeds
    s = summarise([[0.8, 0.9], [0.7, 0.8]])
    assert s.mean == pytest.approx(0.8) and s.sd == pytest.approx(math.sqrt(0.005))
    folds = summarise([[0.80, 0.90, 0.85]])  # one seed with folds: over folds
    assert folds.over == "folds" and folds.se == pytest.approx(0.05 / math.sqrt(3))
    one = summarise([[0.8]])
    assert one.over == "none" and one.sd is None and one.se is None


def test_one_standard_error_rule_known_answer():
    means, ses = _known_answer()
    best = choose(means, ses, "best", "smaller")
    assert (best.selected, best.best) == (2, 2) and best.threshold == pytest.approx(0.85)
    smaller = choose(means, ses, "one_se", "smaller")
    assert smaller.selected == 1 and smaller.best == 2
    assert smaller.threshold == pytest.approx(0.85 - 0.02 / math.sqrt(3))
    assert choose(means, ses, "one_se", "larger").selected == 3
    # without a standard error (one run each) the rule takes the best
    assert choose(means, [None] * 5, "one_se", "smaller").selected == 2
    # a tie for the best mean goes to the first point
    assert choose([0.9, 0.9, 0.8], [None] * 3, "best", "smaller").selected == 0


def _scores_with_unreadable_test_rows(path: Path) -> None:
    """A scores.csv whose validation rows are right and whose other rows would make any
    reader of them fail."""
    paths, labels, probs = split_rows("val", 0.75)
    lines = [",".join(score_columns(2))]
    lines += [f"val,{p},{y},{q[0]!r},{q[1]!r}" for p, y, q in zip(paths, labels, probs)]
    lines += ["heldout,h.png,7,oops,oops", "test,t.png,not-a-label,nan?,x"]
    path.write_text("\n".join(lines) + "\n")


def test_selection_reads_the_validation_rows_only(tmp_path):
    scores = tmp_path / "scores.csv"
    _scores_with_unreadable_test_rows(scores)
    labels, probs = validation_scores(scores)
    assert labels.shape == (20,) and probs.shape == (20, 2)
    assert validation_metric(scores, "accuracy") == (pytest.approx(0.75), 2)
    auroc = roc_auc_score(labels, probs[:, 1])
    assert validation_metric(scores, "auroc")[0] == pytest.approx(auroc)
    scores.write_text(",".join(score_columns(2)) + "\ntest,t.png,0,0.5,0.5\n")
    with pytest.raises(ValueError, match="no validation rows"):
        validation_scores(scores)


def test_select_point_on_written_runs(tmp_path):
    # accuracies of 20 images are multiples of 0.05: use a table that is one
    table = {"p0": [0.70, 0.70, 0.75], "p1": [0.80, 0.85, 0.85], "p2": [0.85, 0.90, 0.85]}
    points = {p: {"dropout": 0.1 * i} for i, p in enumerate(table)}
    params = sweep_params("s", points, [0, 1, 2], select="one_se", prefer="smaller")
    numbers = {p: [(v, 0.6, 0.05 * i) for v in table[p]] for i, p in enumerate(table)}
    runs, files = write_sweep_runs(tmp_path / "runs", params, numbers)
    out = tmp_path / "s.json"
    write_sweep_selection(out, params, runs, files, "accuracy", specs_of(params), None)
    chosen = read_selection(out)
    # best p2 (0.8667, SE 0.0167): p1 (0.8333) is outside 0.85; so p2
    assert chosen.best == "p2" and chosen.selected == "p2"
    assert chosen.threshold == pytest.approx(0.8667 - 0.0289 / math.sqrt(3), abs=1e-3)
    assert chosen.spec["name"] == "s.selected" and chosen.spec["model_args"] == {"dropout": 0.2}
    p1 = chosen.point("p1")
    assert p1.metric_runs == pytest.approx([0.80, 0.85, 0.85])
    assert p1.gap_mean == pytest.approx(0.05) and p1.seconds_mean == pytest.approx(1.0)
    assert (chosen.split, chosen.se_over, chosen.n_classes) == ("the validation split", "seeds", 2)
    assert json.loads(out.read_text())["format"] == "1"


def test_selection_never_opens_a_test_file(tmp_path, monkeypatch):
    """Every file the selection opens is a scores.csv, history.csv or train.json it was
    handed; none is a test split's file."""
    table = {"a": [0.80, 0.85], "b": [0.75, 0.80]}
    params = sweep_params("s", {p: {"lr": i + 1} for i, p in enumerate(table)}, [0, 1])
    runs, files = write_sweep_runs(
        tmp_path, params, {p: [(v, 0.5, 0.0) for v in vs] for p, vs in table.items()}
    )
    handed = {str(f) for role in ("scores", "history", "info") for f in files[role]}
    opened = []
    real_open = Path.open

    def spy(self, *args, **kwargs):
        opened.append(str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", spy)
    selection = select_point(params, runs, files, "accuracy", specs_of(params), None)
    assert selection.selected == "a"
    assert opened and set(opened) <= handed
    assert {Path(f).name for f in opened} <= {"scores.csv", "history.csv", "train.json"}


def test_the_chosen_points_run_is_copied_under_the_variants_name(tmp_path):
    table = {"a": [0.80], "b": [0.90]}
    params = sweep_params("s", {p: {"lr": i + 1} for i, p in enumerate(table)}, [0])
    runs, files = write_sweep_runs(
        tmp_path / "runs", params, {p: [(v, 0.5, 0.0) for v in vs] for p, vs in table.items()}
    )
    selection = tmp_path / "s.json"
    write_sweep_selection(selection, params, runs, files, "accuracy", specs_of(params), None)
    outputs = {r: tmp_path / "out" / f"{r}.file" for r in ("model", "history", "scores", "info")}
    points = {p: {r: files[r][i] for r in outputs} for i, (p, _, _) in enumerate(runs)}
    write_selected_run(selection, 0, outputs, points=points)
    for role in ("model", "history", "scores"):
        assert outputs[role].read_bytes() == points["b"][role].read_bytes()
    info = json.loads(outputs["info"].read_text())
    assert info["variant"] == "s.selected" and info["sweep_point"] == "b"
    assert info["best_epoch"] == 2
    with pytest.raises(ValueError, match="give the points' files or the training inputs"):
        write_selected_run(selection, 0, outputs)


def test_a_point_without_runs_is_an_error(tmp_path):
    params = sweep_params("s", {"a": {"lr": 1}, "b": {"lr": 2}}, [0])
    run = write_run(tmp_path / "a", "a", 0, 0.8, 0.5, 0.0)
    files = {r: [run[r]] for r in ("scores", "history", "info")}
    with pytest.raises(ValueError, match=r"no runs for \['b'\]"):
        select_point(params, [["a", 0, None]], files, "accuracy", specs_of(params), None)
