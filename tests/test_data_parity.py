"""Binary studies are unchanged by multi-class support: the same bytes as before it.

The reference is the package as committed before multi-class support (``BASELINE``), taken
from git into a temporary folder and run in a subprocess on the same inputs. manifest.csv and
rejected.csv must be byte-identical, each member of the cache files' zip archives too (the
baseline named the archive's inner folder after a random temporary file; it is now always
``archive``), and summary.json equal except for its timings and the keys added since
(``ADDED_KEYS``, and ``split.group``, null for these studies). Skipped where git or that commit
is not available (e.g. a copy of the tree without its history).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from config_helpers import data_config, data_files
from PIL import Image

from biomedclf.data.prepare import prepare_dataset
from biomedclf.data.synthetic import GROUP_PATTERN, generate_synthetic

ROOT = Path(__file__).resolve().parents[1]
#: The last commit before multi-class support.
BASELINE = "30cd07b45136e26e077b2dbdbabad7bf60da4894"
#: Keys added since: multi-class support, then the clinical formats (DICOM, NIfTI).
ADDED_KEYS = {
    "n_classes",
    "ordinal",
    "classes_found",
    "formats",
    "dicom",
    "nifti",
    "resize",
    "not_square",
}
TIMINGS = {"seconds", "decode_seconds"}
OUTPUTS = ("train.pt", "val.pt", "test.pt", "manifest.csv", "rejected.csv")


def _content(path: Path) -> bytes | dict[str, bytes]:
    """A CSV's bytes; a cache file's zip members by name inside the archive's folder."""
    if path.suffix != ".pt":
        return path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        return {n.split("/", 1)[1]: archive.read(n) for n in archive.namelist()}


@pytest.fixture(scope="module")
def baseline_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The baseline commit's ``workflow/src`` (the biomedclf package), extracted from git."""
    try:
        tar = subprocess.run(
            ["git", "-C", str(ROOT), "archive", BASELINE, "workflow/src/biomedclf"],
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"baseline commit {BASELINE[:7]} not available from git ({exc})")
    dest = tmp_path_factory.mktemp("baseline")
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(dest, filter="data")
    return dest / "workflow" / "src"


_RUNNER = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import biomedclf
assert Path(biomedclf.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve())
jobs = json.loads(Path(sys.argv[2]).read_text())
if jobs["synthetic"]:
    from biomedclf.data.synthetic import generate_synthetic
    for out, args in jobs["synthetic"]:
        generate_synthetic(Path(out), *args)
from biomedclf.data.prepare import prepare_dataset
for cfg, out in jobs["prepare"]:
    prepare_dataset(cfg, Path(out), threads=1)
