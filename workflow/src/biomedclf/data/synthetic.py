"""A deterministic synthetic chest-radiograph-like data set, written as real PNG files.

The workflow's default source: it runs on a fresh machine without a download, and because the
generator writes an ordinary class-folder tree (``out_dir/{normal,opacity}/patientNNNN_imageK.png``)
that prepare then ingests as a ``folder`` source, the real-data path is exercised every time.
``n_classes`` (2..12) adds classes with lesions of their own shape or place
(:mod:`biomedclf.data.synthetic_lesions`: ``effusion``, ``cavity``, ``streak``, ...); the
two-class set is the same, file for file, whatever else the module can make.

What an image holds (vectorised numpy, float32):

* anatomy, shared by the images of one patient (a patient has 1-3 images, so group-aware
  splitting matters and a split by image would leak): a bright body, two dark lung fields of
  varying size and position, curved rib bands, and a smooth low-frequency field;
* per image: a small positioning shift, white noise, and 1-3 "spots" of random strength placed
  at random inside the lung fields. In class ``opacity`` each spot is a compact, low-contrast,
  blurred blob. In class ``normal`` the same integrated intensity is spread as an even haze over
  the inner field of the same lung: both classes carry the same energy with the same spatial
  law (every pixel has the same expected value in both classes, so no linear template on the
  pixels and no regional brightness gives the class away); only the opacity is local;
* finally every image is standardised and mapped to a random mean and contrast drawn from the
  same law for both classes, so global statistics (mean brightness, contrast) carry no class
  information, while a convolution that looks at local shape does.

``difficulty`` (0..1) makes the blobs fainter and smaller and the noise stronger. The strength
of the spots also varies widely per image, so some opacities are nearly invisible: a network
that fits the training set keeps erring on new images (the overfitting that the default
study's comparisons measure). On the defaults (300 per class, 64 px, difficulty 0.5) the
``conv`` model trained 10 epochs reached about 0.86 train / 0.74 validation / 0.78 test accuracy
and the fully connected ``linear`` model about 0.87 / 0.56 / 0.62 (one seed, CPU), while a
logistic regression on per-image mean and std is at chance.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import atomic_folder
from .synthetic_lesions import SYNTHETIC_CLASSES, draw_lesions, lesion_field, synthetic_class_names

log = logging.getLogger(__name__)

__all__ = [
    "CLASS_NAMES",
    "GROUP_PATTERN",
    "SYNTHETIC_CLASSES",
    "generate_synthetic",
    "make_images",
    "synthetic_class_names",
]

#: Class folder names of the two-class set; sorted order makes ``opacity`` the positive class.
CLASS_NAMES = SYNTHETIC_CLASSES[:2]
#: ``data.split.group_pattern`` that recovers the patient from a synthetic file name.
GROUP_PATTERN = r"(patient\d+)_"
_FILE_RE = re.compile(r"patient\d+_image\d+\.png")
_MAX_SPOTS = 3
_CHUNK = 64
#: Spots (and a normal image's haze) lie within this fraction of each lung's semi-axes.
HAZE_EXTENT = 0.75


@dataclass(frozen=True)
class SyntheticParams:
    """Signal strength for a difficulty (0 easy .. 1 hard); lengths are fractions of the side."""

    contrast: float  # mean blob peak, in units of the anatomy's standard deviation
    sigma: float  # blob radius (Gaussian sigma) as a fraction of the image side
    noise: float  # white-noise standard deviation, same units as contrast

    @classmethod
    def for_difficulty(cls, difficulty: float) -> SyntheticParams:
        """Interpolate linearly between the easy (0) and hard (1) settings."""
        d = float(np.clip(difficulty, 0.0, 1.0))
        return cls(
            contrast=float(5.0 + (1.5 - 5.0) * d),
            sigma=float(0.080 + (0.045 - 0.080) * d),
            noise=float(0.10 + (0.50 - 0.10) * d),
        )


def _patients(
    rng: np.random.Generator, n_per_class: int, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per image: class (0 normal, 1 opacity, ...) and patient index; 1-3 images per patient."""
    classes: list[int] = []
    patients: list[int] = []
    n_pat = 0
    for cls in range(n_classes):
        left = n_per_class
        while left > 0:
            k = int(min(left, rng.choice([1, 2, 3], p=[0.4, 0.35, 0.25])))
            classes += [cls] * k
            patients += [n_pat] * k
            n_pat += 1
            left -= k
    return np.array(classes), np.array(patients)


