"""Saliency maps with captum (biomedclf.explain.saliency): a known answer, the two-class sign
convention, the randomisation cascade, and the explain job's outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from test_train import make_spec, write_cache
from test_train import train_run as train_into

from biomedclf.evaluate.evaluation import run_evaluation
from biomedclf.evaluate.multiclass import predict_classes
from biomedclf.evaluate.run_results import load_predictions
from biomedclf.explain import saliency as explain
from biomedclf.explain.files import read_errors, read_maps, read_sanity
from biomedclf.explain.sanity import SURVIVAL_THRESHOLD, map_correlations
from biomedclf.explain.selection import GALLERY_MAX
from biomedclf.layout import DATA_FILES, EXPLAIN_FILES, eval_files, run_dir, train_files
from biomedclf.train.inference import flat_logits
from biomedclf.train.losses import predicted
from biomedclf.train.models import build_model, load_model
from biomedclf.train.scores import read_scores

#: The known answer: class 1 is a bright 16 x 16 patch at a fixed place of a 32 x 32 image.
SIZE, PATCH = 32, (slice(2, 18), slice(2, 18))


def write_patch_cache(data_dir: Path, sizes=(200, 60, 60)) -> Path:
    """A two-class cache whose class is decided only by the patch (noise elsewhere)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    for split, n in zip(("train", "val", "test"), sizes):
        labels = (torch.arange(n) % 2).long()
        img = torch.rand(n, 1, SIZE, SIZE, generator=g) * 0.6
        img[labels == 1, :, PATCH[0], PATCH[1]] += 0.4
        torch.save(
            {
                "images": (img.clamp(0, 1) * 255).to(torch.uint8).contiguous(),
                "labels": labels,
                "paths": [f"{split}/img{i:03d}.png" for i in range(n)],
                "class_names": ["clear", "patch"],
                "mean": [0.35],
                "std": [0.2],
            },
            data_dir / f"{split}.pt",
        )
    return data_dir


def train_run(study: Path, data: Path, name: str, model: str, epochs: int, **args) -> dict:
    """Train and evaluate one run (seed 0) in the study layout, as the train and evaluate
    jobs do; its files by role (model, history, info, scores, metrics, predictions)."""
    train, evaluation = train_files(study, name, 0), eval_files(study, name, 0)
    spec = {**make_spec(model, args, epochs=epochs), "name": name}
    train_into(spec, 0, data, run_dir(study, "train", name, 0), study / ".ckpt" / name)
    run_evaluation(train["scores"], train["info"], ordinal=False, **evaluation)
    return {**train, **evaluation}


def outputs(folder: Path) -> dict[str, Path]:
    """An explain job's outputs in ``folder``, by role."""
    return {role: folder / name for role, name in EXPLAIN_FILES.items()}


def explain_runs(runs: dict, variant: str, n_images: int, folder: Path, data: Path) -> dict:
    """explain_run of ``variant`` (seed 0) on the cache ``data`` with every run of ``runs`` as
    a baseline and its own predictions as the seed ensemble, as the explain rule passes them;
    the written files by role."""
    return explain.explain_run(
        runs[variant]["model"],
        data / DATA_FILES["test"],
        baselines={name: run["predictions"] for name, run in runs.items()},
        ensemble={0: runs[variant]["predictions"]},
        n_images=n_images,
        outputs=outputs(folder),
        threads=1,
    )


@pytest.fixture(scope="module")
def patch_study(tmp_path_factory) -> tuple[Path, Path, dict[str, dict]]:
    study = tmp_path_factory.mktemp("patch")
    data = write_patch_cache(study / "data")
    runs = {
        "cnn": train_run(study, data, "cnn", "conv", 4),
        "ann": train_run(study, data, "ann", "linear", 3),
    }
    return study, data, runs


def _inputs(run: dict, data: Path):
    model, saved = load_model(run["model"])
    test = torch.load(data / "test.pt", weights_only=True)
    x = explain._inputs(saved, test["images"])
    with torch.no_grad():
        called = predicted(flat_logits(model(x)))
    return model, x, test["labels"], called


def mass_inside(maps: np.ndarray) -> np.ndarray:
    """Fraction of each map's total inside the patch (0 for an empty map)."""
    total = maps.sum(axis=(1, 2))
    inside = maps[:, PATCH[0], PATCH[1]].sum(axis=(1, 2))
    return np.where(total > 0, inside / np.where(total > 0, total, 1), 0.0)


