"""The saliency figure and the error gallery of every comparison: PNGs without the Software
chunk, the same bytes for the same inputs, for two and for eleven classes."""

from __future__ import annotations

import numpy as np
import pytest
from aggregate_fixtures import make_study, write_fake_explain

from biomedclf.explain.files import read_errors, read_maps
from biomedclf.explain.selection import GALLERY_MAX, ensemble_errors
from biomedclf.layout import figure_file
from biomedclf.report.figures import errors as explain_gallery
from biomedclf.report.figures import saliency as explain_plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

COMPARISONS_11 = {"wider": {"baseline": "cnn", "variants": ["cnn_dropout", "ann"]}}


def _study(root, n_classes, comparisons=None, n_images=16):
    runs, study = make_study(
        root, seeds=[0, 1, 2], n_test=120, n_classes=n_classes, comparisons=comparisons
    )
    maps = write_fake_explain(
        root,
        runs,
        study["comparisons"],
        n_images=n_images,
        survivors=("cnn_dropout",),
        linear=("ann",),
    )
    return runs, study, maps


def _draw(study, maps, root):
    """Every comparison's figures into the study folder ``root``, as the rule names them."""
    errors = {v: p.with_name("errors.npz") for v, p in maps.items()}
    figures = {
        (c, kind): figure_file(root, kind, c)
        for c in study["comparisons"]
        for kind in ("saliency", "errors")
    }
    return explain_gallery.plot_explain_figures(study["comparisons"], maps, errors, figures)


@pytest.fixture(scope="module", params=[2, 11], ids=["2 classes", "11 classes"])
def figures(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"k{request.param}")
    comps = COMPARISONS_11 if request.param == 11 else None
    runs, study, maps = _study(root, request.param, comps)
    return root, runs, study, maps, _draw(study, maps, root)


def test_every_comparison_gets_both_figures(figures):
    root, _, study, _, paths = figures
    expected = [f"{kind}_{c}.png" for c in study["comparisons"] for kind in ("saliency", "errors")]
    assert [p.name for p in paths] == expected
    for p in paths:
        data = p.read_bytes()
        assert p.parent == root / "figures" and data.startswith(PNG_MAGIC) and len(data) > 5000
        assert b"Software" not in data[:4000]


def test_figures_are_deterministic(figures, tmp_path):
    root, runs, study, maps, paths = figures
    again = _draw(study, maps, tmp_path)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in paths]


def test_the_rule_must_name_both_figures_of_every_comparison(figures, tmp_path):
    _, _, study, maps, _ = figures
    errors = {v: p.with_name("errors.npz") for v, p in maps.items()}
    name = next(iter(study["comparisons"]))
    only_saliency = {(name, "saliency"): tmp_path / "s.png"}
    with pytest.raises(ValueError, match="a saliency and an errors figure per comparison"):
        explain_gallery.plot_explain_figures(study["comparisons"], maps, errors, only_saliency)


def test_saliency_figure_follows_the_maps(figures, tmp_path):
    _, _, study, maps, _ = figures
    name, comp = sorted(study["comparisons"].items())[0]
    a = explain_plots.plot_explanations(name, comp, maps, tmp_path / "a.png")
    m = read_maps(maps[comp["baseline"]])
    m.maps = m.maps[:, ::-1].copy()
    changed = {**maps, comp["baseline"]: tmp_path / "changed.npz"}
    from biomedclf.explain.files import write_maps

    write_maps(changed[comp["baseline"]], m)
    b = explain_plots.plot_explanations(name, comp, changed, tmp_path / "b.png")
    assert a.read_bytes() != b.read_bytes()


def test_maps_lacking_the_baselines_images_are_refused(figures, tmp_path):
    _, _, study, maps, _ = figures
    name, comp = sorted(study["comparisons"].items())[0]
    swapped = {**maps, comp["variants"][0]: maps[comp["baseline"]]}
    m = read_maps(maps[comp["baseline"]])
    keep = np.ones(len(m.paths), bool)
    keep[m.rows_for(comp["baseline"])[0]] = False
    from biomedclf.explain.files import write_maps

    for key in (
        "paths",
        "labels",
        "probabilities",
        "images",
        "maps",
        "randomised_maps",
        "spearman",
        "explained",
    ):
        setattr(m, key, getattr(m, key)[keep])
    m.cascade_spearman = m.cascade_spearman[:, keep]
    m.selection_baseline = m.selection_baseline[:0]
    m.selection_image, m.selection_outcome = m.selection_image[:0], m.selection_outcome[:0]
    m.selection_rank, m.selection_label = m.selection_rank[:0], m.selection_label[:0]
    swapped[comp["variants"][0]] = write_maps(tmp_path / "less.npz", m)
    with pytest.raises(ValueError, match=f"comparisons.{name}: the maps of .* rerun its explain"):
        explain_plots.plot_explanations(name, comp, swapped, tmp_path / "x.png")


def test_gallery_heading_names_the_errors_and_confusions(figures):
    _, runs, _, maps, _ = figures
    full = ensemble_errors({r.seed: r.predictions for r in runs if r.variant == "ann"}, "ann")
    err = read_errors(maps["ann"].with_name("errors.npz"))
    assert err.n_errors == len(full.paths) and err.paths.tolist() == full.paths[:GALLERY_MAX]
    text = explain_gallery.gallery_heading(err, "baseline")
    assert text.startswith(
        f"ann (baseline): {len(full.paths)} of 120 test images wrong (seed ensemble of 3 seeds)"
    )
    assert (f"the {GALLERY_MAX} most confident shown" in text) == (len(full.paths) > GALLERY_MAX)
    t, p, n = full.confusions()[0]
    assert f"→ {explain_plots.short(full.class_names[p])} ×{n}" in text


def test_long_class_names_are_shortened():
    assert explain_plots.short("kidney-right") == "kidney-right"
    assert explain_plots.short("a very long class name") == "a very long …"
