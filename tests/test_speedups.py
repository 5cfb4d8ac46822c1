"""Start-up and memory speed-ups: same numbers as torch's own path, and the saving is real."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from biomedclf.speedups import plain_step

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT / "tests",
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def train_steps(make_opt, use_plain: bool) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(144, 1))
    opt = make_opt(model.parameters())
    step = plain_step(opt) if use_plain else opt.step
    x, y = torch.randn(8, 1, 8, 8), torch.rand(8, 1)
    for _ in range(3):
        opt.zero_grad(set_to_none=True)
        nn.functional.binary_cross_entropy_with_logits(model(x), y).backward()
        step()
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=0.01),
        lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.01),
        lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9, weight_decay=0.01),
    ],
    ids=["adam", "adamw", "sgd"],
)
def test_plain_step_updates_exactly_like_step(make_opt) -> None:
    plain = train_steps(make_opt, use_plain=True)
    reference = train_steps(make_opt, use_plain=False)
    for a, b in zip(plain, reference, strict=True):
        assert torch.equal(a, b)


def test_plain_step_respects_step_hooks() -> None:
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    calls = []
    opt.register_step_post_hook(lambda *_: calls.append(1))
    step = plain_step(opt)
    model(torch.ones(1, 2)).sum().backward()
    step()
    assert calls == [1]  # hooks registered: torch's own step, hooks run


def test_training_job_does_not_load_the_compiler(tmp_path: Path) -> None:
    """A training run in a fresh process never imports torch._dynamo (seconds of start-up)."""
    out = run_python(
        f"""
        import sys
        from pathlib import Path
        from test_train import make_spec, write_cache
        from biomedclf.train import run_training
        root = Path({str(tmp_path)!r})
        data = write_cache(root / "data")
        for opt in ("adam", "adamw", "sgd"):
            spec = make_spec("conv_gap", {{"width": 8, "batch_norm": True}}, epochs=2,
                             optimizer=opt, weight_decay=0.01)
            run_training(spec, 0, data, root / opt, root / ("ckpt_" + opt))
        print(sorted(m for m in sys.modules if m.startswith(("torch._dynamo", "torchvision"))))
        """
    )
    assert out.strip() == "[]"


def test_training_after_the_compiler_is_loaded_gives_the_same_model(tmp_path: Path) -> None:
    """Once torch._dynamo is imported, torch's own paths are used: same numbers either way."""
    code = """
        import sys
        from pathlib import Path
        {preload}
        import torch
        from test_train import make_spec, write_cache
        from biomedclf.train import run_training
        root = Path({root!r})
        data = write_cache(root / "data")
        run_training(make_spec("conv", {{"width": 8}}, epochs=2), 0, data, root / "out",
                     root / "ckpt")
        state = torch.load(root / "out" / "model.pt", weights_only=True)["state_dict"]
        print(float(sum(v.double().sum() for v in state.values())),
              "torch._dynamo" in sys.modules)
    """
    plain = run_python(code.format(preload="", root=str(tmp_path / "a"))).split()
    loaded = run_python(code.format(preload="import torch._dynamo", root=str(tmp_path / "b")))
    assert plain[1] == "False" and loaded.split()[1] == "True"
    assert plain[0] == loaded.split()[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_keep_freed_memory_takes_effect_on_glibc() -> None:
    out = run_python(
        """
        import ctypes, ctypes.util
        from biomedclf.speedups import keep_freed_memory
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        if not hasattr(libc, "gnu_get_libc_version"):
            print("not glibc")
        else:
            print(keep_freed_memory())
        """
    )
    assert out.strip() in ("True", "not glibc")

