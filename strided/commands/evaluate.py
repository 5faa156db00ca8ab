"""``strided evaluate MODEL --dataset ...``: accuracy, per-class metrics and the confusion matrix.

Images go through the model file's own preprocessing. Datasets with a test split (the standard
ones and the bundled sample) are evaluated on it (``--split train`` for the training split); an
image folder has no separate split, so all of its images are used.
"""

import json

import numpy as np

from .common import positive_int
from .datasets import BUILT_IN

TOP_K = 5  # top-5 accuracy is reported only for models with more classes than that (else it is always 1)


def add_arguments(parser) -> None:
    parser.add_argument("model", help="a model file written by strided train (.safetensors), or an ONNX file (.onnx)")
    parser.add_argument("--dataset", default="sample", help=f"{', '.join(BUILT_IN)} or a folder of class sub-folders")
    parser.add_argument("--data-dir", help="where the standard datasets' files are")
    parser.add_argument("--split", choices=["test", "train"], default="test")
    parser.add_argument("--batch-size", type=positive_int, default=256)
    parser.add_argument("--download", action="store_true", help="fetch a standard dataset that is not on disk")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from ..data import fetch_batch
    from ..predictor import Predictor
    from ..train.metrics import classification_report, confusion_matrix, top_k_accuracy
    from .datasets import open_dataset

    predictor = Predictor(args.model)
    pre = predictor.preprocessing
    dataset, has_test = open_dataset(args.dataset, args.data_dir, args.split == "train", pre.mode, pre.size,
                                     args.download)
    split = args.split if has_test else "all images"
    if list(dataset.classes) != predictor.class_names:
        raise ValueError(f"{args.dataset} has classes {list(dataset.classes)[:12]}, but the model was trained on "
                         f"{predictor.class_names[:12]}")
    probabilities, labels = [], []
    for start in range(0, len(dataset), args.batch_size):
        images, batch_labels = fetch_batch(dataset, np.arange(start, min(start + args.batch_size, len(dataset))))
        if tuple(images.shape[1:]) != tuple(predictor.input_shape):
            raise ValueError(f"{args.dataset} images are {tuple(images.shape[1:])}, the model expects "
                             f"{tuple(predictor.input_shape)}")
        probabilities.append(predictor.predict_batch(pre.normalize(images)))
        labels.append(batch_labels)
    scores, y = np.concatenate(probabilities), np.concatenate(labels).astype(np.int64)
    names = predictor.class_names
    report = classification_report(y, scores, class_names=names)
    matrix = confusion_matrix(y, scores, num_classes=len(names))
    result = {"model": str(args.model), "dataset": args.dataset, "split": split, "images": int(len(y)),
              "accuracy": report["accuracy"],
              "top5_accuracy": top_k_accuracy(y, scores, TOP_K) if len(names) > TOP_K else None,
              "per_class": {n: report[n] for n in names}, "confusion_matrix": matrix.tolist()}
    if args.json:
        print(json.dumps(result))
        return 0
    top5 = f", top-5 {result['top5_accuracy']:.4f}" if result["top5_accuracy"] is not None else ""
    print(f"{args.model} on {args.dataset} ({split}, {len(y)} images): accuracy {result['accuracy']:.4f}{top5}\n")
    width = max(len(n) for n in names) + 2
    print(f"{'class':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for n in names:
        r = report[n]
        print(f"{n:<{width}}{r['precision']:>10.4f}{r['recall']:>10.4f}{r['f1-score']:>10.4f}{r['support']:>10}")
    print("\nconfusion matrix (rows: true class, columns: predicted)")
    cell = max(5, len(str(matrix.max())) + 1)
    print(" " * width + "".join(f"{i:>{cell}}" for i in range(len(names))))
    for n, row in zip(names, matrix, strict=True):
        print(f"{n:<{width}}" + "".join(f"{v:>{cell}}" for v in row))
    return 0
