"""The classes of the synthetic set beyond ``normal`` and ``opacity``: one lesion per image.

With ``n_classes`` > 2 the generator (:mod:`biomedclf.data.synthetic`) takes the first
``n_classes`` names of :data:`SYNTHETIC_CLASSES`. ``normal`` (an even haze) and ``opacity``
(1-3 soft blobs) are drawn by the generator itself, exactly as in the two-class set; every
other class adds one lesion of its own shape or place to the same radiograph-like background:

=============== =====================================================================
effusion        the base of one lung brightened up to a level line (a large-scale sign)
cavity          a bright ring with a darker centre inside a lung
streak          a long thin bright line at any angle inside a lung
lucency         a dark patch at the outer edge of one lung
mass            one large soft blob
nodule          one small disc with a sharp edge
miliary         many tiny spots scattered over both lungs
cardiomegaly    a large bright oval between the lungs (an enlarged heart shadow)
apical_cap      the top of one lung brightened down to a level line
reticular       a patch of fine grid texture inside a lung
=============== =====================================================================

Positions, sizes, angles and strengths vary per image and scale with ``difficulty`` as the
opacities do. The parameters come from their own generator (``[seed, 2]``), so the two-class
set is unchanged. Unlike ``normal`` and ``opacity`` these lesions are not matched in energy
with the others, but global brightness and contrast still carry no class: every image is
standardised and given a random level at the end. On 300 images per class at 32 px, the
``conv`` model trained 25 epochs told the first four classes apart with about 0.8 test
accuracy and all twelve with about 0.77 (one seed, CPU; chance 0.25 and 0.08).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: The generator's class names, in generator order; ``n_classes`` takes the first ones.
SYNTHETIC_CLASSES = (
    "normal",
    "opacity",
    "effusion",
    "cavity",
    "streak",
    "lucency",
    "mass",
    "nodule",
    "miliary",
    "cardiomegaly",
    "apical_cap",
    "reticular",
)
MAX_CLASSES = len(SYNTHETIC_CLASSES)
_MILIARY = 8

_Arrays = dict[str, np.ndarray]


def synthetic_class_names(n_classes: int) -> list[str]:
    """The class names of a set with ``n_classes`` classes, in generator order (label order)."""
    if isinstance(n_classes, bool) or not isinstance(n_classes, int):
        raise ValueError(f"data.synthetic.n_classes: {n_classes!r}; use a whole number 2..12")
    if not 2 <= n_classes <= MAX_CLASSES:
        raise ValueError(
            f"data.synthetic.n_classes: {n_classes}; the synthetic set has 2 to {MAX_CLASSES} "
            f"classes ({', '.join(SYNTHETIC_CLASSES)})"
        )
    return list(SYNTHETIC_CLASSES[:n_classes])


def draw_lesions(rng: np.random.Generator, n: int, contrast: float) -> _Arrays:
    """Per image: the lesion's side, place, angle, size, strength and the miliary spots."""
    return {
        "side": rng.choice([-1.0, 1.0], size=n),
        "rad": np.sqrt(rng.uniform(0, 1, n)) * 0.55,
        "ang": rng.uniform(0, 2 * np.pi, n),
        "theta": rng.uniform(0, np.pi, n),
        "size": rng.uniform(0.8, 1.25, n),
        "strength": contrast * rng.uniform(0.45, 1.5, n),
        "level": rng.uniform(0.2, 0.45, n),
        "m_side": rng.choice([-1.0, 1.0], size=(n, _MILIARY)),
        "m_rad": np.sqrt(rng.uniform(0, 1, (n, _MILIARY))) * 0.8,
        "m_ang": rng.uniform(0, 2 * np.pi, (n, _MILIARY)),
    }


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow."""
    return np.float32(0.5) * (np.float32(1.0) + np.tanh(np.float32(0.5) * z))


def _gauss(
    dx: np.ndarray, dy: np.ndarray, su: np.ndarray, sv: np.ndarray, th: np.ndarray
) -> np.ndarray:
    """An anisotropic Gaussian of peak 1, rotated by ``th``."""
    u = (dx * np.cos(th) + dy * np.sin(th)) / su
    v = (dy * np.cos(th) - dx * np.sin(th)) / sv
    return np.exp(np.float32(-0.5) * (u * u + v * v))


def _spot(g: _Arrays) -> tuple[np.ndarray, np.ndarray]:
    """Offsets from the lesion's centre inside its lung."""
    cx = g["side"] * g["lung_x"] + g["rad"] * np.cos(g["ang"]) * g["lung_a"]
    cy = g["lung_y"] + g["rad"] * np.sin(g["ang"]) * g["lung_b"]
    return g["X"] - cx, g["Y"] - cy


def _lung(g: _Arrays, side: np.ndarray) -> np.ndarray:
    """A soft mask of one lung field (per image ``side``)."""
    r = np.sqrt(
        ((g["X"] - side * g["lung_x"]) / g["lung_a"]) ** 2
        + ((g["Y"] - g["lung_y"]) / g["lung_b"]) ** 2
    )
    return _sigmoid((0.92 - r) / 0.06)


