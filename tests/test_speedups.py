"""The speed-ups of training jobs (biomedclf.train.speedups): kept freed memory and no NaN fill
of new tensors take effect where they can and change no number; ``training.compile`` trains,
differs from an eager run by rounding only, and fails clearly where it cannot run."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from test_train import make_spec, read_history, train, train_run, without_seconds, write_cache

from biomedclf.train.speedups import compile_model, cxx_compiler

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


def test_skipping_the_nan_fill_gives_the_same_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic algorithms with and without torch's NaN fill of new tensors: the same
    history and bit-identical weights (a conv model and one with batch norm, 2 threads)."""
    import torch.utils.deterministic

    import biomedclf.train.loop

    data = write_cache(tmp_path / "data", sizes=(32, 16, 16), image_size=32)
    specs = [
        make_spec("conv", {"width": 8}, epochs=2),
        make_spec("conv_gap", {"batch_norm": True}, epochs=1),
    ]
    before = torch.utils.deterministic.fill_uninitialized_memory
    results = {}
    torch.use_deterministic_algorithms(True, warn_only=True)  # the fill's condition (a caller's)
    try:
        for fill in (True, False):
            torch.utils.deterministic.fill_uninitialized_memory = True
            if fill:  # the loop as it was: torch's default fill stays on
                monkeypatch.setattr(biomedclf.train.loop, "skip_uninitialized_fill", lambda: True)
            else:
                monkeypatch.undo()
            runs = []
            for i, spec in enumerate(specs):
                out = tmp_path / f"{fill}_{i}"
                train_run(spec, 0, data, out, tmp_path / f"ckpt_{fill}_{i}", threads=2)
                state = torch.load(out / "model.pt", weights_only=True)["state_dict"]
                runs.append((state, without_seconds(read_history(out / "history.csv"))))
            results[fill] = (runs, torch.utils.deterministic.fill_uninitialized_memory)
    finally:
        torch.utils.deterministic.fill_uninitialized_memory = before
        torch.use_deterministic_algorithms(False)
    assert results[True][1] is True and results[False][1] is False  # the skip took effect
    for (state, history), (ref_state, ref_history) in zip(results[False][0], results[True][0]):
        assert history == ref_history
        assert list(state) == list(ref_state)
        assert all(torch.equal(state[k], ref_state[k]) for k in state)


def test_compile_without_a_compiler_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no compiler on PATH
    monkeypatch.delenv("CXX", raising=False)
    assert cxx_compiler() is None
    model = torch.nn.Linear(2, 1)
    with pytest.raises(RuntimeError, match=r"training.compile: true needs a C\+\+ compiler"):
        compile_model(model)
    assert model(torch.ones(1, 2)).shape == (1, 1)  # left as it was


@pytest.mark.skipif(cxx_compiler() is None, reason="torch.compile needs a C++ compiler")
def test_compile_trains_like_eager_up_to_rounding(tmp_path: Path) -> None:
    """training.compile: true on a tiny model: finite losses, the eager run's history up to
    floating-point rounding, and a model file with the eager model's keys."""
    data = write_cache(tmp_path / "data", sizes=(32, 16, 16), image_size=8)
    spec = make_spec("linear", {"hidden": [8]}, epochs=2)
    _, eager = train(spec, 0, data, tmp_path, "eager")
    _, compiled = train(
        {**spec, "training": {**spec["training"], "compile": True}}, 0, data, tmp_path, "compiled"
    )
    rows = without_seconds(read_history(compiled / "history.csv"))
    reference = without_seconds(read_history(eager / "history.csv"))
    assert len(rows) == len(reference) == 2
    for row, ref in zip(rows, reference):
        for key in ("train_loss", "val_loss"):
            assert math.isfinite(float(row[key]))
            assert float(row[key]) == pytest.approx(float(ref[key]), rel=1e-4, abs=1e-6)
    state = torch.load(compiled / "model.pt", weights_only=True)["state_dict"]
    ref_state = torch.load(eager / "model.pt", weights_only=True)["state_dict"]
    assert list(state) == list(ref_state)
    for key in state:
        torch.testing.assert_close(state[key], ref_state[key], rtol=1e-4, atol=1e-5)
