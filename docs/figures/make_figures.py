"""Draw the figures of docs/*.md from strided's own layers: python docs/figures/make_figures.py

Each figure is a small PNG next to this script. The numbers in the grids are computed by strided
(padding, pooling, gradients), so a figure cannot drift from what the code does.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import learner_figures  # noqa: E402  (this folder is on sys.path when the script runs)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

import strided as st  # noqa: E402

HERE = Path(__file__).resolve().parent
DPI = 100
HIGHLIGHT = "#f4a259"
SOFT = "#bcd4e6"


def grid(ax, values, title, shade=None, fmt="{:g}", box=None, fontsize=9, shade_colour=HIGHLIGHT):
    """Draw a 2-D array as a table of numbers; ``shade`` is a boolean mask of cells to colour."""
    rows, cols = values.shape
    for i in range(rows):
        for j in range(cols):
            colour = shade_colour if shade is not None and shade[i, j] else "white"
            ax.add_patch(Rectangle((j, rows - 1 - i), 1, 1, facecolor=colour, edgecolor="#555555", lw=0.8))
            ax.text(j + 0.5, rows - 0.5 - i, fmt.format(values[i, j]), ha="center", va="center", fontsize=fontsize)
    if box is not None:  # (top, left, height, width) outlined in a thick line
        top, left, height, width = box
        ax.add_patch(Rectangle((left, rows - top - height), width, height, fill=False, edgecolor="#c0392b", lw=2.5))
    ax.set_xlim(-0.1, cols + 0.1)
    ax.set_ylim(-0.1, rows + 0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)


def save(fig, name):
    fig.tight_layout()
    fig.savefig(HERE / name, dpi=DPI)
    plt.close(fig)
    print("wrote", HERE / name)


def convolution_figure():
    # the image and the Sobel filter of convolution.md's first example: a vertical edge
    x = np.array([[0, 0, 3, 3, 3]] * 5, float)
    w = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], float)
    conv = st.nn.Conv2d(1, 1, 3, padding=1, bias=False).double()
    conv.weight.data = w.reshape(1, 1, 3, 3)
    y = conv(x.reshape(1, 1, 5, 5))[0, 0]
    padded = np.pad(x, 1)
    i, j = 2, 1  # a window across the edge
    fig, axes = plt.subplots(1, 3, figsize=(8.5, 3.2), gridspec_kw={"width_ratios": [7, 3, 5]})
    pad_mask = np.ones_like(padded, bool)
    pad_mask[1:-1, 1:-1] = False
    grid(axes[0], padded, "input, zero-padded (P = 1)", shade=pad_mask, box=(i, j, 3, 3), shade_colour=SOFT)
    grid(axes[1], w, "filter (3x3)")
    shade = np.zeros_like(y, bool)
    shade[i, j] = True
    grid(axes[2], y, f"output: y[{i},{j}] = sum(window * filter)", shade=shade)
    save(fig, "convolution.png")


def padding_figure():
    x = np.arange(1.0, 17.0).reshape(1, 1, 4, 4)
    layers = [("zeros", st.nn.ZeroPad2d(2)), ("reflect", st.nn.ReflectionPad2d(2)),
              ("replicate", st.nn.ReplicationPad2d(2)), ("circular", st.nn.CircularPad2d(2))]
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
    inside = np.zeros((8, 8), bool)
    inside[2:6, 2:6] = True
    for ax, (name, layer) in zip(axes, layers, strict=True):
        grid(ax, layer(x)[0, 0], name, shade=inside, fontsize=8)
    save(fig, "padding.png")


def pooling_figure():
    x = np.array([[1, 3, 2, 0], [4, 2, 1, 5], [0, 1, 6, 2], [2, 7, 1, 3]], float).reshape(1, 1, 4, 4)
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.0), gridspec_kw={"width_ratios": [4, 2, 2, 5]})
    winners = st.nn.MaxPool2d(2)(x)[0, 0].repeat(2, 0).repeat(2, 1) == x[0, 0]
    grid(axes[0], x[0, 0], "input (2x2 windows)", shade=winners)
    for top in (0, 2):
        for left in (0, 2):
            h = 4 - top - 2
            axes[0].add_patch(Rectangle((left, h), 2, 2, fill=False, edgecolor="#c0392b", lw=2))
    grid(axes[1], st.nn.MaxPool2d(2)(x)[0, 0], "max pooling")
    grid(axes[2], st.nn.AvgPool2d(2)(x)[0, 0], "average pooling")
    big = np.arange(25.0).reshape(5, 5)
    grid(axes[3], big, "adaptive 5x5 -> 3x3: rows/cols\n[0,2) [1,4) [3,5) overlap", fontsize=8)
    for start, stop, colour in ((0, 2, "#2e86de"), (1, 4, "#c0392b"), (3, 5, "#27ae60")):
        axes[3].add_patch(Rectangle((start + 0.05, 0.05 + 5 - stop), stop - start - 0.1, stop - start - 0.1,
                                    fill=False, edgecolor=colour, lw=2))
    save(fig, "pooling.png")


def maxpool_backward_figure():
    x = np.array([[1, 3, 2, 0], [4, 2, 1, 5], [0, 1, 6, 2], [2, 7, 1, 3]], float).reshape(1, 1, 4, 4)
    g = np.array([[10.0, 20.0], [30.0, 40.0]]).reshape(1, 1, 2, 2)
    pool = st.nn.MaxPool2d(2)
    y = pool(x)
    grad = pool.backward(g)
    fig, axes = plt.subplots(1, 4, figsize=(10, 2.9), gridspec_kw={"width_ratios": [4, 2, 2, 4]})
    grid(axes[0], x[0, 0], "forward: input", shade=grad[0, 0] != 0)
    grid(axes[1], y[0, 0], "output (max)")
    grid(axes[2], g[0, 0], "dL/dy")
    grid(axes[3], grad[0, 0], "dL/dx: to each arg max", shade=grad[0, 0] != 0)
    save(fig, "maxpool_backward.png")


if __name__ == "__main__":
    convolution_figure()
    padding_figure()
    pooling_figure()
    maxpool_backward_figure()
    learner_figures.gradient_flow_figure(save)
    learner_figures.multichannel_figure(save)
    learner_figures.receptive_field_figure(save)
    learner_figures.initialisation_figure(save)
    learner_figures.stride_backward_figure(save, grid)
    learner_figures.augmentation_figure(HERE / "augmentation.png")
