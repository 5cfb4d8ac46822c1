"""Training: outputs, learning, determinism, early stopping and a real kill-and-resume."""

from __future__ import annotations

import copy
import csv
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from config_helpers import cache_files, decoding, train_files, variant_spec

from biomedclf.train.history import HISTORY_COLUMNS
from biomedclf.train.loop import run_training
from biomedclf.train.phases import PHASES
from biomedclf.train.settings import TrainingSettings

TRAIN_JSON_KEYS = [
    "variant",
    "seed",
    "model",
    "train_seconds",
    "best_epoch",
    "epochs_run",
    "stopped_early",
    "parameters",
    "device",
    "device_name",
    "threads",
    "torch_version",
    "torchvision_version",
    "python_version",
    "platform",
    "peak_memory_mb",
    "images_per_second",
    "n_train",
    "n_val",
    "image_size",
    "channels",
    "class_names",
    "n_classes",
    "loss",
    "phases",
]


def write_cache(
    data_dir: Path,
    sizes: tuple[int, int, int] = (64, 32, 32),
    image_size: int = 16,
    channels: int = 1,
    seed: int = 0,
    n_classes: int = 2,
) -> Path:
    """A data cache as workflow/CONTRACTS.md describes it. Two classes: class 1 has a brighter
    centre; K classes: class k > 0 has a bright patch in its own place along the diagonal."""
    data_dir.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    names = ["normal", "abnormal"] if n_classes == 2 else [f"class{k}" for k in range(n_classes)]
    for split, n in zip(("train", "val", "test"), sizes):
        labels = (torch.arange(n) % n_classes).long()
        img = torch.rand(n, channels, image_size, image_size, generator=g) * 0.6
        c = image_size // 4
        if n_classes == 2:
            img[labels == 1, :, c : image_size - c, c : image_size - c] += 0.3
        for k in range(1, n_classes if n_classes > 2 else 1):
            at = (k - 1) * (image_size - c) // max(n_classes - 2, 1)
            img[labels == k, :, at : at + c, at : at + c] += 0.4
        torch.save(
            {
                "images": (img.clamp(0, 1) * 255).to(torch.uint8).contiguous(),
                "labels": labels,
                "paths": [f"{split}/img{i:03d}.png" for i in range(n)],
                "class_names": names,
                "mean": [0.35] * channels,
                "std": [0.2] * channels,
            },
            data_dir / f"{split}.pt",
        )
    return data_dir


def make_spec(model: str = "conv", model_args: dict | None = None, **training: Any) -> dict:
    """A resolved variant spec (schema defaults filled): 3 epochs of batches of 16 on the CPU
    unless ``training`` says otherwise."""
    return variant_spec(
        model, model_args, **{"epochs": 3, "batch_size": 16, "device": "cpu", **training}
    )


def cache_decoding(data_dir: Path) -> dict:
    """The decoding settings of a cache written by :func:`write_cache` (its image size and
    channels, the schema's defaults otherwise)."""
    shape = torch.load(cache_files(data_dir)["train"], weights_only=True)["images"].shape
    return decoding(image_size=int(shape[2]), channels=int(shape[1]))


def train_run(
    spec: dict, seed: int, data_dir: Path, out_dir: Path, checkpoint: Path, threads: int = 1
) -> dict:
    """run_training on the cache in ``data_dir`` (:func:`write_cache`), writing the layout's
    files into ``out_dir`` and its checkpoint to the file ``checkpoint``; returns the
    train.json dict."""
    return run_training(
        spec,
        seed,
        cache_files(data_dir),
        train_files(out_dir),
        checkpoint,
        threads,
        decoding=cache_decoding(data_dir),
    )


