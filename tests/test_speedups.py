"""The memory speed-up of training jobs: it takes effect where it can and changes no number."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_keep_freed_memory_takes_effect_on_glibc() -> None:
    out = run_python(
        """
        import ctypes, ctypes.util
        from biomedclf.train.speedups import keep_freed_memory
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        if not hasattr(libc, "gnu_get_libc_version"):
            print("not glibc")
        else:
            print(keep_freed_memory())
        """
    )
    assert out.strip() in ("True", "not glibc")


def test_kept_memory_gives_the_same_model(tmp_path: Path) -> None:
    """Training with glibc's default malloc and with freed memory kept: identical weights."""
    code = """
        from pathlib import Path
        import torch
        import biomedclf.train.loop as train
        from test_train import make_spec, train_run, write_cache
        if {disable}:
            train.keep_freed_memory = lambda: False
        root = Path({root!r})
        data = write_cache(root / "data")
        train_run(make_spec("conv", {{"width": 8}}, epochs=2), 0, data, root / "out", root / "ckpt")
        state = torch.load(root / "out" / "model.pt", weights_only=True)["state_dict"]
        print(repr(float(sum(v.double().sum() for v in state.values()))))
    """
    kept = run_python(code.format(disable=False, root=str(tmp_path / "a")))
    default = run_python(code.format(disable=True, root=str(tmp_path / "b")))
    assert kept == default
