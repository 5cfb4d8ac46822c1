"""Fine-tuning controls (biomedclf.train.schedule): learning-rate schedulers with warm-up, the
head-only epochs and the backbone's learning-rate factor, against torch's own schedulers;
resumed runs are bit-identical to uninterrupted ones; settings that do not go together are
config errors naming the key."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from config_helpers import cache_files, study_config, train_files
from test_train import (
    cache_decoding,
    make_spec,
    read_history,
    same_weights,
    train,
    train_run,
    without_seconds,
    write_cache,
)
from torch.optim import lr_scheduler

from biomedclf.errors import ConfigError
from biomedclf.train.settings import TrainingSettings


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cache(tmp_path_factory.mktemp("cache"), sizes=(48, 24, 24), image_size=16)


def torch_lrs(lr: float, epochs: int, scheduler: str, warmup: int, **step: Any) -> list[float]:
    """The learning rate of each epoch as torch's own schedulers give it (LinearLR warm-up,
    then CosineAnnealingLR to 0 at the end of the last epoch, StepLR or a constant rate),
    stepped once per epoch."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    if scheduler == "cosine":
        main: lr_scheduler.LRScheduler = lr_scheduler.CosineAnnealingLR(opt, epochs - warmup)
    elif scheduler == "step":
        main = lr_scheduler.StepLR(opt, step["step_size"], step["step_gamma"])
    else:
        main = lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0)
    sched = main
    if warmup:
        warm = lr_scheduler.LinearLR(opt, 1 / (warmup + 1), 1.0, total_iters=warmup)
        sched = lr_scheduler.SequentialLR(opt, [warm, main], milestones=[warmup])
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def settings(model: str = "conv", args: dict | None = None, **training: Any) -> TrainingSettings:
    return TrainingSettings.from_spec(make_spec(model, args, **training))


def built(spec: dict, channels: int = 1, size: int = 16) -> tuple[torch.nn.Module, Any, Any]:
    """(model, optimiser, fine-tuning plan) as a fresh run builds them."""
    from biomedclf.train.models import build_model
    from biomedclf.train.schedule import fine_tuning

    torch.manual_seed(0)
    model = build_model(spec["model"], spec["model_args"], channels, size, n_classes=2)
    s = TrainingSettings.from_spec(spec)
    return model, *fine_tuning(model, spec, s, channels, 1)


STEP = {"step_size": 2, "step_gamma": 0.5}


@pytest.mark.parametrize(
    ("scheduler", "warmup", "epochs"),
    [
        ("constant", 0, 4),
        ("constant", 3, 7),
        ("cosine", 0, 5),
        ("cosine", 2, 9),
        ("cosine", 5, 6),
        ("step", 0, 7),
        ("step", 3, 10),
    ],
)
def test_each_epochs_lr_is_torchs_schedulers(scheduler: str, warmup: int, epochs: int) -> None:
    spec = make_spec(scheduler=scheduler, warmup_epochs=warmup, epochs=epochs, lr=0.03, **STEP)
    _, optimizer, tuning = built(spec)
    got = []
    for _ in range(epochs):
        got.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # no gradients: changes nothing (torch wants it before a scheduler step)
        tuning.end_epoch()
    expected = torch_lrs(0.03, epochs, scheduler, warmup, **STEP)
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)
    if warmup:  # rising to the full rate, which the first epoch after the warm-up has
        assert got[:warmup] == sorted(got[:warmup]) and got[warmup] == pytest.approx(0.03)


def test_history_records_the_lr_each_epoch_trained_with(data: Path, tmp_path: Path) -> None:
    spec = make_spec("linear", {"hidden": [8]}, epochs=5, scheduler="cosine", warmup_epochs=2)
    _, out = train(spec, 0, data, tmp_path, "cos")
    lrs = [float(row["lr"]) for row in read_history(out / "history.csv")]
    assert lrs == pytest.approx(torch_lrs(0.001, 5, "cosine", 2), rel=1e-12)


def test_backbone_lr_factor_makes_two_scheduled_groups() -> None:
    spec = make_spec(
        "conv", {"width": 4}, lr=0.01, backbone_lr_factor=0.1, scheduler="step", **STEP
    )
    model, optimizer, tuning = built(spec)
    head, rest = optimizer.param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    assert [names[id(p)] for p in head["params"]] == ["fc2.weight", "fc2.bias"]  # last Linear
    assert {names[id(p)] for p in rest["params"]} == set(names.values()) - {
        "fc2.weight",
        "fc2.bias",
    }
    expected = torch_lrs(0.01, 5, "step", 0, **STEP)
    for lr in expected:
        assert head["lr"] == pytest.approx(lr, rel=1e-12)
        assert rest["lr"] == pytest.approx(0.1 * lr, rel=1e-12)
        optimizer.step()
        tuning.end_epoch()
    # without the factor: one group of every parameter, in the model's order (as before)
    _, optimizer, _ = built(make_spec("conv", {"width": 4}))
    assert len(optimizer.param_groups) == 1
    assert [p.shape for p in optimizer.param_groups[0]["params"]] == [
        p.shape for p in model.parameters()
    ]