def same_weights(a: Path, b: Path) -> bool:
    """Whether two model files hold the same parameters and buffers, bit for bit."""
    sa = torch.load(a, weights_only=True)["state_dict"]
    sb = torch.load(b, weights_only=True)["state_dict"]
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def read_history(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def without_seconds(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def train(spec: dict, seed: int, data: Path, root: Path, tag: str) -> tuple[dict, Path]:
    out = root / tag / "out"
    info = train_run(spec, seed, data, out, root / tag / "ckpt", threads=1)
    return info, out


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cache(tmp_path_factory.mktemp("cache"))


def test_outputs_follow_the_contract(data: Path, tmp_path: Path) -> None:
    spec = make_spec("conv", {"width": 8, "dropout": 0.3}, epochs=2)
    info, out = train(spec, 0, data, tmp_path, "a")
    assert sorted(p.name for p in out.iterdir()) == [
        "history.csv",
        "model.pt",
        "scores.csv",
        "train.json",
    ]
    assert not (tmp_path / "a" / "ckpt").exists()  # checkpoint removed after success
    assert json.loads((out / "train.json").read_text()) == info
    assert list(info) == TRAIN_JSON_KEYS
    assert (info["variant"], info["seed"], info["model"]) == ("conv_test", 0, "conv")
    assert (info["n_train"], info["n_val"], info["image_size"], info["channels"]) == (
        64,
        32,
        16,
        1,
    )
    assert info["device"] == "cpu" and info["epochs_run"] == 2 and not info["stopped_early"]
    assert info["images_per_second"] > 0 and info["peak_memory_mb"] > 0
    rows = read_history(out / "history.csv")
    assert list(rows[0]) == list(HISTORY_COLUMNS)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(0 <= float(r["train_accuracy"]) <= 1 for r in rows)
    assert float(rows[0]["lr"]) == 1e-3
    assert info["train_seconds"] == pytest.approx(sum(float(r["seconds"]) for r in rows))
    best = min(range(2), key=lambda i: float(rows[i]["val_loss"])) + 1
    assert info["best_epoch"] == best
    ckpt = torch.load(out / "model.pt", weights_only=True)
    assert set(ckpt) == {
        "spec",
        "seed",
        "state_dict",
        "class_names",
        "mean",
        "std",
        "image_size",
        "channels",
        "best_epoch",
        "n_classes",
        "threshold",
        "data",
        "backbone",
    }
    assert ckpt["backbone"] is None  # a registry model: no torchvision/timm record
    assert ckpt["data"] == decoding(image_size=16, channels=1)
    assert info["loss"] == "binary cross-entropy"
    assert 0 < ckpt["threshold"] < 1
    assert ckpt["spec"] == spec and ckpt["best_epoch"] == best
    assert ckpt["class_names"] == ["normal", "abnormal"] and ckpt["mean"] == [0.35]


@pytest.mark.parametrize(
    ("model", "args", "training"),
    [
        ("linear", {}, {}),
        ("conv", {"width": 8}, {"optimizer": "sgd", "lr": 0.05}),
        (
            "conv_gap",
            {"width": 16, "batch_norm": True},
            {"optimizer": "adamw", "lr": 3e-3},
        ),
    ],
)
def test_short_run_lowers_the_loss(data: Path, tmp_path: Path, model, args, training) -> None:
    info, out = train(make_spec(model, args, epochs=5, **training), 0, data, tmp_path, "r")
    rows = read_history(out / "history.csv")
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    best_val = min(float(r["val_loss"]) for r in rows)
    assert best_val < 0.69  # better than chance (ln 2)


def test_deterministic_on_cpu(data: Path, tmp_path: Path) -> None:
    spec = make_spec("conv", {"width": 8, "dropout": 0.3}, epochs=3, augment=True)
    _, out1 = train(spec, 7, data, tmp_path, "one")
    _, out2 = train(spec, 7, data, tmp_path, "two")
    _, out3 = train(spec, 8, data, tmp_path, "other_seed")
    h1, h2, h3 = (read_history(o / "history.csv") for o in (out1, out2, out3))
    assert without_seconds(h1) == without_seconds(h2)
    assert without_seconds(h1) != without_seconds(h3)
    s1 = torch.load(out1 / "model.pt", weights_only=True)["state_dict"]
    s2 = torch.load(out2 / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(s1[k], s2[k]) for k in s1)


def test_early_stopping(data: Path, tmp_path: Path) -> None:
    # lr so small that nothing changes: epoch 1 is best, then `patience` epochs without gain
    spec = make_spec("linear", {}, epochs=10, early_stopping=2, lr=1e-12)
    info, out = train(spec, 0, data, tmp_path, "es")
    assert info["stopped_early"] and info["epochs_run"] == 3 and info["best_epoch"] == 1
    assert len(read_history(out / "history.csv")) == 3


def test_settings_errors_name_the_key() -> None:
    # the values are the schema's to check (tests/test_config.py); the keys are checked here
    spec = variant_spec("conv", name="v", epochs=3)
    settings = TrainingSettings.from_spec(spec)
    assert (settings.epochs, settings.optimizer, settings.label_smoothing) == (3, "adam", 0)
    with pytest.raises(ValueError, match=r"variants\.v\.learning_rate: not a training setting"):
        TrainingSettings.from_spec({**spec, "training": {**spec["training"], "learning_rate": 1}})
    del spec["training"]["momentum"]
    with pytest.raises(
        ValueError, match=r"variants\.v\.momentum \(or training\.momentum\): missing"
    ):
        TrainingSettings.from_spec(spec)


def test_missing_cache_and_wrong_roles_are_clear_errors(tmp_path: Path) -> None:
    outputs = train_files(tmp_path / "o")
    settings = decoding(image_size=16)
    with pytest.raises(
        FileNotFoundError, match=r"train\.pt: no cached split; run the prepare step"
    ):
        run_training(
            make_spec(), 0, cache_files(tmp_path), outputs, tmp_path / "c", decoding=settings
        )
    with pytest.raises(ValueError, match=r"on fold 1 reads the cache files pool, folds, test"):
        run_training(
            make_spec(),
            0,
            cache_files(tmp_path),
            outputs,
            tmp_path / "c",
            decoding=settings,
            fold=1,
        )
    with pytest.raises(ValueError, match=r"writes model, history, scores, info, but was given"):
        run_training(
            make_spec(),
            0,
            cache_files(tmp_path),
            {"model": tmp_path / "m"},
            tmp_path / "c",
            decoding=settings,
        )
    del settings["resize"]
    with pytest.raises(ValueError, match=r"data\.resize: missing"):
        run_training(
            make_spec(), 0, cache_files(tmp_path), outputs, tmp_path / "c", decoding=settings
        )
    assert not (tmp_path / "o").exists()


def test_foreign_checkpoint_is_ignored(
    data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = make_spec("linear", {"hidden": [8]}, epochs=2)
    _, ref = train(spec, 0, data, tmp_path, "ref")
    ckpt = tmp_path / "x" / "ckpt" / "checkpoint.pt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"not a checkpoint")
    with caplog.at_level(logging.WARNING, logger="biomedclf.train.state"):
        train_run(spec, 0, data, tmp_path / "x" / "out", ckpt)
    assert "unreadable checkpoint" in caplog.text
    assert without_seconds(read_history(ref / "history.csv")) == without_seconds(
        read_history(tmp_path / "x" / "out" / "history.csv")
    )


KILLED_RUN = """
import json, sys, time
import biomedclf.train.loop as train
from biomedclf.train.state import TrainState

save = TrainState.save

def slow_save(*args, **kwargs):  # widen the window between epochs; the maths is unchanged
    save(*args, **kwargs)
    time.sleep(0.5)

TrainState.save = slow_save
job = json.loads(sys.argv[1])
train.run_training(
    job["spec"], 3, job["data"], job["outputs"], job["checkpoint"], 1, decoding=job["decoding"]
)
"""


def _checkpoint_epoch(path: Path) -> int:
    if not path.is_file():
        return 0
    try:
        return int(torch.load(path, weights_only=True)["progress"]["epoch"])
    except Exception:  # noqa: BLE001 - mid-replace on some filesystems; poll again
        return 0


@pytest.mark.parametrize(
    "fine_tuning",
    [
        {},
        # the scheduler's state and the head-only epochs survive the kill too
        # (tests/test_finetuning.py stops runs at chosen epochs)
        {"scheduler": "cosine", "warmup_epochs": 2, "freeze_epochs": 3},
    ],
    ids=["constant", "cosine_warmup_freeze"],
)
def test_sigkill_and_resume_equals_uninterrupted_run(
    data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, fine_tuning: dict
) -> None:
    spec = make_spec("conv", {"width": 8, "dropout": 0.3}, epochs=6, augment=True, **fine_tuning)
    out, ckpt = tmp_path / "killed" / "out", tmp_path / "killed" / "ckpt" / "checkpoint.pt"
    job = {
        "spec": spec,
        "data": {r: str(p) for r, p in cache_files(data).items()},
        "outputs": {r: str(p) for r, p in train_files(out).items()},
        "checkpoint": str(ckpt),
        "decoding": cache_decoding(data),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILLED_RUN), json.dumps(job)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    try:
        while _checkpoint_epoch(ckpt) < 1:
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.05)  # polling interval, not a synchronisation
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    done = _checkpoint_epoch(ckpt)
    assert 1 <= done < 6, done
    assert not (out / "model.pt").exists()

    with caplog.at_level(logging.INFO, logger="biomedclf.train.loop"):
        resumed = train_run(copy.deepcopy(spec), 3, data, out, ckpt, threads=1)
    assert f"after epoch {done}" in caplog.text
    assert not ckpt.exists()
    ref_info, ref = train(spec, 3, data, tmp_path, "uninterrupted")

    assert without_seconds(read_history(out / "history.csv")) == without_seconds(
        read_history(ref / "history.csv")
    )
    assert resumed["best_epoch"] == ref_info["best_epoch"] and resumed["epochs_run"] == 6
    a = torch.load(out / "model.pt", weights_only=True)
    b = torch.load(ref / "model.pt", weights_only=True)
    assert a["state_dict"].keys() == b["state_dict"].keys()
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])


