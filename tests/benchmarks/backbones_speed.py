"""Training speed of real backbones: biomedclf's training loop against a torchvision
``references/classification/train.py``-style loop, on the same images (issue 22).

    python tests/benchmarks/backbones_speed.py [--models resnet18,densenet121] [--images 256]
        [--batch-size 32] [--image-size 224] [--threads 2] [--repeats 2] [--out FILE.json]

Both sides train torchvision's model (``torchvision/<name>``, from scratch: the speed does not
depend on the starting weights) for one epoch on the same generated 3-channel images at
``--image-size`` px, with the same batch size and threads, SGD (lr 0.1, momentum 0.9, weight
decay 1e-4, the reference's defaults), float32, channels_last:

- biomedclf: :func:`biomedclf.train.loop.run_training` on the prepared cache (its own
  ``images_per_second`` in train.json: the training phase only), after an untimed one-batch
  run of the same model (one-time set-up: oneDNN kernels, allocator growth);
- reference: the body of torchvision's ``train_one_epoch``: ``model.train()``, per batch
  ``output = model(image)``, ``CrossEntropyLoss``, ``zero_grad``, ``backward``, ``step`` and
  the loss read with ``.item()`` (its metric logger), on the same images already decoded and
  normalised (the reference's DataLoader workers decode in parallel; here both sides skip
  decoding), the first batch untimed.

The reference's model has two logits (CrossEntropyLoss), biomedclf's one (its two-class head);
the difference is one row of the last layer. Every measurement runs in a fresh process, the
best of ``--repeats`` counts (other users' load only slows a run down). Prints one line per
model and side (images/s) and a Markdown table; ``--out`` also writes the numbers as JSON.
Also the part ``backbones`` of tests/benchmarks/run.py (``--parts backbones``). Not part of the
pytest run.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the suite's modules, then tests/ (config_helpers)

log = logging.getLogger("benchmarks.backbones")

LR, MOMENTUM, WEIGHT_DECAY = 0.1, 0.9, 1e-4


def prepare_images(work: Path, n_train: int, image_size: int, batch_size: int) -> dict[str, Any]:
    """Synthetic PNGs prepared by biomedclf (3 channels) into a cache holding exactly
    ``n_train`` training images, and a one-batch cache of the same images for the warm-up."""
    import torch
    from config_helpers import data_config, data_files
    from training import split_rows

    from biomedclf.data.cache import load_split, save_split
    from biomedclf.data.decode_settings import decode_settings
    from biomedclf.data.prepare import prepare_dataset
    from biomedclf.data.synthetic import generate_synthetic

    src = work / "synthetic"
    n_per_class = (n_train + batch_size) // 2 + 16  # ~80 % of them land in train
    generate_synthetic(src, n_per_class, image_size, difficulty=0.5, seed=0, n_classes=2)
    data = data_config(
        source="folder",
        path=str(src),
        image_size=image_size,
        channels=3,
        split={"val": 0.1, "test": 0.1, "seed": 0},
    )
    files = data_files(work / "prepared")
    prepare_dataset(data, files, threads=2)
    train, val = load_split(files["train"]), load_split(files["val"])
    if len(train) < n_train:
        raise RuntimeError(f"only {len(train)} training images were prepared, wanted {n_train}")

    caches = {"timed": work / "cache", "warm": work / "cache_warm"}
    for name, n in (("timed", n_train), ("warm", batch_size)):
        caches[name].mkdir(parents=True, exist_ok=True)
        save_split(caches[name] / "train.pt", split_rows(train, torch.arange(min(n, len(train)))))
        few_val = split_rows(val, torch.arange(min(batch_size, 8, len(val))))
        for role in ("val", "test"):  # validation and the final scoring are not timed
            save_split(caches[name] / f"{role}.pt", few_val)
    return {"caches": caches, "decoding": decode_settings(data), "n_train": n_train}


def biomedclf_loop(
    model: str, images: dict[str, Any], work: Path, threads: int, batch_size: int
) -> float:
    """images/s of biomedclf's training loop (train.json's figure), after a warm-up run."""
    from config_helpers import cache_files, train_files, variant_spec

    from biomedclf.train.loop import run_training

    spec = variant_spec(
        f"torchvision/{model}",
        name=f"bench_{model}",
        epochs=1,
        batch_size=batch_size,
        optimizer="sgd",
        lr=LR,
        momentum=MOMENTUM,
        weight_decay=WEIGHT_DECAY,
        device="cpu",
        amp=False,
    )
    out = work / f"biomedclf_{model}"
    info: dict[str, Any] = {}
    for tag in ("warm", "timed"):
        files, outputs = cache_files(images["caches"][tag]), train_files(out / tag)
        info = run_training(
            spec, 0, files, outputs, out / f"{tag}_ckpt", threads, decoding=images["decoding"]
        )
    return float(info["images_per_second"])


def reference_loop(model: str, images: dict[str, Any], threads: int, batch_size: int) -> float:
    """images/s of torchvision's ``train_one_epoch`` body on the same images, first batch
    untimed."""
    import torch
    from torch import nn
    from torchvision.models import get_model

    from biomedclf.data.cache import load_split

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    split = load_split(images["caches"]["timed"] / "train.pt")
    mean = torch.tensor(split.mean).view(1, -1, 1, 1)
    std = torch.tensor(split.std).view(1, -1, 1, 1)
    x = ((split.images.float() / 255 - mean) / std).contiguous(memory_format=torch.channels_last)
    y = split.labels.long()
    net = get_model(model, weights=None, num_classes=2).to(memory_format=torch.channels_last)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(
        net.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY
    )
    order = torch.randperm(len(y))
    net.train()
    start, timed = None, 0
    for step, first in enumerate(range(0, len(y), batch_size)):
        idx = order[first : first + batch_size]
        image, target = x[idx], y[idx]
        output = net(image)
        loss = criterion(output, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()  # the metric logger reads the loss every step
        if step == 0:
            start = time.perf_counter()
        else:
            timed += len(idx)
    if start is None or not timed:
        raise ValueError("--images must hold at least two batches")
    return timed / (time.perf_counter() - start)


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from training import _in_fresh_process

    t0 = time.perf_counter()
    images = prepare_images(work, args.images, args.image_size, args.batch_size)
    log.info("%d images at %d px prepared in %.0f s", args.images, args.image_size,
             time.perf_counter() - t0)  # fmt: skip
    rows: dict[str, Any] = {}
    for model in args.models.split(","):
        ours, theirs = [], []
        for _ in range(args.repeats):
            theirs.append(
                _in_fresh_process(reference_loop, model, images, args.threads, args.batch_size)
            )
            ours.append(
                _in_fresh_process(
                    biomedclf_loop, model, images, work, args.threads, args.batch_size
                )
            )
        rows[model] = {
            "biomedclf_images_per_second": max(ours),
            "reference_images_per_second": max(theirs),
            "ratio": max(ours) / max(theirs),
            "all_biomedclf": ours,
            "all_reference": theirs,
        }
        print(f"{model}: biomedclf {max(ours):.1f} images/s, reference {max(theirs):.1f} images/s "
              f"(ratio {max(ours) / max(theirs):.2f}; runs {[round(v, 1) for v in ours]} / "
              f"{[round(v, 1) for v in theirs]})", flush=True)  # fmt: skip
    return rows


def markdown(rows: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        f"Training images/s at {args.image_size} px, batch {args.batch_size}, {args.threads} "
        f"threads, {args.images} images, best of {args.repeats}",
        "",
        "| Model | biomedclf | reference loop | ratio |",
        "|---|---|---|---|",
    ]
    for model, row in rows.items():
        lines.append(
            f"| {model} | {row['biomedclf_images_per_second']:.1f} | "
            f"{row['reference_images_per_second']:.1f} | {row['ratio']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def run(work: Path, quick: bool, threads: int) -> dict[str, Any]:
    """The suite's part ``backbones`` (run.py --parts backbones): the defaults, or with
    ``quick`` 64 images and one run per side."""
    argv = ["--threads", str(threads)] + (["--images", "64", "--repeats", "1"] if quick else [])
    args = parse_args(argv)
    work.mkdir(parents=True, exist_ok=True)
    rows = measure(args, work)
    return {"models": rows, "markdown": markdown(rows, args)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="resnet18,densenet121", help="torchvision model names")
    p.add_argument("--images", type=int, default=256, help="training images per epoch (256)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2, help="runs per side; the best counts (2)")
    p.add_argument("--out", type=Path, default=None, help="write the numbers as JSON here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("biomedclf").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="biomedclf-backbones-") as work:
        rows = measure(args, Path(work))
    table = markdown(rows, args)
    sys.stdout.write(table)
    if args.out:
        settings = {k: getattr(args, k) for k in ("images", "batch_size", "image_size", "threads")}
        payload = {"settings": settings, "models": rows, "markdown": table}
        args.out.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
