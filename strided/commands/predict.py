"""``strided predict MODEL IMAGE_OR_FOLDER... [--top-k K] [--json]``: classify image files.

Each image is decoded and preprocessed exactly as the model file says (mode, size,
normalisation), as in training and in the service. An image that cannot be decoded is skipped
with a one-line warning, as training skips it, and the count of skipped images ends the output.
"""

import json
import sys
from pathlib import Path

from .common import positive_int, require_extra

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def add_arguments(parser) -> None:
    parser.add_argument("model", help="a model file written by strided train (.safetensors), or an ONNX file (.onnx)")
    parser.add_argument("images", nargs="+", help="image files, or folders of images")
    parser.add_argument("--top-k", type=positive_int, default=3, help="how many classes to show per image")
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of text")


def image_paths(arguments) -> list:
    paths = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            paths += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.exists():
            paths.append(path)
        else:
            raise FileNotFoundError(2, "no such file or folder", str(path))
    if not paths:
        raise ValueError(f"no images found in {' '.join(arguments)}")
    return paths


def run(args) -> int:
    require_extra("images", "PIL")
    import numpy as np

    from ..data.preprocess import ImageDecodeError
    from ..predictor import Predictor

    predictor = Predictor(args.model)
    paths = image_paths(args.images)
    k = min(args.top_k, len(predictor.class_names))
    skipped = 0
    for start in range(0, len(paths), args.batch_size):
        chunk, inputs = [], []
        for path in paths[start:start + args.batch_size]:
            try:
                inputs.append(predictor.load_file(path))
                chunk.append(path)
            except ImageDecodeError as error:
                if len(paths) == 1:  # nothing else to show: the error is the whole answer
                    raise
                skipped += 1
                print(f"strided predict: warning: skipped {error}", file=sys.stderr)
        if not inputs:
            continue
        for path, probabilities in zip(chunk, predictor.predict_batch(np.stack(inputs)), strict=True):
            top = np.argsort(-probabilities, kind="stable")[:k]
            rows = [{"class": predictor.class_names[i], "index": int(i), "probability": float(probabilities[i])}
                    for i in top]
            if args.json:
                print(json.dumps({"file": str(path), "predictions": rows}))
            else:
                shown = ", ".join(f"{r['class']} {r['probability']:.1%}" for r in rows)
                print(f"{path}: {shown}")
    if skipped:
        print(f"strided predict: skipped {skipped} of {len(paths)} images that could not be decoded", file=sys.stderr)
    return 0 if skipped < len(paths) else 1