def test_augmentation_is_per_image_and_seeded() -> None:
    from biomedclf.train.augment import augment_batch

    x = torch.rand(1, 1, 16, 16).repeat(8, 1, 1, 1)
    a = augment_batch(x.clone(), torch.Generator().manual_seed(0))
    b = augment_batch(x.clone(), torch.Generator().manual_seed(0))
    c = augment_batch(x.clone(), torch.Generator().manual_seed(1))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1
    # each image gets its own transform: no two of the eight copies end up equal
    flat = a.flatten(1)
    assert all(not torch.equal(flat[i], flat[j]) for i in range(8) for j in range(i + 1, 8))


def test_trailing_single_image_batch_is_skipped(tmp_path: Path) -> None:
    # 10 = 3 * 3 + 1: a last batch of one image would break ResNet-18's final BatchNorm
    # (one 1x1 value per channel) in training
    small = write_cache(tmp_path / "small", sizes=(10, 4, 4), image_size=16)
    spec = make_spec("resnet18", {}, epochs=1, batch_size=3)
    info, _ = train(spec, 0, small, tmp_path, "bn")
    assert info["epochs_run"] == 1


@pytest.fixture(scope="module")
def data4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cache(tmp_path_factory.mktemp("cache4"), sizes=(96, 48, 48), n_classes=4)