def test_torchvision_and_timm_heads_are_the_replaced_classifiers() -> None:
    from biomedclf.train.schedule import head_parameter_names

    for name, head in [
        ("torchvision/mobilenet_v3_small", ["classifier.3.weight", "classifier.3.bias"]),
        ("torchvision/squeezenet1_1", ["classifier.1.weight", "classifier.1.bias"]),
        ("timm/resnet10t", ["fc.weight", "fc.bias"]),
    ]:
        spec = make_spec(name, {}, name="b", freeze_epochs=1)
        model, _, tuning = built(spec, channels=1, size=32)
        assert head_parameter_names(model, name, 1, 1, "b") == head
        assert tuning.head == frozenset(head)


def epoch_states(spec: dict, data: Path, epochs: int) -> list[dict[str, torch.Tensor]]:
    """The model's state before the first epoch and after each epoch, with the loop's own
    pieces (biomedclf.train.loop)."""
    from biomedclf.train.inputs import load_training_data
    from biomedclf.train.loop import Run, fresh_state, train_one_epoch
    from biomedclf.train.losses import make_objective
    from biomedclf.train.state import cpu_state

    device = torch.device("cpu")
    s = TrainingSettings.from_spec(spec)
    run = Run(spec, s, 0, device, 1, cache_decoding(data))
    d = load_training_data(cache_files(data), device)
    state = fresh_state(run, *d.shape, d.n_classes)
    objective = make_objective(d.n_classes, d.train.labels, None, 0.0, device)
    states = [cpu_state(state.model.state_dict())]
    for _ in range(epochs):
        train_one_epoch(state, d, run, objective)
        state.progress.epoch += 1
        state.tuning.end_epoch()
        states.append(cpu_state(state.model.state_dict()))
    return states


