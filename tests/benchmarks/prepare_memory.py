"""Peak memory of prepare_dataset against the size of the cache it writes.

    python tests/benchmarks/prepare_memory.py [--sizes 1000,5000,20000] [--work DIR]

Writes folders of 384 px JPEGs (radiograph-like, sizes varying by +-10 % as
preparation.make_folder's do), runs prepare_dataset on each (256 px, 1 channel) in a fresh
Python process and reads that process's peak resident memory (``VmHWM``; see peak_rss_mb). The
fixed cost (Python, torch, the thread pool) cancels in the growth between two sizes; the target
is a growth per image within 1.5x the bytes the image takes in the uint8 cache.

Prints a Markdown table. ``run.py --parts prepare_memory`` runs it as part of the suite. The
code measured is the ``biomedclf`` that the child process imports: set ``PYTHONPATH`` to
measure another copy (e.g. an older checkout's ``workflow/src``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

SIZES = (1000, 5000, 20000)
TARGET_RATIO = 1.5
_POOL = 400  # rendered base images; every file is a shifted, noisy, resized variant of one


def make_jpegs(root: Path, n_images: int, side: int, seed: int = 0) -> dict[str, Any]:
    """Write ``n_images`` distinct JPEGs (quality 90) of about ``side`` px into
    root/{normal,opacity}/imgNNNNNN.jpg. A pool of synthetic radiographs is rendered once;
    each file shifts one of them, adds faint noise (so no two files decode to the same pixels)
    and resizes it by +-10 %. Much faster than rendering every image."""
    from PIL import Image

    from biomedclf.data.synthetic import make_images

    pool, classes, _ = make_images((min(_POOL, n_images) + 1) // 2, side, 0.5, seed, 2)
    rng = np.random.default_rng(seed)
    names = ("normal", "opacity")
    for name in names:
        (root / name).mkdir(parents=True, exist_ok=True)
    n_bytes = 0
    for i in range(n_images):
        k = i % len(pool)
        shift = rng.integers(-8, 9, 2)
        img = np.roll(pool[k], tuple(int(s) for s in shift), axis=(0, 1)).astype(np.int16)
        img += rng.integers(-3, 4, img.shape, dtype=np.int16)
        w, h = (int(side * f) for f in rng.uniform(0.9, 1.1, 2))
        pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
        path = root / names[classes[k]] / f"img{i:06d}.jpg"
        pil.resize((w, h), Image.Resampling.BILINEAR).save(path, quality=90)
        n_bytes += path.stat().st_size
    return {"images": n_images, "side": side, "mb": round(n_bytes / 2**20, 1)}


def _folder(work: Path, n_images: int, largest: int, side: int) -> Path:
    """The folder of the first ``n_images`` files of the largest set (hard links, or copies)."""
    full = work / f"jpeg_{side}px_{largest}"
    done = work / f"jpeg_{side}px_{largest}.done"
    if not done.exists():
        t0 = time.perf_counter()
        made = make_jpegs(full, largest, side)
        done.write_text(json.dumps(made) + "\n")
        log.info(
            "wrote %d JPEGs (%.1f MB) in %.0f s", largest, made["mb"], time.perf_counter() - t0
        )
    if n_images == largest:
        return full
    sub = work / f"jpeg_{side}px_{n_images}_of_{largest}"
    if not sub.exists():
        tmp = Path(tempfile.mkdtemp(prefix=".sub", dir=work))
        for f in sorted(full.rglob("*.jpg")):
            if int(f.stem[3:]) < n_images:
                dest = tmp / f.relative_to(full)
                dest.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(f, dest)
                except OSError:
                    dest.write_bytes(f.read_bytes())
        tmp.rename(sub)
    return sub


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB.

    Linux: ``VmHWM`` of /proc/self/status. Not ``ru_maxrss``: Linux carries the parent's
    resident size at fork over into the child's ``ru_maxrss`` across exec, so a child started by a
    large parent would report the parent's size. Elsewhere ``ru_maxrss`` (bytes on macOS).
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def child(root: Path, out: Path, image_size: int, threads: int) -> dict[str, Any]:
    """In a fresh process: prepare ``root`` and return its peak RSS (and the import baseline)."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: config_helpers
    from config_helpers import data_config, data_files

    import biomedclf.data.prepare as prepare

    torch.set_num_threads(threads)
    cfg = data_config(source="folder", path=str(root), image_size=image_size, channels=1)
    baseline_mb = peak_rss_mb()
    t0 = time.perf_counter()
    summary = prepare.prepare_dataset(cfg, data_files(out), threads=threads)
    seconds = time.perf_counter() - t0
    peak_mb = peak_rss_mb()
    return {
        "code": str(Path(prepare.__file__).resolve().parent),
        "files": summary["n_files"],
        "images": summary["n_images"],
        "rejected": summary["rejected"],
        "bytes_per_image": summary["channels"] * summary["image_size"] ** 2,
        "baseline_mb": baseline_mb,
        "peak_mb": peak_mb,
        "seconds": round(seconds, 2),
        "decode_seconds": summary["decode_seconds"],
    }


