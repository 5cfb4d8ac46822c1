"""maps.npz and sanity.json: the documented arrays, byte-identical rewrites, readable errors."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from aggregate_fixtures import make_study, write_fake_explain

from biomedclf.explain.files import (
    ERRORS_FORMAT,
    MAPS_FORMAT,
    SaliencyMaps,
    read_errors,
    read_maps,
    read_sanity,
    write_errors,
    write_maps,
)
from biomedclf.explain.sanity import SANITY_FORMAT
from biomedclf.layout import explain_files

#: The arrays of maps.npz (workflow/CONTRACTS.md, "Saliency maps").
ARRAYS = {
    "format",
    "variant",
    "seed",
    "method",
    "layer",
    "target",
    "class_names",
    "paths",
    "labels",
    "probabilities",
    "images",
    "maps",
    "randomised_maps",
    "spearman",
    "cascade_layers",
    "cascade_spearman",
    "selection_baseline",
    "selection_image",
    "selection_outcome",
    "selection_rank",
    "first_layer_weights",
    "explained",
    "selection_label",
}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    runs, study = make_study(root, seeds=[0, 1], n_test=30)
    return root, write_fake_explain(root, runs, study["comparisons"], n_images=6, linear=("ann",))


def test_maps_npz_holds_the_documented_arrays_without_pickle(written):
    root, maps = written
    assert maps["cnn"] == explain_files(root, "cnn", 0)["maps"]
    with np.load(maps["cnn"], allow_pickle=False) as data:
        assert set(data.files) == ARRAYS
        n, (c, h, w) = data["paths"].shape[0], data["images"].shape[1:]
        assert str(data["format"]) == MAPS_FORMAT
        assert data["maps"].shape == data["randomised_maps"].shape == (n, h, w)
        assert data["probabilities"].shape == (n, data["class_names"].shape[0])
        assert data["images"].dtype == np.uint8 and data["labels"].dtype == np.int64
        assert data["cascade_spearman"].shape == (data["cascade_layers"].shape[0], n)
        assert data["first_layer_weights"].shape == (0, c, h, w)
    with np.load(maps["ann"]) as data:
        assert data["first_layer_weights"].shape == (32, 1, 16, 16)
        assert str(data["method"]) == "integrated_gradients"


def test_rewriting_the_same_maps_gives_the_same_bytes(written, tmp_path):
    _, maps = written
    m = read_maps(maps["cnn"])
    again = write_maps(tmp_path / "again.npz", m)
    assert again.read_bytes() == maps["cnn"].read_bytes()
    with zipfile.ZipFile(again) as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_read_maps_names_the_file_and_the_fix(written, tmp_path):
    _, maps = written
    with pytest.raises(FileNotFoundError, match="run the explain job"):
        read_maps(tmp_path / "none.npz")
    m = read_maps(maps["cnn"])
    m.format = "biomedclf-maps/0"
    write_maps(tmp_path / "old.npz", m)
    with pytest.raises(ValueError, match=r"old\.npz: not a biomedclf-maps/2 file.*rerun"):
        read_maps(tmp_path / "old.npz")
    m = read_maps(maps["cnn"])
    m.maps = m.maps[:-1]
    write_maps(tmp_path / "short.npz", m)
    with pytest.raises(ValueError, match=r"short\.npz: arrays \['maps'\] do not match"):
        read_maps(tmp_path / "short.npz")


def test_selection_rows_follow_the_baselines(written):
    _, maps = written
    m: SaliencyMaps = read_maps(maps["cnn"])
    assert set(m.selection_baseline.tolist()) == {"ann", "cnn"}
    for b in ("ann", "cnn"):
        rows = m.rows_for(b)
        assert len(rows) == 6 and set(m.outcome_for(b).values()) <= {"correct", "wrong"}
        assert len(set(rows)) == len(rows)


def test_sanity_json(written, tmp_path):
    root, _ = written
    rec = read_sanity(explain_files(root, "cnn", 0)["sanity"])
    assert rec["format"] == SANITY_FORMAT and rec["variant"] == "cnn" and rec["seed"] == 0
    assert {
        "threshold",
        "spearman",
        "survives",
        "cascade",
        "verdict",
        "method",
        "layer",
        "n_images",
        "statistic",
    } <= set(rec)
    bad = tmp_path / "sanity.json"
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="rerun the explain job"):
        read_sanity(bad)


def test_errors_npz_holds_the_gallery_and_is_checked(written, tmp_path):
    root, _ = written
    path = explain_files(root, "ann", 0)["errors"]
    err = read_errors(path)
    e = err.paths.shape[0]
    assert err.format == ERRORS_FORMAT and err.variant == "ann" and err.seeds.tolist() == [0, 1]
    assert err.images.shape == (e, 1, 16, 16) and err.images.dtype == np.uint8
    assert err.labels.shape == err.predicted.shape == err.confidence.shape == (e,)
    assert err.confusions.shape[1] == 3 and int(err.confusions[:, 2].sum()) == err.n_errors
    assert write_errors(tmp_path / "again.npz", err).read_bytes() == path.read_bytes()
    err.images = err.images[:-1]
    write_errors(tmp_path / "bad.npz", err)
    with pytest.raises(ValueError, match=r"bad\.npz: arrays do not match .*rerun the explain"):
        read_errors(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="not a biomedclf-errors/1 file"):
        read_errors(explain_files(root, "ann", 0)["maps"])
