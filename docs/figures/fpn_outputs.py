"""Draw docs/figures/fpn_outputs.png: a feature pyramid's outputs for one image.

    python docs/figures/fpn_outputs.py [--root FOLDER]     (Fashion-MNIST's IDX files; else the MNIST sample)

A resnet_fpn_backbone("resnet18", out_channels=64) in eval mode on one test image resized to 128x128: the
image, then each level's mean absolute activation over its 64 channels, at its own resolution (stride 4,
8, 16, 32 and the "pool" level's 64). The weights are strided's initialisation, not trained ones: what
the figure shows is the geometry (every level has the same channels, each half the size of the one
before), not learnt features.
"""

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import strided as st  # noqa: E402
from strided.data import transforms as T  # noqa: E402

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "data" / "fashion-mnist"
SIDE = 128


def one_image(root) -> tuple:
    try:
        images, labels = st.data.FashionMNIST(root, train=False)[:1]
        return images, f"Fashion-MNIST test image 0 ({st.data.FashionMNIST.classes[int(labels[0])]})"
    except (st.data.DatasetError, OSError):
        images, _ = st.data.load_sample(train=False)[:1]
        return images, "MNIST sample test image 0"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(SHARED))
    args = parser.parse_args()
    images, title = one_image(args.root)
    x = T.Resize((SIDE, SIDE))(T.ToFloat()(images))
    x = np.repeat((x - x.mean()) / x.std(), 3, axis=1).astype(np.float32)  # grey -> the 3 channels ResNet takes
    st.manual_seed(0)
    backbone = st.models.resnet_fpn_backbone("resnet18", out_channels=64).eval()
    with st.no_grad():
        levels = backbone(x)
    fig, axes = plt.subplots(1, len(levels) + 1, figsize=(2.2 * (len(levels) + 1), 2.6))
    axes[0].imshow(x[0, 0], cmap="gray")
    axes[0].set_title(f"input {SIDE}x{SIDE}", fontsize=9)
    for ax, (name, level) in zip(axes[1:], levels.items(), strict=True):
        ax.imshow(np.abs(level[0]).mean(axis=0), cmap="magma")
        ax.set_title(f"'{name}': {level.shape[1]}x{level.shape[2]}x{level.shape[3]}", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"resnet_fpn_backbone('resnet18') outputs, mean |activation| per pixel; {title}, untrained",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(HERE / "fpn_outputs.png", dpi=100)
    print(f"wrote {HERE / 'fpn_outputs.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