def measure(root: Path, out: Path, image_size: int, threads: int) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter and return what it reports."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        str(root),
        str(out),
        "--image-size",
        str(image_size),
        "--threads",
        str(threads),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"prepare on {root} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def evaluate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add growth per image between consecutive sizes, its ratio to the cached size, verdict."""
    for prev, row in zip([None, *rows[:-1]], rows):
        row["cache_mb"] = row["images"] * row["bytes_per_image"] / 2**20
        if prev is None:
            row.update(growth_kb=None, ratio=None, status="")
            continue
        growth = (row["peak_mb"] - prev["peak_mb"]) * 1024 / (row["files"] - prev["files"])
        ratio = growth / (row["bytes_per_image"] / 1024)
        row.update(
            growth_kb=growth, ratio=ratio, status="PASS" if ratio <= TARGET_RATIO else "FAIL"
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of :func:`evaluate`'s rows."""
    lines = [
        f"| images | cache MB | peak RSS MB | growth per image (KB) | cached per image (KB) "
        f"| ratio | target <= {TARGET_RATIO}x |",
        "|---:|---:|---:|---:|---:|---:|:---|",
    ]
    for r in rows:
        growth = "" if r["growth_kb"] is None else f"{r['growth_kb']:.1f}"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        lines.append(
            f"| {r['files']:,} | {r['cache_mb']:,.0f} | {r['peak_mb']:,.0f} | {growth} "
            f"| {r['bytes_per_image'] / 1024:.0f} | {ratio} | {r['status']} |"
        )
    if rows:
        lines.append("")
        lines.append(
            f"Code: {rows[0]['code']}. Peak RSS after imports, before prepare: "
            f"{rows[0]['baseline_mb']:.0f} MB. Prepare seconds: "
            + ", ".join(f"{r['files']:,}: {r['seconds']:.0f} s" for r in rows)
            + "."
        )
    return "\n".join(lines) + "\n"


def run(
    work: Path,
    sizes: tuple[int, ...] = SIZES,
    side: int = 384,
    image_size: int = 256,
    threads: int = 2,
) -> dict[str, Any]:
    """The suite part: measure every size (smallest first) and evaluate the growth."""
    work.mkdir(parents=True, exist_ok=True)
    sizes = tuple(sorted(sizes))
    rows = []
    for n in sizes:
        root = _folder(work, n, sizes[-1], side)
        out = work / f"prepared_{n}"
        rows.append(measure(root, out, image_size, threads))
        shutil.rmtree(out, ignore_errors=True)  # up to 1.3 GB at 20,000 images
        log.info("%d images: peak RSS %.0f MB", n, rows[-1]["peak_mb"])
    rows = evaluate(rows)
    table = markdown(rows)
    log.info("prepare memory:\n%s", table)
    return {
        "side": side,
        "image_size": image_size,
        "threads": threads,
        "rows": rows,
        "passed": all(r["status"] != "FAIL" for r in rows),
        "markdown": table,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--sizes",
        default=",".join(map(str, SIZES)),
        help="comma-separated image counts (default 1000,5000,20000)",
    )
    p.add_argument(
        "--work",
        type=Path,
        default=None,
        help="folder for the JPEGs and caches (kept; default a temporary folder)",
    )
    p.add_argument("--side", type=int, default=384, help="JPEG side in px (384)")
    p.add_argument("--image-size", type=int, default=256, help="data.image_size (256)")
    p.add_argument("--threads", type=int, default=2, help="decode threads (2)")
    p.add_argument("--child", nargs=2, type=Path, metavar=("ROOT", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        logging.basicConfig(level=logging.WARNING)
        result = child(args.child[0], args.child[1], args.image_size, args.threads)
        sys.stdout.write(json.dumps(result) + "\n")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    sizes = tuple(int(s) for s in args.sizes.split(",") if s.strip())
    if args.work is None:
        with tempfile.TemporaryDirectory(prefix="biomedclf-prepmem-") as tmp:
            result = run(Path(tmp), sizes, args.side, args.image_size, args.threads)
    else:
        result = run(args.work, sizes, args.side, args.image_size, args.threads)
    sys.stdout.write(result["markdown"])
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
