"""The CPU optimisers and the learning rate per epoch (biomedclf.train.optimizers): bit-identical
to torch.optim's SGD, Adam and AdamW and to LambdaLR, their states interchangeable with
torch.optim's, and a CPU training run that never imports torch's compiler package (a resumed
run with each optimiser: tests/test_finetuning.py)."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
from test_train import make_spec, read_history, same_weights, train, without_seconds, write_cache
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from biomedclf.train.optimizers import EpochLr, ParamUpdate, make_optimizer
from biomedclf.train.schedule import lr_factor
from biomedclf.train.settings import TrainingSettings

#: (optimizer setting, its options): every update path the workflow's settings can take.
CASES = {
    "sgd": ("sgd", {"momentum": 0.0, "weight_decay": 0.0}),
    "sgd_momentum_wd": ("sgd", {"momentum": 0.9, "weight_decay": 1e-3}),
    "adam": ("adam", {"weight_decay": 0.0}),
    "adam_l2": ("adam", {"weight_decay": 1e-3}),
    "adamw": ("adamw", {"weight_decay": 0.05}),
}
TORCH = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def small_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 2)
    )


def groups(model: nn.Module) -> list[dict[str, Any]]:
    """The head (the last Linear) at 0.05 and the rest at a tenth of it."""
    params = list(model.parameters())
    return [{"params": params[-2:], "lr": 0.05}, {"params": params[:-2], "lr": 0.005}]


def build(kind: str, options: dict, model: nn.Module, ours: bool) -> Any:
    opts = {"momentum": 0.0, "weight_decay": 0.0, **options} if ours else options
    if ours:
        opt = make_optimizer(kind, groups(model), lr=0.05, **opts)
        assert isinstance(opt, ParamUpdate)  # the CPU gets this module's optimiser
        return opt
    return TORCH[kind](groups(model), lr=0.05, **opts)


def train_steps(model: nn.Module, opt: Any, first: int, steps: int) -> None:
    """``steps`` seeded steps from step ``first``; in step 0 only the head trains."""
    for step in range(first, first + steps):
        g = torch.Generator().manual_seed(step)
        x, y = torch.randn(8, 1, 8, 8, generator=g), torch.randn(8, 2, generator=g)
        for p in list(model.parameters())[:-2]:
            p.requires_grad_(step > 0)
        opt.zero_grad(set_to_none=True)
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def assert_same(a: nn.Module, b: nn.Module, opt_a: Any, opt_b: Any) -> None:
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    sa, sb = opt_a.state_dict(), opt_b.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    assert list(sa["state"]) == list(sb["state"])  # the same parameters hold state, in order
    for i, state in sa["state"].items():
        assert list(state) == list(sb["state"][i])
        for name, value in state.items():
            other = sb["state"][i][name]
            assert value.dtype == other.dtype and torch.equal(value, other), (i, name)


def saved(state: dict) -> dict:
    """``state`` through torch.save and torch.load(weights_only=True), as a checkpoint is."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def trained_pair(kind: str, options: dict, steps: int) -> tuple[nn.Module, nn.Module, Any, Any]:
    """Two equal models, one with our optimiser and one with torch.optim's, after ``steps``
    steps: (ours, torch's, our optimiser, torch's optimiser)."""
    mine, ref = small_model(), small_model()
    opt, ref_opt = build(kind, options, mine, True), build(kind, options, ref, False)
    train_steps(mine, opt, 0, steps)
    train_steps(ref, ref_opt, 0, steps)
    return mine, ref, opt, ref_opt


@pytest.mark.parametrize("case", list(CASES))
def test_updates_and_states_are_torch_optims_bit_for_bit(case: str) -> None:
    kind, options = CASES[case]
    mine, ref, opt, ref_opt = trained_pair(kind, options, 6)
    assert_same(mine, ref, opt, ref_opt)
    moved = next(iter(mine.parameters()))
    assert not torch.equal(moved, next(iter(small_model().parameters())))  # it did train


@pytest.mark.parametrize("case", list(CASES))
def test_states_load_into_torch_optim_and_back(case: str) -> None:
    """Ours -> torch.optim and torch.optim -> ours mid-run; both go on as one would have."""
    kind, options = CASES[case]
    mine, ref, opt, ref_opt = trained_pair(kind, options, 3)
    # swap: each model continues with a fresh optimiser of the other kind, given its state
    to_torch, to_mine = build(kind, options, mine, False), build(kind, options, ref, True)
    to_torch.load_state_dict(saved(opt.state_dict()))
    to_mine.load_state_dict(saved(ref_opt.state_dict()))
    train_steps(mine, to_torch, 3, 3)
    train_steps(ref, to_mine, 3, 3)
    assert_same(mine, ref, to_torch, to_mine)
    straight = small_model()
    straight_opt = build(kind, options, straight, False)
    train_steps(straight, straight_opt, 0, 6)
    assert_same(mine, straight, to_torch, straight_opt)


