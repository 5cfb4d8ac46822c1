"""A deterministic synthetic multi-label set: independent findings, each visible as its own
shape in its own place, and one label that is pure noise.

What an image holds (vectorised numpy, float32, coordinates -1..1 across the side):

* a background shared by a patient's images (1-3 images per patient, so a split by image would
  leak): a smooth low-frequency field from 3 x 3 random weights on wide Gaussian bumps, plus a
  small positioning shift and white noise per image;
* each finding the image has, drawn at its own place with jitter of position and a per-image
  strength (:data:`FINDINGS`, in label order)::

      nodule        a small bright disc in the upper left
      effusion      the lower right brightened up to a level line
      cardiomegaly  a large soft bright oval in the lower left
      streak        a thin bright line at a random angle in the upper right
      cavity        a bright ring with a dark centre in the middle

* finally the image is standardised and given a random mean and contrast, so global brightness
  says little about the labels.

Each finding is present with probability ``prevalence``, independently of the others and of
the image's patient; the last label, :data:`NOISE_LABEL`, is drawn the same way but never
drawn into the image, so no model can predict it (its AUROC is 0.5 in expectation).
``difficulty`` (0..1) weakens the findings and strengthens the noise.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_folder

#: The drawn findings, in label order; ``n_findings`` takes the first ones.
FINDINGS = ("nodule", "effusion", "cardiomegaly", "streak", "cavity")
#: The label that is not drawn into the images (always the last label).
NOISE_LABEL = "noise"


@dataclass(frozen=True)
class MultilabelSet:
    """Images (uint8 N x H x W), labels (int8 N x L, 1 or 0), label names (the drawn findings,
    then :data:`NOISE_LABEL`) and the patient of each image (``patientNNNN``)."""

    images: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]
    patients: np.ndarray


def _patients(rng: np.random.Generator, n_images: int) -> np.ndarray:
    """Patient index per image, 1-3 images per patient."""
    sizes = rng.choice([1, 2, 3], size=n_images, p=[0.4, 0.35, 0.25])
    return np.repeat(np.arange(n_images), sizes)[:n_images]


def _background(rng: np.random.Generator, patients: np.ndarray, size: int) -> np.ndarray:
    """Smooth fields per patient (unit standard deviation), one per image (n x size x size)."""
    coarse = rng.standard_normal((int(patients.max()) + 1, 3, 3)).astype(np.float32)
    ax = (np.arange(size, dtype=np.float32) + 0.5) / size
    centres = np.array([1 / 6, 1 / 2, 5 / 6], dtype=np.float32)
    basis = np.exp(-0.5 * ((ax[:, None] - centres[None, :]) / 0.22) ** 2)
    field = np.einsum("yi,nij,xj->nyx", basis, coarse, basis, optimize=True)
    field = (field - field.mean(axis=(1, 2), keepdims=True)) / (
        field.std(axis=(1, 2), keepdims=True) + 1e-6
    )
    return field[patients].astype(np.float32)


def _soft(z: np.ndarray) -> np.ndarray:
    """A smooth step from 0 to 1 (the logistic function, without overflow)."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _finding(name: str, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One finding's shape (peak about 1) in ``n`` images, n x H x W; ``x`` (n x 1 x W) and
    ``y`` (n x H x 1) are each image's shifted pixel coordinates."""
    n = x.shape[0]
    jx, jy = (rng.uniform(-0.12, 0.12, (n, 1, 1)).astype(np.float32) for _ in range(2))
    if name == "nodule":
        d = np.hypot(x + 0.5 - jx, y + 0.5 - jy)
        return _soft((0.14 - d) / 0.02)
    if name == "effusion":
        level = 0.45 + jy
        return 0.8 * _soft((y - level) / 0.04) * _soft((x - 0.1) / 0.04)
    if name == "cardiomegaly":
        r = np.hypot((x + 0.4 - jx) / 0.35, (y - 0.4 - jy) / 0.25)
        return 0.8 * _soft((1.0 - r) / 0.1)
    if name == "streak":
        th = rng.uniform(0, np.pi, (n, 1, 1)).astype(np.float32)
        dx, dy = x - 0.45 - jx, y + 0.45 - jy
        along, across = dx * np.cos(th) + dy * np.sin(th), dy * np.cos(th) - dx * np.sin(th)
        return np.exp(-0.5 * ((along / 0.3) ** 2 + (across / 0.04) ** 2))
    d = np.hypot(x - jx, y - jy)  # cavity
    return np.exp(-0.5 * ((d - 0.2) / 0.05) ** 2) - 0.6 * np.exp(-0.5 * (d / 0.12) ** 2)


def _check(n_images: int, image_size: int, n_findings: int, prevalence: float) -> None:
    """Raise ValueError on settings the generator cannot make."""
    if n_images < 1:
        raise ValueError(f"n_images: {n_images}; use at least 1")
    if image_size < 8:
        raise ValueError(f"image_size: {image_size}; the synthetic set needs at least 8")
    if not 1 <= n_findings <= len(FINDINGS):
        raise ValueError(f"n_findings: {n_findings}; use 1..{len(FINDINGS)} ({FINDINGS})")
    if not 0 < prevalence < 1:
        raise ValueError(f"prevalence: {prevalence}; use a probability strictly between 0 and 1")


