"""``strided summary MODEL_OR_ARCH [--input-shape C,H,W]``: the Keras-style table of a model."""

from pathlib import Path

from .common import parse_shape


def add_arguments(parser) -> None:
    parser.add_argument("model", help="a model file (.safetensors, .onnx) or an architecture name (resnet_cifar20)")
    parser.add_argument("--input-shape", type=parse_shape, help="C,H,W (default: the model file's, or 1,28,28)")
    parser.add_argument("--num-classes", type=int, default=10, help="classes, for an architecture name")


def run(args) -> int:
    import strided as st

    from ..predictor import load_model

    if Path(args.model).suffix == ".safetensors" or Path(args.model).exists():
        model = load_model(args.model)  # a model file or an ONNX file
        shape = args.input_shape or tuple(model.metadata.get("input_shape") or (1, 28, 28))
    else:
        shape = args.input_shape or (1, 28, 28)
        model = st.models.build_model(args.model, num_classes=args.num_classes, in_channels=shape[0])
    st.summary(model, shape)
    return 0
