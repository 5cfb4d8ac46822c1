"""A folder mixing DICOM, NIfTI and PNG runs through the whole workflow, split by patient.

Two classes, twelve patients. Each patient has two DICOM files whose names say nothing about the
patient (``scan*.dcm`` and ``IM*`` without an extension: DICOM by its preamble) and carry the
patient in PatientID, plus a NIfTI volume and a PNG whose names start with the patient
(``pat07_...``), matched by ``data.split.group_pattern``. With ``data.split.group:
patient_id`` every file of a patient, whatever its format, must land in one split.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import yaml
from clinical_files import ct_like, write_dicom, write_nifti, write_sr
from PIL import Image
from repo_copy import copy_repo
from workflow_helpers import snakemake

pytestmark = pytest.mark.workflow

CLASSES = ("normal", "opacity")
N_PATIENTS = 12


def write_data(root: Path) -> dict[str, str]:
    """The mixed folder; returns each DICOM file's path (relative) -> PatientID."""
    rng = np.random.default_rng(0)
    patients = {}
    for p in range(N_PATIENTS):
        cls, pid = CLASSES[p % 2], f"pat{p:02d}"
        base = ct_like(rng, 16, offset=p) + (300 if cls == "opacity" else 0)
        for name in (f"scan{3 * p:03d}.dcm", f"IM{3 * p + 1:04d}"):
            write_dicom(
                root / cls / name,
                base + rng.integers(0, 40, base.shape).astype(np.int16),
                patient_id=pid,
                RescaleSlope=1,
                RescaleIntercept=-1024,
                WindowCenter=200,
                WindowWidth=1200,
            )
            patients[f"{cls}/{name}"] = pid
        vol = rng.normal(100 + 40 * (p % 2), 20, (16, 16, 5)).astype(np.float32)
        write_nifti(root / cls / f"{pid}_vol.nii.gz", vol)
        png = np.clip(rng.normal(90 + 60 * (p % 2), 25, (16, 16)), 0, 255).astype(np.uint8)
        Image.fromarray(png).save(root / cls / f"{pid}_view.png")
    write_sr(root / "normal" / "report.dcm")  # no pixel data: rejected, with its reason
    return patients


def study_config(data: Path) -> dict:
    return {
        "name": "clinical",
        "data": {
            "source": "folder",
            "path": str(data),
            "image_size": 16,
            "split": {
                "group": "patient_id",
                "group_pattern": r"^(pat\d+)_",
                "val": 0.2,
                "test": 0.25,
                "seed": 0,
            },
            "dicom": {"window": "auto", "frames": "reject"},
            "nifti": {"slice": "middle"},
        },
        "training": {"epochs": 2, "batch_size": 16, "seeds": [0], "device": "cpu"},
        "variants": {"cnn": {"model": "conv"}, "gap": {"model": "conv_gap", "width": 8}},
        "comparisons": {"gap_vs_cnn": {"baseline": "cnn", "variants": ["gap"]}},
        "statistics": {"n_bootstrap": 200},
        "resources": {"prepare_threads": 2},
    }


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("clinical")
    repo = copy_repo(tmp / "repo")
    patients = write_data(tmp / "data")
    (repo / "clinical.yaml").write_text(yaml.safe_dump(study_config(tmp / "data")))
    snakemake(repo, "--cores", "2", "--configfile", "clinical.yaml")
    return repo, patients


def test_mixed_formats_run_end_to_end(study: tuple[Path, dict[str, str]]) -> None:
    repo, _ = study
    out = repo / "results" / "clinical"
    summary = json.loads((out / "data" / "summary.json").read_text())
    assert summary["class_names"] == list(CLASSES)
    assert summary["formats"] == {"dicom": 2 * N_PATIENTS + 1, "image": 12, "nifti": 12}
    assert summary["n_images"] == 4 * N_PATIENTS and summary["rejected"] == 1
    with (out / "data" / "rejected.csv").open(newline="") as fh:
        rejected = list(csv.DictReader(fh))
    assert rejected[0]["path"] == "normal/report.dcm"
    assert rejected[0]["reason"].startswith("no pixel data")
    for variant in ("cnn", "gap"):
        metrics = json.loads((out / "eval" / variant / "seed0" / "metrics.json").read_text())
        assert (
            metrics["n_test"]
            == summary["counts"]["test"]["normal"] + summary["counts"]["test"]["opacity"]
        )
    assert (out / "summary.md").stat().st_size > 0


def test_patients_never_straddle_splits(study: tuple[Path, dict[str, str]]) -> None:
    repo, patients = study
    data = repo / "results" / "clinical" / "data"
    with (data / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    splits: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        expected = patients.get(row["path"]) or row["path"].split("/")[1].split("_")[0]
        assert row["group"] == expected, row  # DICOM: PatientID; PNG, NIfTI: the pattern
        splits[row["group"]].add(row["split"])
    assert len(splits) == N_PATIENTS
    assert all(len(s) == 1 for s in splits.values()), dict(splits)
    assert set().union(*splits.values()) == {"train", "val", "test"}
    per_patient = defaultdict(set)
    for row in rows:
        per_patient[row["group"]].add(row["path"].rsplit(".", 1)[-1] if "." in row["path"] else "")
    assert all(len(kinds) == 4 for kinds in per_patient.values())  # dcm, no extension, gz, png
    for f in data.glob("*.*"):
        if f.suffix in (".csv", ".json"):
            assert "Doe" not in f.read_text(), f"{f.name} holds a patient name"
