"""The figures of the pages a learner asked for: multi-channel convolution, receptive fields,
initialisation and gradient flow, the stride > 1 backward, and the augmentation gallery.

Called by make_figures.py. Every number drawn is computed by strided (forward, backward, transforms).
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Polygon, Rectangle

import strided as st

nn = st.nn
CHANNEL_COLOURS = ["#e8a0a0", "#a0d0a0", "#a0b8e8"]


def _cell_grid(ax, values, x0, y0, dx, dy, colour, mask=None, fmt="{:g}", size=1.0, fontsize=7):
    """A grid of numbers drawn at (x0, y0), skewed by (dx, dy) per row to look like a slab of a volume."""
    rows, cols = values.shape
    for i in range(rows):
        for j in range(cols):
            x, y = x0 + j * size + i * dx, y0 - i * size + i * dy
            face = "#f4a259" if mask is not None and mask[i, j] else colour
            ax.add_patch(Rectangle((x, y), size, size, facecolor=face, edgecolor="#555", lw=0.6))
            ax.text(x + size / 2, y + size / 2, fmt.format(values[i, j]), ha="center", va="center", fontsize=fontsize)


def _cuboid(ax, x, y, width, height, depth, colour):
    """A box seen from the front-right: front face at (x, y), depth drawn up and to the right."""
    d = 0.5 * depth
    ax.add_patch(Rectangle((x, y), width, height, facecolor=colour, edgecolor="#444", lw=0.8))
    ax.add_patch(Polygon([(x, y + height), (x + d, y + height + d), (x + width + d, y + height + d),
                          (x + width, y + height)], facecolor=colour, edgecolor="#444", lw=0.8, alpha=0.8))
    ax.add_patch(Polygon([(x + width, y), (x + width + d, y + d), (x + width + d, y + height + d),
                          (x + width, y + height)], facecolor=colour, edgecolor="#444", lw=0.8, alpha=0.6))


def multichannel_figure(save):
    """CS231n-style: a 3-channel input volume, one 3x3x3 filter, one output map; the numbers by strided."""
    rng = np.random.default_rng(4)
    x = rng.integers(0, 3, (1, 3, 5, 5)).astype(float)
    w = rng.integers(-1, 2, (1, 3, 3, 3)).astype(float)
    conv = nn.Conv2d(3, 1, 3, padding=1).double()
    conv.weight.data, conv.bias.data = w, np.array([1.0])
    y = conv(x)[0, 0]
    i, j = 1, 2  # the output pixel explained
    padded = np.pad(x[0], ((0, 0), (1, 1), (1, 1)))
    sums = [float(np.sum(w[0, k] * padded[k, i:i + 3, j:j + 3])) for k in range(3)]
    fig, ax = plt.subplots(figsize=(11, 5.4))
    _cuboid(ax, 0, 9.5, 3.5, 3.5, 1.5, "#dddddd")  # the input volume, 3 deep
    _cuboid(ax, 1.0, 11.0, 1.5, 1.5, 1.5, "#f4a259")  # the window: 3x3 across all 3 channels
    ax.text(0, 7.9, "input volume 3 x 7 x 7 (padded);\nthe filter covers a 3 x 3 x 3 block", fontsize=8)
    for k in range(3):  # the volume's slices, side by side so that every number reads
        mask = np.zeros((7, 7), bool)
        mask[i:i + 3, j:j + 3] = True
        _cell_grid(ax, padded[k], 6 + 8 * k, 13, 0, 0, CHANNEL_COLOURS[k], mask)
        ax.text(6 + 8 * k, 14.2, f"input channel {k}", fontsize=8)
        _cell_grid(ax, w[0, k], 8 + 8 * k, 4, 0, 0, CHANNEL_COLOURS[k])
        ax.text(6 + 8 * k, 5.2, f"filter slice {k}: sum {sums[k]:g}", fontsize=8)
    mask = np.zeros_like(y, bool)
    mask[i, j] = True
    _cell_grid(ax, y, 31, 13, 0, 0, "#eeeeee", mask, fmt="{:.0f}")
    ax.text(31, 14.2, "output map 5 x 5", fontsize=8)
    ax.text(6, 0.2, f"y[{i},{j}] = sum over the 3 channels of (window x filter slice) + bias = "
            f"{sums[0]:g} + {sums[1]:g} + {sums[2]:g} + 1 = {y[i, j]:g}", fontsize=10)
    ax.set_xlim(-0.5, 37)
    ax.set_ylim(-0.5, 15)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("One filter spans every input channel: one output value is one dot product over a window volume",
                 fontsize=10)
    save(fig, "multichannel.png")


def gradient_support(model, x, row, col):
    """|d y[0, :, row, col] / d x| summed over channels: where the gradient of one output pixel reaches."""
    out = model(x)
    seed = np.zeros_like(out)
    seed[0, :, row, col] = 1.0
    return np.abs(model.backward(seed))[0].sum(axis=0)


def receptive_field_figure(save):
    st.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((1, 1, 23, 23))
    stacks = [("conv 3x3", [nn.Conv2d(1, 4, 3, padding=1)]),
              ("2 x conv 3x3", [nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)]),
              ("3 x conv 3x3", [nn.Conv2d(1, 4, 3, padding=1)] + [nn.Conv2d(4, 4, 3, padding=1) for _ in range(2)]),
              ("conv, pool 2, conv", [nn.Conv2d(1, 4, 3, padding=1), nn.AvgPool2d(2), nn.Conv2d(4, 4, 3, padding=1)]),
              ("conv 3x3 dilation 2, x2", [nn.Conv2d(1, 4, 3, padding=2, dilation=2),
                                          nn.Conv2d(4, 4, 3, padding=2, dilation=2)])]
    fig, axes = plt.subplots(1, len(stacks), figsize=(12, 2.9))
    for ax, (title, layers) in zip(axes, stacks, strict=True):
        model = nn.Sequential(*layers).double()
        side = model(x).shape[-1]
        support = gradient_support(model, x, side // 2, side // 2)
        rows, cols = np.nonzero(support)
        ax.imshow(support > 0, cmap="Oranges", vmin=0, vmax=1.4)
        ax.set_title(f"{title}\n{rows.max() - rows.min() + 1}x{cols.max() - cols.min() + 1} input pixels", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Receptive field of the centre output pixel: the input pixels its gradient reaches "
                 "(strided's backward)", fontsize=10)
    save(fig, "receptive_field.png")


def plain_net(depth, init, channels=16):
    layers = []
    for _ in range(depth):
        conv = nn.Conv2d(channels, channels, 3, padding=1)
        init(conv.weight)
        nn.init.zeros_(conv.bias)
        layers += [conv, nn.ReLU()]
    return nn.Sequential(*layers).double()


def residual_net(blocks, init, channels=16):
    g = nn.Graph()
    previous = "x"
    for b in range(blocks):
        convs = [nn.Conv2d(channels, channels, 3, padding=1) for _ in range(2)]
        for conv in convs:
            init(conv.weight)
            nn.init.zeros_(conv.bias)
        g.add(f"conv{b}a", convs[0], previous).add(f"relu{b}a", nn.ReLU()).add(f"conv{b}b", convs[1])
        g.add(f"sum{b}", nn.Add(), [f"conv{b}b", previous]).add(f"relu{b}", nn.ReLU())
        previous = f"relu{b}"
    return g.double()


def norms_by_depth(model, x, conv_outputs):
    """|dL/d x_l| at the input of every convolution (and the output), L = mean of the output."""
    seen = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            backward = module.backward

            def recording(grad, backward=backward, name=name):
                g = backward(grad)
                seen[name] = np.linalg.norm(g)
                return g

            object.__setattr__(module, "backward", recording)
    out = model(x)
    model.backward(np.ones_like(out) / out.size)
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            del module.backward
    return [seen[n] for n in conv_outputs] + [np.linalg.norm(np.ones_like(out) / out.size)]


XAVIER = ("Xavier (Glorot) normal", lambda w: nn.init.xavier_normal_(w))
HE = ("He (Kaiming) normal, fan_in", lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"))


def initialisation_curves(x):
    curves = {}
    for label, init in (XAVIER, HE):
        st.manual_seed(0)
        model = plain_net(20, init)
        names = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
        curves[label] = norms_by_depth(model, x, names)
    return curves


def initialisation_figure(save):
    x = np.random.default_rng(0).standard_normal((4, 16, 12, 12))
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for (label, norms), colour in zip(initialisation_curves(x).items(), ["#c0392b", "#2e86de"], strict=True):
        ax.semilogy(range(21), norms, "o-", color=colour,
                    label=f"{label}: input/output ratio {norms[0] / norms[-1]:.2g}")
    ax.set_xticks(range(0, 21, 2))
    ax.set_xlabel("depth (convolutions from the input)")
    ax.set_ylabel("|dL/d activation|")
    ax.set_title("20 plain 3x3 convolutions + ReLU, 16 channels: gradient reaching each depth", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    save(fig, "initialisation.png")


def gradient_flow_figure(save):
    """architectures.md: plain Xavier, plain He and residual He, the same 20 convolutions."""
    x = np.random.default_rng(0).standard_normal((4, 16, 12, 12))
    curves = initialisation_curves(x)
    st.manual_seed(0)
    model = residual_net(10, HE[1])
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    residual = norms_by_depth(model, x, names)
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for (label, norms), colour in zip(curves.items(), ["#c0392b", "#e0702f"], strict=True):
        ax.semilogy(range(21), norms, "o-", color=colour, label=f"plain, {label.split(' (')[0]}: ratio "
                    f"{norms[0] / norms[-1]:.2g}")
    ax.semilogy(range(21), residual, "s-", color="#2e86de", label=f"residual (10 blocks), He: ratio "
                f"{residual[0] / residual[-1]:.2g}")
    ax.set_xticks(range(0, 21, 2))
    ax.set_xlabel("depth (convolutions from the input)")
    ax.set_ylabel("|dL/d activation|")
    ax.set_title("Gradient reaching each depth: the decay is mostly the initialisation", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    save(fig, "gradient_flow.png")


def stride_backward_figure(save, grid):
    """dL/dx of a stride-2 convolution as a stride-1 convolution of the zero-inserted, padded gradient."""
    st.manual_seed(0)
    conv = nn.Conv2d(1, 1, 3, stride=2, padding=1, bias=False).double()
    conv.weight.data = np.array([[[[1.0, 2.0, 0.0], [0.0, 1.0, -1.0], [1.0, 0.0, 1.0]]]])
    x = np.zeros((1, 1, 5, 5))
    conv(x)
    g = np.array([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]])
    dx = conv.backward(g)[0, 0]
    inserted = np.zeros((5, 5))
    inserted[::2, ::2] = g[0, 0]  # S - 1 = 1 zero between neighbours
    padded = np.pad(inserted, 1)  # K - 1 - P = 1 on each side
    flipped = conv.weight.data[0, 0, ::-1, ::-1]
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.2), gridspec_kw={"width_ratios": [3, 7, 3, 5]})
    grid(axes[0], g[0, 0], "dL/dy (3x3, stride 2)")
    grid(axes[1], padded, "zeros inserted (S-1 = 1), padded K-1-P = 1", shade=padded != 0)
    grid(axes[2], flipped, "filter turned 180°")
    grid(axes[3], dx, "dL/dx (5x5) = their\nstride-1 cross-correlation")
    save(fig, "stride_backward.png")


def augmentation_figure(path):
    """One digit of the bundled sample through each transform (strided.data.transforms), drawn by st.viz."""
    from strided.data import MNISTSample
    from strided.data import transforms as T

    digit = MNISTSample(train=True)[7][0]
    rng = np.random.default_rng(3)
    gallery = [("original", None), ("RandomCrop(28, padding=4)", T.RandomCrop(28, padding=4)),
               ("RandomRotation(20)", T.RandomRotation(20)),
               ("RandomAffine(0, translate=(.1, .1), scale=(.8, 1.1))",
                T.RandomAffine(0, translate=(0.1, 0.1), scale=(0.8, 1.1))),
               ("RandomHorizontalFlip(p=1)", T.RandomHorizontalFlip(p=1.0)),
               ("ColorJitter(brightness=.6, contrast=.6)", T.ColorJitter(brightness=0.6, contrast=0.6)),
               ("RandomErasing(p=1)", T.RandomErasing(p=1.0))]
    images = [digit if t is None else t(digit, rng) for _, t in gallery]
    titles = [name.replace("(", "\n(", 1) if len(name) > 22 else name for name, _ in gallery]
    st.viz.plot_images(images, titles, path, columns=4,
                       title="One training digit through each augmentation (a new draw every epoch)")
    print("wrote", path)
