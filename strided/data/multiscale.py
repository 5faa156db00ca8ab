"""Multi-scale training: each batch is resized to a side drawn from a list, the same for all its images.

A network that ends in adaptive pooling accepts any input size, but it only learns to recognise
objects at the scales it was shown. Multi-scale training (YOLOv2's "every 10 batches a new size",
SSD's and Faster R-CNN's random scales) shows it several: before each batch one side is drawn from
``sizes`` and every image of the batch is resized to it, so the batch stays one array (N, C, s, s)
and the convolutions run on it as usual. The next batch may get another side.

``MultiScaleResize`` is that collate step, written as a batch transform: put it last in the
DataLoader's transform, and the loader's per-batch generator (seeded from ``seed`` or from strided's
generator, see loader.py) draws the side, so a run is repeatable and resumes with the same sizes:

    loader = data.DataLoader(train, 64, shuffle=True, seed=0,
                             transform=data.MultiScaleResize([20, 28, 36]))
    trainer.fit(loader, val_loader, epochs=5)          # the Trainer needs nothing else

Resizing after ``Normalize`` gives the same batch as before it: bilinear weights sum to 1, so the
resize commutes with a per-channel affine map.
"""


from ..functional.args import positive_int
from .transforms.base import Transform
from .transforms.geometric import INTERPOLATIONS, Resize

__all__ = ["MultiScaleResize", "parse_sizes"]


def parse_sizes(sizes, what: str = "MultiScaleResize") -> tuple:
    """``[20, 28, 36]`` or ``"20,28,36"`` -> (20, 28, 36); each side a positive integer, at least one."""
    if isinstance(sizes, str):
        try:
            sizes = [int(part) for part in sizes.split(",") if part.strip()]
        except ValueError:
            raise ValueError(f"{what}: sizes must be integers separated by commas (e.g. 20,28,36), "
                             f"got {sizes!r}") from None
    if not isinstance(sizes, (list, tuple)) or not sizes:
        raise ValueError(f"{what}: sizes must be a non-empty list of image sides, got {sizes!r}")
    return tuple(positive_int(side, "each size", what) for side in sizes)


class MultiScaleResize(Transform):
    """Resize a whole batch (N, C, H, W) to (N, C, s, s), with s drawn uniformly from ``sizes`` per call.

    One draw per batch, from the generator passed in (the DataLoader's, seeded per batch), so all
    images of a batch share the side. ``interpolation`` and ``antialias`` as in ``Resize``.
    ``last_size`` is the side of the latest batch (for logs and tests).
    """

    def __init__(self, sizes, interpolation: str = "bilinear", antialias: bool = True):
        self.sizes = parse_sizes(sizes)
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"MultiScaleResize: interpolation must be one of {INTERPOLATIONS}, "
                             f"got {interpolation!r}")
        self.interpolation, self.antialias = interpolation, bool(antialias)
        self._resizes = {side: Resize((side, side), interpolation, antialias=antialias) for side in self.sizes}
        self.last_size = None

    def draw_size(self, rng) -> int:
        """The side of the next batch: one of ``sizes``, uniformly."""
        return self.sizes[int(rng.integers(len(self.sizes)))]

    def forward(self, batch, rng):
        side = self.draw_size(rng)
        self.last_size = side
        return self._resizes[side].forward(batch, rng)

    def extra_repr(self) -> str:
        return f"sizes={list(self.sizes)}, interpolation={self.interpolation}, antialias={self.antialias}"