def make_multilabel_images(
    n_images: int,
    *,
    image_size: int,
    n_findings: int,
    prevalence: float,
    difficulty: float,
    seed: int,
) -> MultilabelSet:
    """Generate a multi-label set in memory, the same for the same arguments.

    Labels: the first ``n_findings`` of :data:`FINDINGS`, then :data:`NOISE_LABEL`; each present
    with probability ``prevalence``, independently. Everything is drawn from one numpy
    generator seeded with ``seed``, in a fixed order.
    """
    _check(n_images, image_size, n_findings, prevalence)
    d = float(np.clip(difficulty, 0.0, 1.0))
    contrast, noise_sd = 3.0 - 2.0 * d, 0.2 + 0.6 * d
    rng = np.random.default_rng(seed)
    patients = _patients(rng, n_images)
    names = (*FINDINGS[:n_findings], NOISE_LABEL)
    labels = (rng.random((n_images, len(names))) < prevalence).astype(np.int8)
    img = _background(rng, patients, image_size)
    ax = (np.arange(image_size, dtype=np.float32) + 0.5) / image_size * 2 - 1
    x = ax[None, None, :] - rng.normal(0, 0.03, (n_images, 1, 1)).astype(np.float32)
    y = ax[None, :, None] - rng.normal(0, 0.03, (n_images, 1, 1)).astype(np.float32)
    for j, name in enumerate(names[:-1]):
        strength = contrast * rng.uniform(0.6, 1.4, (n_images, 1, 1)).astype(np.float32)
        img += labels[:, j, None, None] * strength * _finding(name, x, y, rng)
    img += noise_sd * rng.standard_normal(img.shape, dtype=np.float32)
    img = (img - img.mean(axis=(1, 2), keepdims=True)) / (
        img.std(axis=(1, 2), keepdims=True) + 1e-6
    )
    level = rng.uniform(0.42, 0.58, (n_images, 1, 1)), rng.uniform(0.14, 0.20, (n_images, 1, 1))
    img = img * level[1] + level[0]
    images = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
    ids = np.array([f"patient{p + 1:04d}" for p in patients])
    return MultilabelSet(images, labels, names, ids)


#: The files of a generated multi-label set: its images folder and its manifest.
IMAGES_DIR, MANIFEST = "images", "labels.csv"


def multilabel_names(n_findings: int) -> list[str]:
    """The labels of a generated set with ``n_findings`` findings, in column order."""
    _check(1, 8, n_findings, 0.5)
    return [*FINDINGS[:n_findings], NOISE_LABEL]


def _replaceable(out_dir: Path) -> bool:
    """True when ``out_dir`` is absent or holds nothing but an earlier generated set."""
    return not out_dir.exists() or (
        out_dir.is_dir() and {p.name for p in out_dir.iterdir()} <= {IMAGES_DIR, MANIFEST}
    )


def write_multilabel_set(
    out_dir: Path,
    *,
    n_per_class: int,
    n_classes: int,
    image_size: int,
    prevalence: float,
    difficulty: float,
    seed: int,
) -> None:
    """Write ``out_dir/images/patientNNNN_imageK.png`` and ``out_dir/labels.csv`` (columns
    ``path``, ``group`` (the patient), then one 0/1 column per label): ``n_classes`` findings
    and the noise label, ``n_per_class * n_classes`` images, built beside ``out_dir`` and moved
    into place (an existing ``out_dir`` is replaced only when it holds an earlier set)."""
    from PIL import Image

    out_dir = Path(out_dir)
    if not _replaceable(out_dir):
        raise ValueError(
            f"{out_dir}: exists and is not an earlier synthetic data set; refusing to replace "
            "it. Choose an empty or new folder for the synthetic images"
        )
    made = make_multilabel_images(
        n_per_class * n_classes,
        image_size=image_size,
        n_findings=n_classes,
        prevalence=prevalence,
        difficulty=difficulty,
        seed=seed,
    )
    with atomic_folder(out_dir) as tmp:
        (tmp / IMAGES_DIR).mkdir()
        shot: dict[str, int] = {}
        with (tmp / MANIFEST).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["path", "group", *made.names])
            for img, row, patient in zip(made.images, made.labels, made.patients):
                k = shot[patient] = shot.get(patient, -1) + 1
                rel = f"{IMAGES_DIR}/{patient}_image{k}.png"
                Image.fromarray(img).save(tmp / rel)
                writer.writerow([rel, patient, *row.tolist()])


def synthesize(out_dir: Path, task: str, **spec: Any) -> None:
    """Generate the synthetic set of ``data.task`` from ``data.synthetic``'s ``spec`` (and
    ``image_size``): class folders (:func:`biomedclf.data.synthetic.generate_synthetic`) or a
    multi-label manifest (:func:`write_multilabel_set`)."""
    if task == "multilabel":
        write_multilabel_set(out_dir, **spec)
        return
    from .synthetic import generate_synthetic

    generate_synthetic(out_dir, **spec)
