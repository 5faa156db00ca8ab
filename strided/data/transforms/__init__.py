"""Image transforms with torchvision's names and defaults, on one image (C, H, W) or a batch (N, C, H, W).

Random transforms give each image of a batch its own parameters, drawn from the ``rng`` passed in
(the DataLoader passes its own seeded generator) or strided's generator (``st.manual_seed``).
"""

from .base import Compose, Normalize, RandomTransform, ToFloat, Transform
from .color import ColorJitter, Grayscale, RandomGrayscale, hsv_to_rgb, rgb_to_hsv
from .erasing import RandomErasing
from .geometric import CenterCrop, Pad, RandomCrop, RandomHorizontalFlip, RandomVerticalFlip, Resize
from .resized_crop import RandomResizedCrop
from .warp import RandomAffine, RandomRotation

__all__ = [
    "CenterCrop", "ColorJitter", "Compose", "Grayscale", "Normalize", "Pad", "RandomAffine", "RandomCrop",
    "RandomErasing", "RandomGrayscale", "RandomHorizontalFlip", "RandomRotation", "RandomTransform",
    "RandomVerticalFlip", "Resize", "ToFloat", "Transform", "hsv_to_rgb", "rgb_to_hsv",
]
__all__ += ["RandomResizedCrop"]
