"""``strided predict MODEL IMAGE_OR_FOLDER... [--top-k K] [--json]``: classify image files.

Each image is decoded and preprocessed exactly as the model file says (mode, size,
normalisation), as in training and in the service.
"""

import json
from pathlib import Path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def add_arguments(parser) -> None:
    parser.add_argument("model", help="a model file written by strided train (.safetensors), or an ONNX file (.onnx)")
    parser.add_argument("images", nargs="+", help="image files, or folders of images")
    parser.add_argument("--top-k", type=int, default=3, help="how many classes to show per image (default 3)")
    parser.add_argument("--batch-size", type=int, default=64)
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
    import numpy as np

    from ..predictor import Predictor

    predictor = Predictor(args.model)
    paths = image_paths(args.images)
    k = max(1, min(args.top_k, len(predictor.class_names)))
    for start in range(0, len(paths), args.batch_size):
        chunk = paths[start:start + args.batch_size]
        batch = np.stack([predictor.preprocessing.load_file(p) for p in chunk])
        for path, probabilities in zip(chunk, predictor.predict_batch(batch), strict=True):
            top = np.argsort(-probabilities, kind="stable")[:k]
            rows = [{"class": predictor.class_names[i], "index": int(i), "probability": float(probabilities[i])}
                    for i in top]
            if args.json:
                print(json.dumps({"file": str(path), "predictions": rows}))
            else:
                shown = ", ".join(f"{r['class']} {r['probability']:.1%}" for r in rows)
                print(f"{path}: {shown}")
    return 0
