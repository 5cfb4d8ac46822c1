"""Figures of the report: the PNG files the rules name, non-empty, deterministic."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from aggregate_fixtures import figure_outputs, make_study, study_stats

from biomedclf.layout import STUDY_FIGURES
from biomedclf.report.figures import classes as class_plots
from biomedclf.report.figures import curves, plots, style

#: The figures of the comparison_figures rule.
COMPARISON_FIGURES = ("curves", "roc", "confusion")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    runs, study = make_study(root, seeds=[0, 1], n_test=40, epochs=3)
    st = study_stats(runs, study["comparisons"], root / "stats" / "stats.json", n_bootstrap=100)
    return runs, study, st


def _assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000, path
    assert b"Software" not in data[:2000], "PNG should not embed the software version"


def test_plot_comparison_writes_curves_roc_and_confusion(study, tmp_path):
    runs, spec, st = study
    outputs = figure_outputs(tmp_path, COMPARISON_FIGURES, "dropout")
    paths = plots.plot_comparison(
        "dropout", spec["comparisons"]["dropout"], runs, st.source, outputs
    )
    assert [p.name for p in paths] == [
        "curves_dropout.png",
        "roc_dropout.png",
        "confusion_dropout.png",
    ]
    for p in paths:
        assert p.parent == tmp_path / "figures"
        _assert_png(p)
    assert not list((tmp_path / "figures").glob("*.tmp"))


def test_plot_study_writes_three_figures(study, tmp_path):
    runs, _, st = study
    paths = plots.plot_study(runs, st.source, figure_outputs(tmp_path, STUDY_FIGURES))
    assert [p.name for p in paths] == [
        "test_accuracy.png",
        "accuracy_vs_time.png",
        "reliability.png",
    ]
    for p in paths:
        _assert_png(p)


def test_figures_go_where_the_rule_names_them(study, tmp_path):
    runs, _, st = study
    outputs = {f: tmp_path / "any" / f"{i}.png" for i, f in enumerate(STUDY_FIGURES)}
    assert plots.plot_study(runs, st.source, outputs) == list(outputs.values())
    with pytest.raises(ValueError, match="the rule names"):
        plots.plot_study(runs, st.source, figure_outputs(tmp_path, STUDY_FIGURES[:2]))


def test_grid_shape():
    assert style.grid_shape(1, 3) == (1, 1) and style.grid_shape(3, 3) == (1, 3)
    assert style.grid_shape(4, 3) == (2, 3) and style.grid_shape(11, 4) == (3, 4)
    assert style.grid_shape(0, 8) == (1, 1) and style.grid_shape(17, 8) == (3, 8)


def test_loss_axis_names_the_loss_the_runs_trained_with(tmp_path):
    """The curves' loss axis follows train.json's loss: another loss draws another figure,
    and a run without one is refused."""
    variants = {"a": ("conv", 0.7, 1.0), "b": ("conv", 0.8, 2.0)}
    comps = {"ab": {"baseline": "a", "variants": ["b"]}}
    runs, _ = make_study(tmp_path / "s", variants, seeds=[0], n_test=30, comparisons=comps)
    assert curves.trained_losses(runs) == ["binary cross-entropy"] * 2
    bce = curves.plot_curves("ab", comps["ab"], runs, tmp_path / "bce.png")
    for run in runs:
        info = json.loads(run.train_json.read_text())
        run.train_json.write_text(json.dumps({**info, "loss": "focal"}))
    focal = curves.plot_curves("ab", comps["ab"], runs, tmp_path / "focal.png")
    assert focal.read_bytes() != bce.read_bytes()
    info.pop("loss")
    runs[0].train_json.write_text(json.dumps(info))
    with pytest.raises(ValueError, match="no 'loss'.*rerun its training job"):
        curves.plot_curves("ab", comps["ab"], runs, tmp_path / "none.png")


def test_figures_are_deterministic(study, tmp_path):
    runs, spec, st = study
    a = plots.plot_test_accuracy(runs, st, tmp_path / "a.png")
    b = plots.plot_test_accuracy(runs, st, tmp_path / "b.png")
    assert a.read_bytes() == b.read_bytes()
    # and they follow the statistics: another accuracy interval draws another figure
    cnn = st.variants["cnn"]
    wider = dataclasses.replace(
        cnn.bootstrap.seed_mean,
        accuracy=dataclasses.replace(cnn.bootstrap.seed_mean.accuracy, low=0.0, high=1.0),
    )
    changed = dataclasses.replace(
        st,
        variants={
            **st.variants,
            "cnn": dataclasses.replace(
                cnn, bootstrap=dataclasses.replace(cnn.bootstrap, seed_mean=wider)
            ),
        },
    )
    c = plots.plot_test_accuracy(runs, changed, tmp_path / "c.png")
    assert c.read_bytes() != a.read_bytes()


def test_a_variant_keeps_its_colour_in_a_subset(study):
    _, _, st = study
    everyone = style.colours_for(list(st.variants), st)
    assert style.colours_for(["cnn_dropout"], st)["cnn_dropout"] == everyone["cnn_dropout"]
    assert len(set(everyone.values())) == len(everyone)


def test_single_seed_and_early_stopping_are_drawn(tmp_path):
    variants = {"a": ("conv", 0.7, 1.0), "b": ("conv", 0.8, 2.0)}
    comps = {"ab": {"baseline": "a", "variants": ["b"]}}
    runs, _ = make_study(tmp_path / "s", variants, seeds=[0], n_test=30, comparisons=comps)
    # seed 0 of b stopped early: drop its last epoch
    hist = runs[-1].history
    hist.write_text("\n".join(hist.read_text().splitlines()[:-1]) + "\n")
    st = study_stats(runs, comps, tmp_path / "stats.json", n_bootstrap=50)
    outputs = figure_outputs(tmp_path / "out", COMPARISON_FIGURES, "ab")
    paths = plots.plot_comparison("ab", comps["ab"], runs, st.source, outputs)
    paths.append(plots.plot_accuracy_vs_time(runs, st, tmp_path / "out" / "time.png"))
    for p in paths:
        _assert_png(p)


def test_unknown_comparison_variant_is_named(study, tmp_path):
    runs, _, st = study
    outputs = figure_outputs(tmp_path, COMPARISON_FIGURES, "x")
    with pytest.raises(ValueError, match="comparisons.x"):
        plots.plot_comparison(
            "x", {"baseline": "cnn", "variants": ["nope"]}, runs, st.source, outputs
        )


def _png_size(path):
    """Width and height of a PNG from its IHDR chunk."""
    data = path.read_bytes()
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_row_normalised_confusion():
    m = class_plots.row_normalised([[3, 1, 0], [0, 0, 0], [1, 1, 2]])
    assert m[0].tolist() == [0.75, 0.25, 0.0] and np.isnan(m[1]).all()
    assert m[2].tolist() == [0.25, 0.25, 0.5]


@pytest.mark.parametrize("k", [3, 11])
def test_k_class_figures(k, tmp_path):
    variants = {"a": ("conv", 0.6, 1.0), "b": ("conv", 0.9, 2.0), "c": ("linear", 0.7, 0.5)}
    comps = {"abc": {"baseline": "a", "variants": ["b", "c"]}}
    runs, _ = make_study(
        tmp_path / "s", variants, seeds=[0, 1], n_test=8 * k, comparisons=comps, n_classes=k
    )
    st = study_stats(runs, comps, tmp_path / "stats.json", n_bootstrap=40)
    out = tmp_path / "out"
    paths = plots.plot_comparison(
        "abc", comps["abc"], runs, st.source, figure_outputs(out, COMPARISON_FIGURES, "abc")
    )
    paths += plots.plot_study(runs, st.source, figure_outputs(out, STUDY_FIGURES))
    for p in paths:
        _assert_png(p)
    roc, confusion = out / "figures" / "roc_abc.png", out / "figures" / "confusion_abc.png"
    width, height = _png_size(roc)
    assert height > 0.7 * width if k == 11 else width > height  # 3 x 4 panels vs 1 x 3
    assert _png_size(confusion)[0] > _png_size(confusion)[1]  # three matrices side by side
    again = class_plots.plot_confusion("abc", comps["abc"], runs, st, tmp_path / "again.png")
    assert again.read_bytes() == confusion.read_bytes()
    again = curves.plot_roc("abc", comps["abc"], runs, st, tmp_path / "roc_again.png")
    assert again.read_bytes() == roc.read_bytes()


# --------------------------------------------------------------------------------------------
# Names of any length: shortened, broken into lines, titles fitted to their axes
# --------------------------------------------------------------------------------------------

LONG_NAME = "conv_with_a_long_descriptive_name" * 4 + "_07"


def test_a_long_name_keeps_its_start_and_end_within_the_width():
    short = style.shortened(LONG_NAME, 9)
    assert "…" in short and short.startswith("conv_with") and short.endswith("name_07")
    assert style.text_width(short, 9) <= style.NAME_WIDTH
    assert style.text_width(style.shortened(LONG_NAME, 9) + "x", 9) > 0.9 * style.NAME_WIDTH
    other = style.shortened(LONG_NAME[:-1] + "8", 9)
    assert other != short  # names that differ at the end stay apart
    assert style.shortened("cnn_dropout", 9) == "cnn_dropout"


def test_text_breaks_between_words_then_inside_names_never_wider_than_asked():
    text = f"{LONG_NAME} ({style.together('3 seeds pooled')}), accuracy 61.7%"
    lines = style.wrapped_text(text, 1.5, 10).split("\n")
    assert all(style.text_width(line, 10) <= 1.5 for line in lines), lines
    assert "".join(lines).replace(" ", "") == text.replace(style.KEEP, "").replace(" ", "")
    assert "(3 seeds pooled)," in lines  # kept together
    assert "61.7%" in lines[-1]  # a number is not broken at its point
    assert all(line.endswith("_") for line in lines[:3])  # a name breaks after its '_'
    assert style.wrapped_text("cnn (3 seeds pooled)", 3.0, 10) == "cnn (3 seeds pooled)"
    assert style.wrapped_text("a" * 80, 1.0, 10).count("\n") >= 3  # no break point: anywhere


def _titled(path, titles, fitted):
    with style.figure_file(path, 7.5, 3.0, (1, 3)) as (fig, axes):
        for ax in axes.flat:
            ax.plot([0, 1], [0, 1])
            ax.set_aspect("equal")
        if fitted:
            style.fit_titles(fig, list(zip(axes.flat, titles)))
        else:
            for ax, title in zip(axes.flat, titles):
                ax.set_title(title)
    return fig, path


def test_titles_that_fit_are_drawn_as_before(tmp_path):
    titles = ["ann (3 seeds pooled)", "cnn (3 seeds pooled)", "cnn_dropout (3 seeds)"]
    _, fitted = _titled(tmp_path / "fitted.png", titles, fitted=True)
    _, plain = _titled(tmp_path / "plain.png", titles, fitted=False)
    assert fitted.read_bytes() == plain.read_bytes()


def test_long_titles_stay_over_their_panel_and_inside_the_figure(tmp_path):
    from figure_checks import axes_overlaps, texts_outside

    titles = [f"{style.shortened(LONG_NAME, 10)} (variant), {k} seeds" for k in range(3)]
    fig, path = _titled(tmp_path / "long.png", titles, fitted=True)
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        assert "\n" in ax.get_title()
        title = ax.title.get_window_extent(renderer)
        assert title.width <= ax.get_window_extent().width + 1
    assert axes_overlaps(fig) == [] and texts_outside(fig) == []
    assert _png_size(path) == (900, 360)


def test_a_figure_grows_to_hold_what_its_layout_pushed_out(tmp_path):
    """Square panels under two-line titles: constrained layout leaves the axis labels below
    the figure; the figure is saved again, taller."""
    from figure_checks import texts_outside

    with style.figure_file(tmp_path / "grown.png", 9.9, 3.7, (1, 3)) as (fig, axes):
        for ax in axes.flat:
            ax.plot([0, 1], [0, 1])
            ax.set_aspect("equal")
            ax.set_title("a title\nof two lines")
            ax.set_xlabel("an axis label")
        fig.suptitle("A figure")
    assert texts_outside(fig) == []
    assert fig.get_figheight() > 3.7
    assert _png_size(tmp_path / "grown.png")[1] == round(fig.get_figheight() * style.DPI)