def test_grad_cam_finds_the_patch_and_the_randomised_model_does_not(patch_study):
    _, data, runs = patch_study
    model, x, labels, called = _inputs(runs["cnn"], data)
    positives = ((labels == 1) & (called == 1)).numpy()
    assert positives.sum() >= 20, "the short training should classify most positives"
    method = explain.method_for(model)
    assert method == explain.Method("grad_cam", "features.6")
    maps = explain.attribution_maps(model, method, x[positives], labels[positives])
    assert maps.shape == (positives.sum(), SIZE, SIZE) and maps.min() >= 0
    trained = mass_inside(maps)
    # the patch is a quarter of the image: chance would put a quarter of the mass there
    assert trained.mean() >= 0.5, trained
    _, steps = explain.randomisation_cascade(model, method, x[positives], labels[positives], 0)
    assert mass_inside(steps[-1]).mean() < 0.5
    assert np.nanmean(map_correlations(maps, steps[-1])) < SURVIVAL_THRESHOLD


def test_two_class_maps_of_class_0_attribute_the_negative_logit(patch_study):
    from captum.attr import LayerGradCam

    _, data, runs = patch_study
    model, x, _, _ = _inputs(runs["cnn"], data)
    scores = explain.ClassScores(model)
    with torch.no_grad():
        out = scores(x[:4])
        assert torch.equal(out[:, 1], model(x[:4])[:, 0]) and torch.equal(out[:, 0], -out[:, 1])
    cam = LayerGradCam(scores, model.features[6])
    zeros, ones = torch.zeros(4, dtype=torch.int64), torch.ones(4, dtype=torch.int64)
    c0 = cam.attribute(x[:4], target=zeros, relu_attributions=False)
    c1 = cam.attribute(x[:4], target=ones, relu_attributions=False)
    assert torch.allclose(c0, -c1, atol=1e-6)


def test_the_cascade_goes_from_the_output_layer_down():
    conv = build_model("conv", {}, 1, 32, n_classes=2)
    assert explain.cascade_groups(conv) == [
        ["fc2"],
        ["fc1"],
        ["features.6"],
        ["features.3"],
        ["features.0"],
    ]
    gap = build_model("conv_gap", {"batch_norm": True, "depth": 2}, 1, 32, n_classes=2)
    assert explain.cascade_groups(gap) == [
        ["head"],
        ["features.4", "features.5"],
        ["features.0", "features.1"],
    ]
    resnet = build_model("resnet18", {}, 1, 32, n_classes=2)
    groups = explain.cascade_groups(resnet)
    assert groups[0] == ["fc"] and groups[-1] == ["conv1", "bn1"] and len(groups) == 21
    assert explain.method_for(resnet) == explain.Method("grad_cam", "layer4.1.conv2")
    x = torch.randn(2, 1, 32, 32)
    maps = explain.attribution_maps(
        resnet.eval(), explain.method_for(resnet), x, torch.tensor([0, 1])
    )
    assert maps.shape == (2, 32, 32)


def test_the_cascade_changes_a_copy_and_restores_the_random_state(patch_study):
    _, data, runs = patch_study
    model, x, labels, _ = _inputs(runs["cnn"], data)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    groups, steps = explain.randomisation_cascade(
        model, explain.method_for(model), x[:6], labels[:6], seed=0
    )
    assert torch.equal(torch.rand(3), expected)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert len(steps) == len(groups) == 5
    again = explain.randomisation_cascade(model, explain.method_for(model), x[:6], labels[:6], 0)
    assert all(np.array_equal(a, b) for a, b in zip(steps, again[1]))


def test_linear_models_use_integrated_gradients_and_keep_their_first_layer(patch_study):
    _, data, runs = patch_study
    model, x, labels, _ = _inputs(runs["ann"], data)
    method = explain.method_for(model)
    assert method == explain.Method("integrated_gradients", "input")
    maps = explain.attribution_maps(model, method, x[:5], labels[:5])
    assert maps.shape == (5, SIZE, SIZE) and maps.min() >= 0
    weights = explain.first_layer_weights(model, (1, SIZE, SIZE))
    first = model.net[1].weight.detach().numpy()
    assert first.shape[0] == 32 > explain.WEIGHT_UNITS  # only the units the figure shows
    assert weights.shape == (explain.WEIGHT_UNITS, 1, SIZE, SIZE)
    assert np.array_equal(weights.reshape(explain.WEIGHT_UNITS, -1), first[: explain.WEIGHT_UNITS])
    conv = build_model("conv", {}, 1, SIZE, n_classes=2)
    assert explain.first_layer_weights(conv, (1, SIZE, SIZE)).shape == (0, 1, SIZE, SIZE)


