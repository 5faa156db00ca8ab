"""ONNX, both ways: ``export`` writes a strided model as an ONNX graph, ``load`` builds a strided model from one.

ONNX is the interchange format every runtime reads (onnxruntime, browsers, phones, C++ and Go
services). The export is checked by ``onnx.checker`` and proven against onnxruntime in the tests;
the import builds a trainable strided ``Graph`` (backward works, ``st.save`` writes it) and is
proven against PyTorch's own exports. Both need the ``onnx`` extra: ``pip install 'strided[onnx]'``.
See docs/onnx.md for what is and is not supported.
"""

from .errors import OnnxError, require_onnx
from .export import export
from .importer import load

__all__ = ["OnnxError", "export", "load", "require_onnx"]
