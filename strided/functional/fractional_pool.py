"""The fractional max pooling kernel under its former import path (strided.functional.fast.fractional_pool
holds it now, geometry its window starts); the torch-style function is strided.functional.fractional_max_pool2d."""

from .fast.fractional_pool import fractional_max_pool2d, fractional_max_pool2d_grad  # noqa: F401
from .geometry import fractional_output_size, fractional_starts  # noqa: F401