def _anatomy(
    size: int, a: dict[str, np.ndarray], lowfreq: np.ndarray, xs: np.ndarray, ys: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The standardised anatomy field and the normal images' haze (both n x size x size).

    ``a`` holds float32 n x 1 x 1 parameters; ``xs``, ``ys`` the shifted pixel coordinates.
    """
    f32 = np.float32
    n = lowfreq.shape[0]
    # Body: bright, fading toward the sides.
    body = 1.0 / (1.0 + np.exp((np.abs(xs) - a["body_w"]) / f32(0.05)))
    # Two lung fields: dark soft-edged ellipses.
    # Haze (normal images): a faint, even brightening of the inner lung where spots would sit,
    # each side scaled to unit integral times that side's spot energy.
    lungs = np.zeros((n, size, size), dtype=f32)
    haze = np.zeros((n, size, size), dtype=f32)
    pixel_area = f32((2.0 / size) ** 2)
    for side, key in ((-1.0, "haze_left"), (1.0, "haze_right")):
        r = np.sqrt(
            ((xs - side * a["lung_x"]) / a["lung_a"]) ** 2 + ((ys - a["lung_y"]) / a["lung_b"]) ** 2
        )
        lungs += 1.0 / (1.0 + np.exp((r - 1.0) / f32(0.08)))
        inner = 1.0 / (1.0 + np.exp((r - f32(HAZE_EXTENT)) / f32(0.1)))
        inner /= inner.sum(axis=(1, 2), keepdims=True) * pixel_area
        haze += a[key] * inner
    # Ribs: curved periodic bands, visible over the lungs.
    phase = f32(2 * np.pi) * a["rib_f"] * (ys + a["rib_c"] * xs**2) + a["rib_phi"]
    ribs = np.maximum(np.sin(phase), 0.0) ** 2
    field = 0.9 * body - 0.75 * lungs + 0.25 * ribs * lungs + 0.12 * lowfreq
    field = (field - field.mean(axis=(1, 2), keepdims=True)) / (
        field.std(axis=(1, 2), keepdims=True) + f32(1e-6)
    )
    return field, haze


def _blobs(
    a: dict[str, np.ndarray], sp: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Spots: rotated anisotropic Gaussians, summed over the 3 slots (amp 0 = unused slot)."""
    dx = x[:, None] - sp["x"] - a["shift_x"][:, None]
    dy = y[:, None] - sp["y"] - a["shift_y"][:, None]
    cos, sin = np.cos(sp["theta"]), np.sin(sp["theta"])
    u = (dx * cos + dy * sin) / sp["sigma_u"]
    v = (dy * cos - dx * sin) / sp["sigma_v"]
    return (sp["amp"] * np.exp(np.float32(-0.5) * (u * u + v * v))).sum(axis=1)


def _render(
    size: int,
    anatomy: dict[str, np.ndarray],
    spots: dict[str, np.ndarray],
    noise: np.ndarray,
    level: dict[str, np.ndarray],
    lesions: tuple[np.ndarray, dict[str, np.ndarray], float] | None = None,
) -> np.ndarray:
    """Render a chunk of n images (uint8 n x size x size) from drawn parameters.

    ``anatomy`` and ``level`` hold one value per image, ``spots`` n x 3 values; lengths are in
    image units where the side spans 2 (coordinates -1..1). ``lesions`` (more than two
    classes only): the chunk's classes, lesion parameters and blob radius.
    """
    f32 = np.float32
    n = noise.shape[0]
    a = {k: np.asarray(v, dtype=f32).reshape(n, 1, 1) for k, v in anatomy.items() if k != "lowfreq"}
    sp = {k: np.asarray(v, dtype=f32)[:, :, None, None] for k, v in spots.items()}
    ax = (np.arange(size, dtype=f32) + f32(0.5)) / f32(size) * f32(2.0) - f32(1.0)
    y = ax[None, :, None]
    x = ax[None, None, :]
    field, haze = _anatomy(size, a, anatomy["lowfreq"], x - a["shift_x"], y - a["shift_y"])
    img = field + _blobs(a, sp, x, y) + haze + noise
    if lesions is not None:
        img = img + lesion_field(lesions[0], lesions[1], a, x, y, lesions[2])
    img = (img - img.mean(axis=(1, 2), keepdims=True)) / (
        img.std(axis=(1, 2), keepdims=True) + f32(1e-6)
    )
    img = img * np.asarray(level["std"], f32).reshape(n, 1, 1) + np.asarray(
        level["mean"], f32
    ).reshape(n, 1, 1)
    return np.clip(np.rint(img * f32(255.0)), 0, 255).astype(np.uint8)


def _lowfreq(coarse: np.ndarray, size: int) -> np.ndarray:
    """Smooth fields (n x size x size, unit standard deviation) from n x 3 x 3 random weights.

    The weights sit on wide Gaussian bumps; the field is two small matrix products per image,
    far cheaper than interpolating noise.
    """
    ax = (np.arange(size, dtype=np.float32) + 0.5) / size
    centres = np.array([1 / 6, 1 / 2, 5 / 6], dtype=np.float32)
    basis = np.exp(-0.5 * ((ax[:, None] - centres[None, :]) / 0.22) ** 2)  # size x 3
    field = np.einsum("yi,nij,xj->nyx", basis, coarse.astype(np.float32), basis, optimize=True)
    field -= field.mean(axis=(1, 2), keepdims=True)
    field /= field.std(axis=(1, 2), keepdims=True) + 1e-6
    return field.astype(np.float32)


def _draw_anatomy(
    rng: np.random.Generator, patients: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Anatomy per image (shared by a patient's images, plus a small shift per image) and the
    patients' 3 x 3 low-frequency weights."""
    n, n_pat = len(patients), int(patients.max()) + 1
    pat = {
        "body_w": rng.uniform(0.80, 0.95, n_pat),
        "lung_x": rng.uniform(0.38, 0.50, n_pat),
        "lung_y": rng.uniform(-0.10, 0.05, n_pat),
        "lung_a": rng.uniform(0.26, 0.36, n_pat),
        "lung_b": rng.uniform(0.50, 0.65, n_pat),
        "rib_f": rng.uniform(2.5, 3.5, n_pat),
        "rib_c": rng.uniform(0.3, 0.7, n_pat),
        "rib_phi": rng.uniform(0, 2 * np.pi, n_pat),
    }
    pat_coarse = rng.standard_normal((n_pat, 3, 3))
    anatomy = {k: v[patients] for k, v in pat.items()}
    anatomy["shift_x"] = rng.normal(0, 0.03, n)
    anatomy["shift_y"] = rng.normal(0, 0.03, n)
    return anatomy, pat_coarse


def _draw_spots(
    rng: np.random.Generator,
    classes: np.ndarray,
    anatomy: dict[str, np.ndarray],
    prm: SyntheticParams,
) -> dict[str, np.ndarray]:
    """Spots: 1-3 per image, each a Gaussian inside a lung field.

    An opacity image shows them as compact blobs; a normal image gets the same integrated
    intensity on the same lungs as an even haze over the inner lung field (``haze_left`` and
    ``haze_right``, added to ``anatomy``), so every pixel's expected value (and each lung's
    total brightness) follows the same law in both classes, but only opacities are local.
    """
    n = len(classes)
    count = rng.choice([1, 2, 3], size=n, p=[0.45, 0.35, 0.20])
    is_pos = (classes == 1)[:, None]  # opacities
    not_normal = (classes != 0)[:, None]  # the same as is_pos in the two-class set
    active = np.arange(_MAX_SPOTS)[None, :] < count[:, None]
    side = rng.choice([-1.0, 1.0], size=(n, _MAX_SPOTS))
    rad = np.sqrt(rng.uniform(0, 1, (n, _MAX_SPOTS))) * HAZE_EXTENT
    ang = rng.uniform(0, 2 * np.pi, (n, _MAX_SPOTS))
    sx = side * anatomy["lung_x"][:, None] + rad * np.cos(ang) * anatomy["lung_a"][:, None]
    sy = anatomy["lung_y"][:, None] + rad * np.sin(ang) * anatomy["lung_b"][:, None]
    sigma = prm.sigma * 2.0 * rng.uniform(0.75, 1.3, (n, _MAX_SPOTS))  # 2.0: the side spans 2
    aspect = rng.uniform(1.0, 1.3, (n, _MAX_SPOTS))
    # Per-image signal strength varies widely: some positives are nearly invisible.
    amp = prm.contrast * rng.uniform(0.15, 1.5, (n, 1)) * rng.uniform(0.8, 1.2, (n, _MAX_SPOTS))
    amp = np.where(active, amp, 0.0)
    energy = np.where(not_normal, 0.0, amp * 2 * np.pi * sigma**2)  # Gaussian integral
    anatomy["haze_left"] = (energy * (side < 0)).sum(axis=1)
    anatomy["haze_right"] = (energy * (side > 0)).sum(axis=1)
    return {
        "x": sx,
        "y": sy,
        "theta": rng.uniform(0, np.pi, (n, _MAX_SPOTS)),
        "sigma_u": sigma * np.sqrt(aspect),
        "sigma_v": sigma / np.sqrt(aspect),
        "amp": np.where(is_pos, amp, 0.0),
    }


def make_images(
    n_per_class: int, image_size: int, difficulty: float, seed: int, n_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generate images in memory: (uint8 N x H x W, class 0..K-1 per image, patient per image).

    Everything is drawn from one ``numpy`` generator seeded with ``seed`` in a fixed order, so
    the result is the same for a seed (and a given ``_CHUNK``, which orders the noise draws);
    the lesions of classes beyond the first two come from a second one (``[seed, 2]``).
    """
    synthetic_class_names(n_classes)  # checks n_classes
    if n_per_class < 1:
        raise ValueError(f"data.synthetic.n_per_class: {n_per_class}; use at least 1")
    if image_size < 8:
        raise ValueError(f"data.image_size: {image_size}; the synthetic set needs at least 8")
    rng = np.random.default_rng(seed)
    prm = SyntheticParams.for_difficulty(difficulty)
    classes, patients = _patients(rng, n_per_class, n_classes)
    anatomy, pat_coarse = _draw_anatomy(rng, patients)
    spots = _draw_spots(rng, classes, anatomy, prm)
    n = len(classes)
    level = {"mean": rng.uniform(0.42, 0.58, n), "std": rng.uniform(0.14, 0.20, n)}
    lesions = (
        draw_lesions(np.random.default_rng([seed, 2]), n, prm.contrast) if n_classes > 2 else {}
    )
    sigma = prm.sigma * 2.0  # the blob radius in coordinates where the side spans 2

    # Pixels chunk by chunk (bounded memory); noise is drawn last, chunk after chunk.
    images = np.empty((n, image_size, image_size), dtype=np.uint8)
    for start in range(0, n, _CHUNK):
        sl = slice(start, start + _CHUNK)
        anat = {k: v[sl] for k, v in anatomy.items()}
        anat["lowfreq"] = _lowfreq(pat_coarse[patients[sl]], image_size)
        noise = rng.standard_normal(
            (len(anat["shift_x"]), image_size, image_size), dtype=np.float32
        )
        extra = (classes[sl], {k: v[sl] for k, v in lesions.items()}, sigma) if lesions else None
        images[sl] = _render(
            image_size,
            anat,
            {k: v[sl] for k, v in spots.items()},
            noise * np.float32(prm.noise),
            {k: v[sl] for k, v in level.items()},
            extra,
        )
    return images, classes, patients


def _looks_synthetic(folder: Path) -> bool:
    """True when ``folder`` holds nothing but an earlier synthetic set (safe to replace)."""
    for entry in folder.iterdir():
        if not entry.is_dir() or entry.name not in SYNTHETIC_CLASSES:
            return False
        if any(not _FILE_RE.fullmatch(f.name) or not f.is_file() for f in entry.iterdir()):
            return False
    return True


def generate_synthetic(
    out_dir: Path,
    n_per_class: int,
    image_size: int,
    difficulty: float,
    seed: int,
    n_classes: int,
) -> None:
    """Write ``out_dir/{normal,opacity,...}/patientNNNN_imageK.png``, deterministic for ``seed``.

    ``n_classes`` (2..12) takes the first names of :data:`SYNTHETIC_CLASSES` (2: ``normal``
    and ``opacity``); :func:`synthetic_class_names` lists them.

    Patient numbers are shuffled across classes, so the number says nothing about the class;
    ``GROUP_PATTERN`` recovers the patient for group-aware splitting. The tree is built in a
    temporary folder beside ``out_dir`` and moved into place; an existing ``out_dir`` is replaced
    only when it holds nothing but an earlier synthetic set.
    """
    from PIL import Image

    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or not _looks_synthetic(out_dir)):
        raise ValueError(
            f"{out_dir}: exists and is not an earlier synthetic data set; refusing to replace "
            "it. Choose an empty or new folder for the synthetic images"
        )
    names = synthetic_class_names(n_classes)
    images, classes, patients = make_images(n_per_class, image_size, difficulty, seed, n_classes)
    rng = np.random.default_rng([seed, 1])
    n_pat = int(patients.max()) + 1
    pid = rng.permutation(n_pat) + 1
    width = max(4, len(str(n_pat)))

    with atomic_folder(out_dir) as tmp:
        for name in names:
            (tmp / name).mkdir()
        shot = np.zeros(n_pat, dtype=np.int64)
        for img, cls, p in zip(images, classes, patients):
            k = int(shot[p])
            shot[p] += 1
            fname = f"patient{int(pid[p]):0{width}d}_image{k}.png"
            Image.fromarray(img).save(tmp / names[cls] / fname)
    log.info(
        "synthetic set: %d images (%d classes, %d per class, %d patients), %d px, difficulty "
        "%.2f, seed %d -> %s",
        len(images),
        n_classes,
        n_per_class,
        n_pat,
        image_size,
        difficulty,
        seed,
        out_dir,
    )
