"""A sweep's table, figure and summary section, for sweeps of one and of two settings: every
point with its validation and test numbers, the chosen point marked, heat maps for a grid of
two settings, and a summary that gives the chosen point's test result as the estimate."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from sweep_fixtures import specs_of, sweep_params, write_sweep_runs

from biomedclf.report.summary.links import Links
from biomedclf.report.summary.sweeps import sweeps_section
from biomedclf.report.sweeps import write_sweep_report
from biomedclf.stats.records import Bounds, RankedVariant
from biomedclf.sweeps.record import read_selection
from biomedclf.sweeps.selection import write_sweep_selection


def _sweep(tmp_path: Path, points: dict, numbers: dict, **settings):
    """The sweep's selection file and the scores.csv of each run, by (point, seed)."""
    params = sweep_params("s", points, [0, 1], **settings)
    runs, files = write_sweep_runs(tmp_path / "runs", params, numbers)
    selection = tmp_path / "s.json"
    write_sweep_selection(selection, params, runs, files, "accuracy", specs_of(params), None)
    scores = {(p, s): [f] for (p, s, _), f in zip(runs, files["scores"], strict=True)}
    return selection, scores


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _one_setting(tmp_path: Path, **settings):
    points = {f"s[weight_decay={v}]": {"weight_decay": v} for v in (0, 0.0001, 0.001, 0.01)}
    accuracies = [(0.70, 0.60), (0.80, 0.65), (0.90, 0.75), (0.85, 0.70)]
    numbers = {
        p: [(val, test, 0.2 - 0.05 * i), (val - 0.05, test + 0.05, 0.2 - 0.05 * i)]
        for i, (p, (val, test)) in enumerate(zip(points, accuracies, strict=True))
    }
    return _sweep(tmp_path, points, numbers, scales={"weight_decay": "log"}, **settings)


def test_table_and_figure_of_a_one_setting_sweep(tmp_path):
    selection, scores = _one_setting(tmp_path)
    table, figure = tmp_path / "s.csv", tmp_path / "sweep_s.png"
    write_sweep_report(selection, scores, table=table, figure=figure)
    rows = _rows(table)
    assert [r["point"] for r in rows] == list(
        read_selection(selection).points[i].name for i in range(4)
    )
    assert list(rows[0])[:3] == ["point", "weight_decay", "runs"]
    best = rows[2]
    assert best["chosen"] == "yes" and best["best_on_validation"] == "yes"
    assert [r["chosen"] for r in rows].count("yes") == 1
    assert float(best["validation_accuracy_mean"]) == pytest.approx(0.875)
    assert float(best["test_accuracy_mean"]) == pytest.approx(0.775)
    assert float(best["test_accuracy_sd"]) == pytest.approx(np.std([0.75, 0.80], ddof=1), abs=1e-6)
    assert float(best["gap_mean"]) == pytest.approx(0.1)
    with Image.open(figure) as image:
        width, height = image.size
    assert 900 < width < 1600 and 300 < height < 800


def test_heat_maps_of_a_two_setting_grid(tmp_path):
    points, numbers = {}, {}
    for i, dropout in enumerate((0, 0.25, 0.5)):
        for j, wd in enumerate((0, 0.001, 0.01)):
            name = f"s[dropout={dropout},weight_decay={wd}]"
            points[name] = {"dropout": dropout, "weight_decay": wd}
            val = 0.6 + 0.05 * i + 0.05 * j
            numbers[name] = [(val, val - 0.1, 0.1), (val, val - 0.05, 0.1)]
    selection, scores = _sweep(
        tmp_path,
        points,
        numbers,
        select="one_se",
        prefer="smaller",
        scales={"dropout": "linear", "weight_decay": "log"},
    )
    table, figure = tmp_path / "s.csv", tmp_path / "sweep_s.png"
    write_sweep_report(selection, scores, table=table, figure=figure)
    rows = _rows(table)
    assert len(rows) == 9 and list(rows[0])[:4] == ["point", "dropout", "weight_decay", "runs"]
    chosen = [r["point"] for r in rows if r["chosen"] == "yes"]
    assert chosen == ["s[dropout=0.5,weight_decay=0.01]"]  # no SE over equal seeds: the best
    with Image.open(figure) as image:
        width, height = image.size
    assert width > 1500 and height < 800  # three heat maps side by side


def test_a_category_setting_and_several_settings_draw_rows_of_panels(tmp_path):
    points = {
        f"s[augment={a},lr={lr}]": {"augment": a, "lr": lr}
        for a in (False, True)
        for lr in (0.001, 0.01, 0.1)
    }
    numbers = {p: [(0.7, 0.6, 0.1), (0.75, 0.65, 0.1)] for p in points}
    selection, scores = _sweep(
        tmp_path, points, numbers, kind="random", scales={"augment": "category", "lr": "log"}
    )
    figure = tmp_path / "sweep_s.png"
    write_sweep_report(selection, scores, table=tmp_path / "s.csv", figure=figure)
    with Image.open(figure) as image:
        assert image.size[1] > 600  # a row of panels per setting


def test_summary_section_states_the_choice_and_the_final_estimate(tmp_path):
    selection, _ = _one_setting(tmp_path, select="one_se", prefer="larger")
    chosen = read_selection(selection)
    entry = RankedVariant("s.selected", 5, 0.81, 0.78, 0.84, Bounds(0.79, 0.83))
    stats = SimpleNamespace(
        ranking=SimpleNamespace(order=[entry]),
        settings=SimpleNamespace(confidence=0.95),
        scope="test",
    )
    links = Links(
        {"sweeps": {"s": {"table": tmp_path / "s.csv", "figure": tmp_path / "f.png"}}}, tmp_path
    )
    text = "\n".join(sweeps_section([chosen], stats, links))
    assert "## Hyperparameter sweeps" in text and "### Sweep `s`: weight_decay of `cnn`" in text
    assert (
        f"**{', '.join(f'{k}={v}' for k, v in chosen.point(chosen.selected).values.items())}**"
        in text
    )
    assert "one-standard-error rule" in text and "largest values" in text
    assert "test accuracy **81.0%** [78.0, 84.0] (95% interval for the recipe" in text
    assert "[s.csv](s.csv)" in text and "![Sweep s](f.png)" in text
    # the other points' test numbers are not in the summary
    assert "test_accuracy" not in text and "65.0" not in text
    assert sweeps_section([], stats, links) == []
