"""The package's command line: ``biomedclf predict MODEL IMAGES... --out predictions.csv``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from biomedclf.train.devices import DEVICE_CHOICES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="biomedclf", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser(
        "predict",
        help="apply a trained model to new images",
        description="Apply a trained model (results/<study>/train/<variant>/seed<seed>/model.pt) "
        "to image files or folders; writes one row per file: path, the probability of each "
        "class, the predicted class, and the reason when a file cannot be read.",
    )
    predict.add_argument("model", help="a model.pt written by the workflow's training job")
    predict.add_argument("images", nargs="+", help="image files or folders (searched recursively)")
    predict.add_argument("--out", default="predictions.csv", help="CSV to write")
    predict.add_argument(
        "--threshold",
        choices=("validation", "0.5"),
        default="validation",
        help="the validation-chosen (Youden) threshold stored in the model (two classes; "
        "multi-label: one per label), or 0.5",
    )
    predict.add_argument("--device", choices=DEVICE_CHOICES, default="cpu")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (2 for input a user must fix)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    from biomedclf.predict.images import predict_files
    from biomedclf.train.devices import select_device

    try:
        device = select_device(args.device, key="--device")
        result = predict_files(
            args.model, args.images, args.out, threshold=args.threshold, device=device
        )
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"biomedclf predict: {exc}", file=sys.stderr)
        return 2
    threshold = result["threshold"]
    extra = f" at threshold {threshold:.4g}" if threshold is not None else ""
    print(
        f"{result['predicted']} image(s) predicted{extra}, {result['unreadable']} unreadable: "
        f"{args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
