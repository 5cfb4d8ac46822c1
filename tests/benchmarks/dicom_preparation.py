"""DICOM preparation speed: prepare_dataset (2 threads) against a plain single-threaded pydicom
loop over the same files.

    python tests/benchmarks/dicom_preparation.py [--images 400] [--side 512] [--image-size 256]
                                                 [--threads 2] [--codec plain] [--work DIR]

Writes ``--images`` CT-like slices (int16, ``--side`` px square, RescaleSlope 1,
RescaleIntercept -1024, a soft-tissue window in the tags, 40 patients in PatientID) into
root/{normal,opacity}/, uncompressed (``--codec plain``, the default), RLE Lossless (``rle``:
pydicom's own decoder, in Python), half and half (``mixed``) or JPEG 2000 lossless (``j2k``,
when an encoder is installed). Then, with every file in the page cache:

* the plain loop: ``dcmread`` + ``pixel_array`` + rescale (slope, intercept) + resize (Pillow,
  float, bicubic, to ``--image-size``), one file after the other in one thread: what a notebook
  would do, without windowing, 8-bit scaling, hashing, splitting or writing anything;
* ``prepare_dataset`` with 1 and with ``--threads`` threads (the whole call: index, decode with
  the window, de-duplicate, split, write the cache), and with ``data.split.group:
  patient_id`` (headers read at indexing).

One untimed prepare_dataset call first loads torch, pydicom's plugins and the rest; each
measurement is then the best of ``--repeats`` (default 3), as the machine may be shared.
Prints a Markdown table of images per second and the ratio to the plain loop.
``run.py --parts dicom`` runs it as part of the suite.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))  # tests/: clinical_files, config_helpers

log = logging.getLogger(__name__)
CODECS = ("plain", "mixed", "rle", "j2k")


def _syntax(codec: str, i: int) -> str | None:
    from pydicom.uid import JPEG2000Lossless, RLELossless

    if codec == "mixed":
        return RLELossless if i % 2 else None
    return {"plain": None, "rle": RLELossless, "j2k": JPEG2000Lossless}[codec]


def make_dicom_folder(root: Path, n_images: int, side: int, codec: str = "plain") -> dict:
    """``n_images`` CT-like DICOM slices in root/{normal,opacity}/, 40 patients."""
    from clinical_files import ct_like, write_dicom

    rng = np.random.default_rng(0)
    n_bytes = 0
    for i in range(n_images):
        cls = ("normal", "opacity")[i % 2]
        img = ct_like(rng, side, offset=i) + (150 if cls == "opacity" else 0)
        path = write_dicom(
            root / cls / f"slice{i:05d}.dcm",
            img,
            compress=_syntax(codec, i),
            patient_id=f"P{i % 40:03d}",
            RescaleSlope=1,
            RescaleIntercept=-1024,
            WindowCenter=40,
            WindowWidth=400,
        )
        n_bytes += path.stat().st_size
    return {"images": n_images, "side": side, "codec": codec, "mb": round(n_bytes / 2**20, 1)}


def plain_loop(root: Path, image_size: int, repeats: int = 3) -> dict[str, Any]:
    """dcmread + pixel_array + rescale + resize for every file, one thread (best of
    ``repeats``)."""
    import pydicom
    from PIL import Image

    files = sorted(root.rglob("*.dcm"))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for f in files:
            ds = pydicom.dcmread(f)
            arr = ds.pixel_array.astype(np.float32)
            arr = arr * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
            img = Image.fromarray(arr).resize((image_size, image_size), Image.Resampling.BICUBIC)
            np.asarray(img)
        best = min(best, time.perf_counter() - t0)
    return {"images": len(files), "seconds": best, "images_per_second": len(files) / best}


def prepare_pass(
    root: Path, out: Path, image_size: int, threads: int, repeats: int = 3, **extra: Any
) -> dict[str, Any]:
    """prepare_dataset on the folder (best of ``repeats``): the whole call and its decode
    stage (summary.json's decode_seconds)."""
    from config_helpers import data_config, data_files

    from biomedclf.data.prepare import prepare_dataset

    cfg = data_config(source="folder", path=str(root), image_size=image_size, **extra)
    best, decode = float("inf"), float("inf")
    for _ in range(repeats):
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        summary = prepare_dataset(cfg, data_files(out), threads=threads)
        best = min(best, time.perf_counter() - t0)
        decode = min(decode, max(float(summary["decode_seconds"]), 1e-9))
    n = int(summary["n_images"])
    return {
        "images": n,
        "threads": threads,
        "seconds": best,
        "images_per_second": n / best,
        "decode_images_per_second": n / decode,
    }


def markdown(result: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    plain = result["plain_loop"]["images_per_second"]
    folder = result["folder"]
    lines = [
        f"DICOM preparation: {folder['images']} slices of {folder['side']} px ({folder['codec']}, "
        f"{folder['mb']} MB) to {result['image_size']} px",
        "",
        "| run | images/s | decode stage images/s | vs plain loop |",
        "|---|---:|---:|---:|",
        f"| plain pydicom loop (1 thread) | {plain:.1f} | - | 1.00x |",
    ]
    for key, label in (
        ("prepare_1_thread", "prepare_dataset, 1 thread"),
        ("prepare", f"prepare_dataset, {result['threads']} threads"),
        ("prepare_patient_id", f"prepare_dataset, {result['threads']} threads, group: patient_id"),
    ):
        r = result[key]
        lines.append(
            f"| {label} | {r['images_per_second']:.1f} | {r['decode_images_per_second']:.1f} | "
            f"{r['images_per_second'] / plain:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def run(
    work: Path,
    n_images: int = 400,
    side: int = 512,
    image_size: int = 256,
    threads: int = 2,
    codec: str = "plain",
    repeats: int = 3,
) -> dict[str, Any]:
    """Write the folder, warm the page cache and the imports, time the plain loop and
    prepare_dataset."""
    root = work / "dicom"
    shutil.rmtree(root, ignore_errors=True)
    folder = make_dicom_folder(root, n_images, side, codec)
    for f in root.rglob("*"):
        if f.is_file():
            f.read_bytes()
    logging.getLogger("biomedclf").setLevel(logging.WARNING)
    prepare_pass(root, work / "warm", image_size, threads, repeats=1)  # imports, not timed
    plain = plain_loop(root, image_size, repeats)
    result = {
        "folder": folder,
        "image_size": image_size,
        "threads": threads,
        "repeats": repeats,
        "plain_loop": plain,
        "prepare_1_thread": prepare_pass(root, work / "out1", image_size, 1, repeats),
        "prepare": prepare_pass(root, work / "out", image_size, threads, repeats),
        "prepare_patient_id": prepare_pass(
            root, work / "out_pid", image_size, threads, repeats, split={"group": "patient_id"}
        ),
    }
    logging.getLogger("biomedclf").setLevel(logging.NOTSET)
    result["ratio_prepare"] = result["prepare"]["images_per_second"] / plain["images_per_second"]
    result["markdown"] = markdown(result)
    log.info(
        "DICOM prepare %.1f img/s (%d threads) vs plain loop %.1f img/s: %.2fx",
        result["prepare"]["images_per_second"],
        threads,
        plain["images_per_second"],
        result["ratio_prepare"],
    )
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=400)
    p.add_argument("--side", type=int, default=512)
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--codec", choices=CODECS, default="plain")
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs (3)")
    p.add_argument("--work", type=Path, default=None, help="scratch folder (default: temporary)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    work = args.work or Path(tempfile.mkdtemp(prefix="biomedclf-dicom-bench-"))
    try:
        result = run(
            work, args.images, args.side, args.image_size, args.threads, args.codec, args.repeats
        )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    sys.stdout.write(result["markdown"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