"""


def _run_baseline(src: Path, tmp: Path, prepare: list, synthetic: list | None = None) -> None:
    jobs = tmp / "jobs.json"
    jobs.write_text(json.dumps({"prepare": prepare, "synthetic": synthetic or []}))
    subprocess.run([sys.executable, "-c", _RUNNER, str(src), str(jobs)], check=True, timeout=300)


def _png(path: Path, seed: int, size: int = 12) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size), np.uint8)).save(path)


def _inputs(base: Path) -> list[tuple[str, dict]]:
    """Binary inputs of every source kind, with rejections, duplicates, groups and splits."""
    folder = base / "folder"
    for k, cls in enumerate(("normal", "pneumonia")):
        for i in range(18):
            _png(folder / cls / f"person{i // 2}_{cls}_{i}.png", 100 * k + i)
    (folder / "normal" / "copy.png").write_bytes(
        (folder / "normal" / "person0_normal_0.png").read_bytes()
    )
    (folder / "pneumonia" / "bad.png").write_bytes(b"")
    (folder / "notes.txt").write_text("x")
    pre = base / "pre"
    for s, (split, n) in enumerate({"train": 14, "val": 3, "test": 5}.items()):
        for k, cls in enumerate(("NORMAL", "PNEUMONIA")):
            for i in range(n):
                _png(pre / split / cls / f"{split}_{i}.png", 1000 + 100 * s + 50 * k + i)
    rows = ["path,label,split"]
    for i in range(30):
        _png(base / "m" / f"{i}.png", 500 + i)
        rows.append(f"{i}.png,{'tumour' if i % 3 else 'healthy'},{'test' if i >= 24 else 'train'}")
    (base / "m" / "labels.csv").write_text("\n".join(rows) + "\n")
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in {"train": 30, "val": 12, "test": 12}.items():
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 10, 10), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).reshape(n, 1).astype(np.uint8)
    for stem in ("pneumoniamnist", "breastmnist_64", "other"):
        np.savez(base / f"{stem}.npz", **arrays)
    generate_synthetic(base / "syn", 20, 16, 0.5, seed=3, n_classes=2)
    size = {"image_size": 8}
    return [
        (
            "folder",
            {
                "source": "folder",
                "path": str(folder),
                **size,
                "split": {"group_pattern": r"person(\d+)_", "seed": 2},
            },
        ),
        ("positive", {"source": "folder", "path": str(folder), **size, "positive_class": "normal"}),
        ("pre_split", {"source": "folder", "path": str(pre), **size, "split": {"min_val": 4}}),
        ("manifest", {"source": "manifest", "path": str(base / "m" / "labels.csv"), **size}),
        *[
            (
                f"npz_{s}",
                {
                    "source": "medmnist",
                    "path": str(base / f"{s}.npz"),
                    **size,
                    "channels": 3,
                    "split": {"min_val": 5},
                },
            )
            for s in ("pneumoniamnist", "breastmnist_64", "other")
        ],
        (
            "synthetic",
            {
                "source": "folder",
                "path": str(base / "syn"),
                "image_size": 16,
                "split": {"group_pattern": GROUP_PATTERN},
            },
        ),
    ]


def _summary(path: Path) -> dict:
    summary = json.loads(path.read_text())
    if "group" in summary["split"]:  # added with data.split.group (patient_id)
        assert summary["split"].pop("group") is None
    return {k: v for k, v in summary.items() if k not in TIMINGS}


def test_binary_outputs_are_byte_identical_to_the_baseline(
    baseline_src: Path, tmp_path: Path
) -> None:
    cases = _inputs(tmp_path / "in")
    _run_baseline(baseline_src, tmp_path, [[cfg, str(tmp_path / "old" / n)] for n, cfg in cases])
    for name, cfg in cases:
        new, old = tmp_path / "new" / name, tmp_path / "old" / name
        prepare_dataset(data_config(**cfg), data_files(new), threads=1)
        for f in OUTPUTS:
            assert _content(new / f) == _content(old / f), f"{name}: {f} differs"
        got, want = _summary(new / "summary.json"), _summary(old / "summary.json")
        assert set(got) - set(want) == ADDED_KEYS, name
        assert {k: v for k, v in got.items() if k not in ADDED_KEYS} == want, name
        assert [k for k in got if k not in ADDED_KEYS] == list(want), f"{name}: key order"
        assert got["n_classes"] == 2 and got["ordinal"] is False
    assert sorted(
        json.loads((tmp_path / "new" / "npz_other" / "summary.json").read_text())["class_names"]
    ) == ["0", "1"]


def test_two_class_synthetic_set_is_byte_identical_to_the_baseline(
    baseline_src: Path, tmp_path: Path
) -> None:
    runs = [(12, 20, 0.5, 7), (70, 32, 0.2, 0)]  # the second spans two render chunks
    _run_baseline(
        baseline_src,
        tmp_path,
        [],
        [[str(tmp_path / f"old{i}"), list(a)] for i, a in enumerate(runs)],
    )
    for i, args in enumerate(runs):
        generate_synthetic(tmp_path / f"new{i}", *args, n_classes=2)
        old = _tree(tmp_path / f"old{i}")
        assert len(old) == 2 * args[0]
        assert _tree(tmp_path / f"new{i}") == old


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
