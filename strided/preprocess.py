"""Former home of strided.data.preprocess (image decoding and the Preprocessing stored with a model), kept so that
code importing ``strided.preprocess`` keeps working; new code imports strided.data.preprocess."""

from .data.preprocess import DEFAULT_MAX_PIXELS, ImageDecodeError, Preprocessing, open_image  # noqa: F401