@pytest.mark.parametrize("model", ["linear", "conv", "conv_gap"])
def test_k_class_training_learns_and_writes_k_probabilities(
    data4: Path, tmp_path: Path, model: str
) -> None:
    args = {} if model == "linear" else {"width": 8}
    info, out = train(make_spec(model, args, epochs=8, lr=3e-3), 0, data4, tmp_path, model)
    assert info["n_classes"] == 4 and info["class_names"] == [f"class{k}" for k in range(4)]
    assert info["loss"] == "cross-entropy"
    rows = read_history(out / "history.csv")
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert max(float(r["val_accuracy"]) for r in rows) > 0.5  # chance is 0.25
    scores = list(csv.DictReader((out / "scores.csv").open()))
    assert list(scores[0]) == ["split", "path", "label", "prob_0", "prob_1", "prob_2", "prob_3"]
    assert len(scores) == 96
    for row in scores:
        total = sum(float(row[f"prob_{k}"]) for k in range(4))
        assert total == pytest.approx(1.0, abs=1e-5)
    assert torch.load(out / "model.pt", weights_only=True)["n_classes"] == 4


def test_binary_scores_keep_the_sigmoid_in_prob_1(data: Path, tmp_path: Path) -> None:
    from biomedclf.train.augment import normalisation_tensors
    from biomedclf.train.inference import predict_logits
    from biomedclf.train.models import load_model

    _, out = train(make_spec("linear", {"hidden": [8]}, epochs=1), 0, data, tmp_path, "b")
    model, saved = load_model(out / "model.pt")
    test = torch.load(data / "test.pt", weights_only=True)
    mean, std = normalisation_tensors(saved["mean"], saved["std"], torch.device("cpu"))
    sigmoid = torch.sigmoid(predict_logits(model, test["images"], mean, std)).tolist()
    rows = [r for r in csv.DictReader((out / "scores.csv").open()) if r["split"] == "test"]
    assert [float(r["prob_1"]) for r in rows] == sigmoid
    assert all(float(r["prob_0"]) == pytest.approx(1 - float(r["prob_1"])) for r in rows)