def test_a_state_that_does_not_fit_is_a_value_error() -> None:
    opt = build("adam", {}, small_model(), True)
    other_model = small_model()
    other = build("adam", {}, other_model, True)
    train_steps(other_model, other, 0, 2)
    state = other.state_dict()
    one_group = {**state, "param_groups": state["param_groups"][:1]}
    with pytest.raises(ValueError, match="groups"):
        opt.load_state_dict(one_group)
    amsgrad = copy.deepcopy(state)
    amsgrad["param_groups"][0]["amsgrad"] = True
    with pytest.raises(ValueError, match="amsgrad"):
        opt.load_state_dict(amsgrad)
    with pytest.raises(ValueError, match="decoupled_weight_decay"):
        build("adamw", {}, small_model(), True).load_state_dict(state)  # Adam's into AdamW
    wrong = copy.deepcopy(state)
    wrong["state"][0]["exp_avg"] = torch.zeros(3)
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(wrong)


STEP = {"step_size": 2, "step_gamma": 0.5}


@pytest.mark.parametrize(
    ("scheduler", "warmup", "epochs"),
    [("constant", 0, 4), ("constant", 2, 5), ("cosine", 3, 9), ("step", 0, 7), ("step", 2, 8)],
)
def test_each_epochs_lr_equals_lambdalrs(scheduler: str, warmup: int, epochs: int) -> None:
    s = TrainingSettings.from_spec(
        make_spec(scheduler=scheduler, warmup_epochs=warmup, epochs=epochs, **STEP)
    )
    factor = lr_factor(s)
    ours = EpochLr(build("sgd", {}, small_model(), True), factor)
    ref_opt = torch.optim.SGD(groups(small_model()), lr=0.05)
    ref = LambdaLR(ref_opt, [factor, factor])
    for epoch in range(epochs):
        lrs = [g["lr"] for g in ours.optimizer.param_groups]
        assert lrs == [g["lr"] for g in ref_opt.param_groups], epoch  # exactly
        ref_opt.step()  # torch.optim wants a step before the scheduler's
        ours.step()
        ref.step()
        assert ours.state_dict() == {
            k: v for k, v in ref.state_dict().items() if k in ("base_lrs", "last_epoch")
        }
    resumed = EpochLr(build("sgd", {}, small_model(), True), factor)
    resumed.load_state_dict(ref.state_dict())  # a LambdaLR's state (a checkpoint of before)
    assert resumed.state_dict() == ours.state_dict()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cache(tmp_path_factory.mktemp("cache"), sizes=(40, 16, 16), image_size=12)


def test_a_cpu_training_run_does_not_import_torchs_compiler(data: Path, tmp_path: Path) -> None:
    """In a fresh process (this one's imports do not count): train on the CPU with each
    optimiser, then look for torch._dynamo among the loaded modules."""
    code = """
        import json, sys
        from pathlib import Path
        sys.path.insert(0, str(Path.cwd()))
        from config_helpers import cache_files, train_files
        from test_train import cache_decoding, make_spec
        from biomedclf.train.loop import run_training
        data, out = Path(sys.argv[1]), Path(sys.argv[2])
        for kind in ("adam", "adamw", "sgd"):
            spec = make_spec("conv", {"width": 4}, epochs=1, optimizer=kind, momentum=0.9)
            run_training(spec, 0, cache_files(data), train_files(out / kind), out / kind / "c",
                         decoding=cache_decoding(data))
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("torch._dynamo"))))
        """
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), str(data), str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.splitlines()[-1]) == []


@pytest.mark.parametrize(
    ("model", "args"),
    [
        ("conv", {"width": 4, "dropout": 0.3}),
        ("conv_gap", {"width": 4, "batch_norm": True}),
        ("linear", {"hidden": [8]}),
    ],
)
def test_deterministic_algorithms_change_no_cpu_output(
    data: Path, tmp_path: Path, model: str, args: dict
) -> None:
    """Why CPU runs do without torch.use_deterministic_algorithms: with it requested around a
    run, every output file but train.json is byte-identical to a run without it."""
    spec = make_spec(model, args, epochs=2, augment=True, optimizer="sgd", momentum=0.9)
    was = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        train(spec, 5, data, tmp_path, "deterministic")
    finally:
        torch.use_deterministic_algorithms(was)
    train(spec, 5, data, tmp_path, "plain")
    a, b = tmp_path / "deterministic" / "out", tmp_path / "plain" / "out"
    assert without_seconds(read_history(a / "history.csv")) == without_seconds(
        read_history(b / "history.csv")
    )
    assert (a / "scores.csv").read_bytes() == (b / "scores.csv").read_bytes()
    assert same_weights(a / "model.pt", b / "model.pt")


def test_other_devices_get_torch_optim_and_the_same_schedule() -> None:
    """Off the CPU (here the meta device, as a GPU's stand-in) the run keeps torch.optim, and
    the learning rate per epoch comes from the same EpochLr."""
    params = [nn.Parameter(torch.zeros(2, device="meta"))]
    for kind, cls in TORCH.items():
        opt = make_optimizer(kind, params, lr=0.1, weight_decay=0.0, momentum=0.0)
        assert type(opt) is cls
        lrs = EpochLr(opt, lambda e: 0.5**e)
        lrs.step()
        assert opt.param_groups[0]["lr"] == 0.1 * 0.5 and opt.param_groups[0]["initial_lr"] == 0.1
