"""The one error type of strided.onnx, and the check that the optional ``onnx`` package is installed."""

INSTALL_HINT = "pip install 'strided[onnx]'"


class OnnxError(ValueError):
    """A model that cannot be exported, or an ONNX file that cannot be imported; the message says which part."""


def require_onnx():
    """The ``onnx`` module, or an ImportError that says how to install it."""
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
    except ImportError as error:
        raise ImportError(f"ONNX support needs the onnx package: {INSTALL_HINT}") from error
    return onnx