def _effusion(g: _Arrays, s: float) -> np.ndarray:
    top = g["lung_y"] + g["level"] * g["lung_b"]
    return 0.55 * _lung(g, g["side"]) * _sigmoid((g["Y"] - top) / 0.04)


def _apical_cap(g: _Arrays, s: float) -> np.ndarray:
    bottom = g["lung_y"] - (0.2 + g["level"]) * g["lung_b"]
    return 0.6 * _lung(g, g["side"]) * _sigmoid((bottom - g["Y"]) / 0.04)


def _cavity(g: _Arrays, s: float) -> np.ndarray:
    dx, dy = _spot(g)
    d = np.sqrt(dx * dx + dy * dy)
    radius, width = 1.8 * s * g["size"], 0.5 * s
    ring = np.exp(-0.5 * ((d - radius) / width) ** 2)
    return 0.8 * ring - 0.4 * np.exp(-0.5 * (d / radius) ** 2)


def _streak(g: _Arrays, s: float) -> np.ndarray:
    dx, dy = _spot(g)
    return _gauss(dx, dy, 3.5 * s * g["size"], 0.45 * s, g["theta"])


def _lucency(g: _Arrays, s: float) -> np.ndarray:
    dx = g["X"] - g["side"] * (g["lung_x"] + 0.55 * g["lung_a"])
    dy = g["Y"] - (g["lung_y"] - 0.25 * g["lung_b"])
    sig = 1.8 * s * g["size"]
    return -0.7 * _gauss(dx, dy, sig, 1.6 * sig, np.zeros_like(sig))


def _mass(g: _Arrays, s: float) -> np.ndarray:
    dx, dy = _spot(g)
    sig = 2.2 * s * g["size"]
    return 0.8 * _gauss(dx, dy, sig, sig, g["theta"])


def _nodule(g: _Arrays, s: float) -> np.ndarray:
    dx, dy = _spot(g)
    return 1.2 * _sigmoid((s * g["size"] - np.sqrt(dx * dx + dy * dy)) / (0.12 * s))


def _miliary(g: _Arrays, s: float) -> np.ndarray:
    out = np.zeros(np.broadcast_shapes(g["X"].shape, g["Y"].shape), dtype=np.float32)
    for j in range(_MILIARY):
        side, rad, ang = (g[k][:, j].reshape(-1, 1, 1) for k in ("m_side", "m_rad", "m_ang"))
        dx = g["X"] - (side * g["lung_x"] + rad * np.cos(ang) * g["lung_a"])
        dy = g["Y"] - (g["lung_y"] + rad * np.sin(ang) * g["lung_b"])
        out += _gauss(dx, dy, 0.5 * s, 0.5 * s, np.zeros_like(rad))
    return 0.6 * out


def _cardiomegaly(g: _Arrays, s: float) -> np.ndarray:
    dx, dy = g["X"] - 0.06, g["Y"] - (g["lung_y"] + 0.3)
    r = np.sqrt((dx / (0.34 * g["size"])) ** 2 + (dy / (0.28 * g["size"])) ** 2)
    return 0.5 * _sigmoid((1.0 - r) / 0.12)


def _reticular(g: _Arrays, s: float) -> np.ndarray:
    dx, dy = _spot(g)
    th = g["theta"]
    u, v = dx * np.cos(th) + dy * np.sin(th), dy * np.cos(th) - dx * np.sin(th)
    k = np.float32(2 * np.pi) / (2.0 * s)
    env = _gauss(dx, dy, 2.4 * s * g["size"], 2.4 * s * g["size"], th)
    return 0.7 * env * np.cos(k * u) * np.cos(k * v)


_SHAPES: dict[str, Callable[[_Arrays, float], np.ndarray]] = {
    "effusion": _effusion,
    "cavity": _cavity,
    "streak": _streak,
    "lucency": _lucency,
    "mass": _mass,
    "nodule": _nodule,
    "miliary": _miliary,
    "cardiomegaly": _cardiomegaly,
    "apical_cap": _apical_cap,
    "reticular": _reticular,
}


def lesion_field(
    classes: np.ndarray,
    lesions: _Arrays,
    anatomy: _Arrays,
    x: np.ndarray,
    y: np.ndarray,
    sigma: float,
) -> np.ndarray:
    """The lesions of a chunk of images (float32 n x H x W; zero for normal and opacity).

    ``anatomy`` holds float32 n x 1 x 1 parameters (lungs, shifts); ``x``, ``y`` the pixel
    coordinates (-1..1); ``sigma`` the blob radius in those units.
    """
    f32 = np.float32
    out = np.zeros((len(classes), y.shape[-2], x.shape[-1]), dtype=f32)
    for k in np.unique(classes[classes >= 2]).tolist():
        sel = classes == k
        g = {
            key: np.asarray(v[sel], dtype=f32).reshape(
                -1, *((1, 1) if v.ndim == 1 else v.shape[1:])
            )
            for key, v in lesions.items()
        }
        g.update({key: v[sel] for key, v in anatomy.items()})
        g["X"], g["Y"] = x - g["shift_x"], y - g["shift_y"]
        shape = _SHAPES[SYNTHETIC_CLASSES[k]](g, float(sigma))
        out[sel] = (g["strength"] * shape).astype(f32)
    return out