def test_losses_match_torch_definitions() -> None:
    from biomedclf.train.losses import balanced_weights, make_objective, probabilities

    cpu = torch.device("cpu")
    labels = torch.tensor([0, 0, 0, 1, 2, 2])
    assert balanced_weights(labels, 3).tolist() == pytest.approx([6 / 9, 6 / 3, 6 / 6])
    logits = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    objective = make_objective(3, labels, "balanced", 0.1, cpu)
    want = torch.nn.functional.cross_entropy(
        logits, labels, weight=balanced_weights(labels, 3), label_smoothing=0.1
    )
    assert torch.allclose(objective.loss(logits, labels), want)
    binary = torch.tensor([0, 0, 0, 1])
    one = logits[:4, 0]
    weighted = make_objective(2, binary, "balanced", 0.2, cpu)
    targets = binary.float() * 0.8 + 0.1  # label smoothing 0.2: 0.1 and 0.9
    want = torch.nn.functional.binary_cross_entropy_with_logits(
        one, targets, pos_weight=torch.tensor([3.0])
    )
    assert torch.allclose(weighted.loss(one, binary), want)
    plain = make_objective(2, binary, None, 0.0, cpu)
    assert torch.equal(
        plain.loss(one, binary),
        torch.nn.functional.binary_cross_entropy_with_logits(one, binary.float()),
    )
    probs = probabilities(one)
    assert torch.equal(probs[:, 1], torch.sigmoid(one)) and probs.shape == (4, 2)
    assert torch.allclose(probabilities(logits).sum(1), torch.ones(6))
    with pytest.raises(ValueError, match="training.class_weights.*\\[1\\]"):
        make_objective(3, torch.tensor([0, 2, 2]), "balanced", 0.0, cpu)


def test_every_output_goes_to_the_path_given(data: Path, tmp_path: Path) -> None:
    outputs = {
        "model": tmp_path / "a" / "m.bin",
        "history": tmp_path / "b" / "h.txt",
        "info": tmp_path / "c" / "i.txt",
        "scores": tmp_path / "d" / "s.txt",
    }
    spec = make_spec("linear", {"hidden": [4]}, epochs=1)
    info = run_training(
        spec, 0, cache_files(data), outputs, tmp_path / "ckpt", decoding=cache_decoding(data)
    )
    assert {p for p in tmp_path.rglob("*") if p.is_file()} == set(outputs.values())
    assert json.loads(outputs["info"].read_text()) == info
    assert len(read_history(outputs["history"])) == 1