def changed(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> set[str]:
    return {k for k in a if not torch.equal(a[k], b[k])}


@pytest.mark.parametrize(
    ("model", "args", "head"),
    [
        ("conv_gap", {"width": 4, "batch_norm": True}, {"head.weight", "head.bias"}),
        (
            "torchvision/mobilenet_v3_small",
            {},
            {"classifier.3.weight", "classifier.3.bias"},
        ),
    ],
)
def test_head_only_epochs_leave_the_backbone_and_its_batch_norm_statistics(
    data: Path, model: str, args: dict, head: set[str]
) -> None:
    spec = make_spec(model, args, name="f", freeze_epochs=2, epochs=3, augment=True)
    states = epoch_states(spec, data, 3)
    stats = {k for k in states[0] if k.endswith(("running_mean", "running_var"))}
    assert stats, "the test needs BatchNorm layers in the backbone"
    for epoch in (1, 2):  # head only: BatchNorm in eval mode, so no statistic moves either
        assert set() < changed(states[epoch - 1], states[epoch]) <= head
    after = changed(states[2], states[3])  # every layer trains, BatchNorm in train mode
    assert head < after and stats <= after
    # unfrozen from the start, the same run moves the backbone in the first epoch
    free = epoch_states(make_spec(model, args, name="f", epochs=1, augment=True), data, 1)
    assert stats <= changed(free[0], free[1])


class Stopped(Exception):
    """A job stopped between two epochs (after its checkpoint was written)."""


def _raise_after(epoch: int) -> Callable[..., Any]:
    class Stop:
        def on_fit_start(self, params: Any, history: Any) -> None: ...

        def on_epoch_end(self, row: dict) -> None:
            if row["epoch"] == epoch:
                raise Stopped(f"stopped after epoch {epoch}")

        def on_fit_end(self, info: Any) -> None: ...

    return Stop


@pytest.mark.parametrize(
    ("stop_after", "optimizer"),
    [
        (1, {}),  # in warm-up and head only
        (3, {}),  # just unfrozen
        # the CPU's own optimisers (biomedclf.train.optimizers), their state in the checkpoint
        (3, {"optimizer": "sgd", "momentum": 0.9, "weight_decay": 1e-3}),
        (3, {"optimizer": "adamw", "weight_decay": 0.05}),
    ],
    ids=["adam_1", "adam_3", "sgd_momentum_3", "adamw_3"],
)
def test_resumed_cosine_warmup_freeze_run_equals_uninterrupted_run(
    data: Path, tmp_path: Path, stop_after: int, optimizer: dict
) -> None:
    from biomedclf.train.loop import run_training

    spec = make_spec(
        "conv_gap",
        {"width": 4, "batch_norm": True, "dropout": 0.2},
        name="r",
        epochs=5,
        augment=True,
        scheduler="cosine",
        warmup_epochs=2,
        freeze_epochs=3,
        backbone_lr_factor=0.5,
        **optimizer,
    )
    out, ckpt = tmp_path / "stopped", tmp_path / "ckpt" / "checkpoint.pt"
    with pytest.raises(Stopped):
        run_training(
            copy.deepcopy(spec),
            3,
            cache_files(data),
            train_files(out),
            ckpt,
            1,
            decoding=cache_decoding(data),
            callbacks=[_raise_after(stop_after)()],
        )
    saved = torch.load(ckpt, weights_only=True)
    assert saved["progress"]["epoch"] == stop_after
    assert saved["scheduler"]["last_epoch"] == stop_after
    resumed = train_run(copy.deepcopy(spec), 3, data, out, ckpt)
    ref_info, ref = train(spec, 3, data, tmp_path, "uninterrupted")
    history = read_history(out / "history.csv")
    assert without_seconds(history) == without_seconds(read_history(ref / "history.csv"))
    assert [float(r["lr"]) for r in history] == pytest.approx(
        torch_lrs(0.001, 5, "cosine", 2), rel=1e-12
    )
    assert resumed["best_epoch"] == ref_info["best_epoch"]
    assert same_weights(out / "model.pt", ref / "model.pt")


@pytest.mark.parametrize(
    ("training", "variant", "first_line"),
    [
        (
            {"scheduler": "linear"},
            {},
            "training.scheduler: 'linear' is not allowed; use one of constant, cosine, step",
        ),
        ({"warmup_epochs": -1}, {}, "training.warmup_epochs: -1 is less than the minimum"),
        ({"step_size": 0}, {}, "training.step_size: 0 is less than the minimum"),
        ({"step_gamma": 1.5}, {}, "training.step_gamma: 1.5 is greater than the maximum"),
        ({"freeze_epochs": 1.5}, {}, "training.freeze_epochs: 1.5 is not of type 'integer'"),
        ({"backbone_lr_factor": 0}, {}, "training.backbone_lr_factor: 0 is less than or equal"),
        (
            {},
            {"scheduler": "cos"},
            "variants.a.scheduler: 'cos' is not allowed; did you mean 'cosine'?",
        ),
        ({}, {"backbone_lr_factor": -1}, "variants.a.backbone_lr_factor: -1 is less than"),
    ],
)
def test_schema_errors_name_the_key(training: dict, variant: dict, first_line: str) -> None:
    with pytest.raises(ConfigError) as err:
        study_config(training=training, variants={"a": {"model": "conv", **variant}})
    assert str(err.value).splitlines()[0].startswith(first_line), str(err.value)


def test_warmup_as_long_as_the_run_is_an_error_naming_where_it_is_set() -> None:
    from biomedclf.config.specs import resolve_variant

    config = study_config(
        training={"epochs": 4, "warmup_epochs": 4},
        variants={"a": {"model": "conv"}, "b": {"model": "conv", "epochs": 8}},
    )
    assert resolve_variant(config, "b")["training"]["warmup_epochs"] == 4
    with pytest.raises(ConfigError, match=r"^training\.warmup_epochs \(variant a\): 4 warm-up"):
        resolve_variant(config, "a")
    config = study_config(variants={"c": {"model": "conv", "epochs": 3, "warmup_epochs": 5}})
    with pytest.raises(ConfigError, match=r"^variants\.c\.warmup_epochs \(variant c\)"):
        resolve_variant(config, "c")
    spec = make_spec(epochs=3)
    spec["training"]["warmup_epochs"] = 3  # a spec resolved elsewhere: the job refuses it too
    with pytest.raises(ValueError, match=r"variants\.conv_test\.warmup_epochs"):
        TrainingSettings.from_spec(spec)


def test_lr_factor_formula() -> None:
    """The documented closed forms (workflow/CONTRACTS.md), epoch by epoch."""
    from biomedclf.train.schedule import lr_factor

    f = lr_factor(settings(epochs=6, scheduler="cosine", warmup_epochs=2))
    assert [f(e) for e in range(2)] == [1 / 3, 2 / 3]
    assert [f(e) for e in range(2, 6)] == [0.5 * (1 + math.cos(math.pi * t / 4)) for t in range(4)]
    g = lr_factor(settings(epochs=9, scheduler="step", step_size=3, step_gamma=0.1))
    assert [g(e) for e in range(9)] == [1.0] * 3 + [0.1] * 3 + [0.1**2] * 3