def test_explain_run_writes_maps_and_sanity_as_documented(patch_study, tmp_path):
    study, data, runs = patch_study
    written = explain_runs(runs, "cnn", 6, tmp_path / "cnn", data=data)
    assert written == outputs(tmp_path / "cnn")
    m, rec = read_maps(written["maps"]), read_sanity(written["sanity"])
    assert (m.variant, m.seed, m.method, m.layer, m.target) == (
        "cnn",
        0,
        "grad_cam",
        "features.6",
        "true class",
    )
    assert set(m.selection_baseline.tolist()) == {"ann", "cnn"}
    assert len(m.rows_for("cnn")) == 6 and len(m.paths) <= 12
    assert m.maps.shape == m.randomised_maps.shape == (len(m.paths), SIZE, SIZE)
    test = read_scores(runs["cnn"]["scores"])["test"]
    row = {p: i for i, p in enumerate(test.paths)}
    expected = test.probabilities[[row[str(p)] for p in m.paths]]
    assert np.allclose(m.probabilities, expected, atol=1e-5)
    # the stored correlations are those of the stored maps, and scipy's
    assert np.allclose(m.spearman, map_correlations(m.maps, m.randomised_maps), equal_nan=True)
    i = int(np.flatnonzero(np.isfinite(m.spearman) & (m.spearman != 0))[0])
    rho = stats.spearmanr(m.maps[i].ravel(), m.randomised_maps[i].ravel()).statistic
    assert m.spearman[i] == pytest.approx(rho, abs=1e-12)
    assert rec["spearman"]["mean"] == pytest.approx(np.nanmean(m.spearman))
    assert [s["layers"] for s in rec["cascade"]] == [g.split(",") for g in m.cascade_layers]
    assert rec["n_images"] == len(m.paths) and rec["survives"] is False
    again = explain_runs(runs, "cnn", 6, tmp_path / "b", data=data)
    assert [again[r].read_bytes() for r in EXPLAIN_FILES] == [
        written[r].read_bytes() for r in EXPLAIN_FILES
    ]


def test_explain_run_stores_the_ensembles_errors_with_their_images(patch_study, tmp_path):
    _, data, runs = patch_study
    written = explain_runs({"ann": runs["ann"]}, "ann", 4, tmp_path, data=data)
    err = read_errors(written["errors"])
    pred = load_predictions(runs["ann"]["predictions"])
    wrong = np.flatnonzero(predict_classes(pred.probs) != pred.labels)
    assert (err.variant, err.n_test, err.n_errors) == ("ann", 60, wrong.size)
    assert err.seeds.tolist() == [0] and err.paths.shape[0] == min(wrong.size, GALLERY_MAX)
    assert set(err.paths.tolist()) <= {pred.paths[i] for i in wrong}
    test = torch.load(data / "test.pt", weights_only=True)
    row = {p: i for i, p in enumerate(test["paths"])}
    for k, p in enumerate(err.paths):
        assert np.array_equal(err.images[k], test["images"][row[str(p)]].numpy())
        assert err.labels[k] == test["labels"][row[str(p)]] != err.predicted[k]
    assert int(err.confusions[:, 2].sum()) == wrong.size


def test_the_seed_ensemble_is_given_by_seed(patch_study, tmp_path):
    """errors.npz names the ensemble's seeds (ascending, whatever the order given); a plain
    list of files, which cannot say their seeds, is refused."""
    _, data, runs = patch_study
    ann = runs["ann"]
    common = dict(baselines={"ann": ann["predictions"]}, n_images=4, threads=1)
    written = explain.explain_run(
        ann["model"],
        data / DATA_FILES["test"],
        ensemble={7: ann["predictions"], 3: ann["predictions"]},
        outputs=outputs(tmp_path / "a"),
        **common,
    )
    assert read_errors(written["errors"]).seeds.tolist() == [3, 7]
    with pytest.raises(TypeError, match=r"ensemble must map each seed to its predictions.csv"):
        explain.explain_run(
            ann["model"],
            data / DATA_FILES["test"],
            ensemble=[ann["predictions"]],
            outputs=outputs(tmp_path / "b"),
            **common,
        )
    with pytest.raises(ValueError, match=r"explain outputs: no path for \['errors'\]"):
        explain.explain_run(
            ann["model"],
            data / DATA_FILES["test"],
            ensemble={0: ann["predictions"]},
            outputs={"maps": tmp_path / "m.npz", "sanity": tmp_path / "s.json"},
            **common,
        )


def test_k_class_maps_explain_the_true_class(tmp_path):
    data = write_cache(tmp_path / "data", sizes=(96, 32, 48), image_size=16, n_classes=4)
    runs = {"cnn": train_run(tmp_path, data, "cnn", "conv", 2, width=8)}
    m = read_maps(explain_runs(runs, "cnn", 8, tmp_path / "o", data=data)["maps"])
    assert m.probabilities.shape == (len(m.paths), 4) and len(m.rows_for("cnn")) == 8
    assert sorted(set(m.labels.tolist())) == [0, 1, 2, 3]


def test_a_model_of_another_cache_is_refused(patch_study, tmp_path):
    _, _, runs = patch_study
    data = write_cache(tmp_path / "data")  # 16 px images
    with pytest.raises(ValueError, match=r"model\.pt: trained on \(1, 32, 32\).*retrain"):
        explain_runs({"cnn": runs["cnn"]}, "cnn", 4, tmp_path / "o", data=data)