def test_train_json_times_each_phase_of_the_call(data: Path, tmp_path: Path) -> None:
    modes = []

    class Mode:  # a callback that notes the deterministic mode the model is fitted in
        def on_fit_start(self, params: dict, history: list) -> None:
            modes.append(torch.get_deterministic_debug_mode())

        def on_epoch_end(self, row: dict) -> None:
            pass

        def on_fit_end(self, info: dict) -> None:
            pass

    before = torch.get_deterministic_debug_mode()
    spec = make_spec("linear", {"hidden": [4]}, epochs=2)
    t0 = time.perf_counter()
    info = run_training(
        spec,
        0,
        cache_files(data),
        train_files(tmp_path),
        tmp_path / "ckpt",
        decoding=cache_decoding(data),
        callbacks=[Mode()],
    )
    wall = time.perf_counter() - t0
    phases = info["phases"]
    assert list(phases) == list(PHASES)
    # called alone: what came before the call (start-up, imports) is not known
    assert phases["start_up_s"] is None and phases["imports_s"] is None
    timed = [phases[p] for p in PHASES[2:]]
    assert all(v >= 0 for v in timed)
    assert sum(timed) <= wall + 1e-3  # consecutive phases, rounded to 0.1 ms each
    assert phases["loop_s"] >= info["train_seconds"] - 1e-3  # the epochs and what follows them
    # the process's deterministic mode is left as it was (CPU runs are deterministic without
    # it, and requesting it imports torch's compiler; tests/test_optimizers.py)
    assert modes == [before] and torch.get_deterministic_debug_mode() == before


def test_start_up_and_imports_are_timed_from_the_process_start() -> None:
    """The adapter's clock: start-up from the process's start, imports up to the entry; the
    garbage collector is paused until the set-up ends, then leaves the modules out."""
    code = textwrap.dedent(
        """
        from biomedclf.train.phases import PhaseClock
        clock = PhaseClock.at_script()
        import gc, json
        paused = not gc.isenabled()
        clock.enter()
        clock.mark("set_up_s")
        frozen = gc.isenabled() and gc.get_freeze_count() > 0
        print(json.dumps({**clock.record(), "paused": paused, "frozen": frozen}))
        """
    )
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    got = json.loads(proc.stdout.splitlines()[-1])
    assert got["paused"] and got["frozen"]
    if sys.platform.startswith("linux"):  # /proc/self/stat: the process's start time
        assert got["start_up_s"] > 0
        assert got["start_up_s"] + got["imports_s"] + got["set_up_s"] <= wall + 0.02
    assert got["imports_s"] >= 0 and got["load_s"] is None


def test_a_fold_trains_on_its_part_of_the_pool_and_scores_the_held_out_fold(
    data: Path, tmp_path: Path
) -> None:
    import numpy as np

    from biomedclf.data.folds import Folds, write_folds

    pool = torch.load(data / "train.pt", weights_only=True)  # 64 images, the pool here
    files = cache_files(tmp_path, folds=True)
    torch.save(pool, files["pool"])
    torch.save(torch.load(data / "test.pt", weights_only=True), files["test"])
    fold = np.arange(64) % 4
    inner = [np.flatnonzero(fold != f)[:8] for f in range(4)]
    write_folds(files["folds"], Folds(4, 0, 0.15, fold, inner))
    out = train_files(tmp_path / "fold1")
    spec = make_spec("linear", {"hidden": [4]}, epochs=1)
    info = run_training(
        spec, 0, files, out, tmp_path / "ckpt", decoding=cache_decoding(data), fold=1
    )
    assert (info["fold"], info["n_heldout"], info["n_train"], info["n_val"]) == (1, 16, 40, 8)
    scores = list(csv.DictReader(out["scores"].open()))
    held = [r["path"] for r in scores if r["split"] == "heldout"]
    assert held == [pool["paths"][i] for i in np.flatnonzero(fold == 1)]
    assert sum(r["split"] == "test" for r in scores) == 32
