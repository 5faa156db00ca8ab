"""A ResNet with a feature pyramid on top: the backbone of torchvision's detectors (``resnet_fpn_backbone``).

    backbone = st.models.resnet_fpn_backbone("resnet18", out_channels=64)
    pyramid = backbone(x)            # {"0": stride 4, "1": stride 8, "2": stride 16, "3": stride 32, "pool": 64}
    dx = backbone.backward({"2": grad})

``body`` is the ResNet's stages as a feature extractor (its parameters keep the ResNet's names:
``body.layer1.0.conv1.weight``) and ``fpn`` a FeaturePyramidNetwork over their outputs, as in torchvision's
BackboneWithFPN. Differences from torchvision: strided has no pretrained weights, so every layer trains by
default (``trainable_layers=None``: all; torchvision's default of 3 freezes the stem and layer1 of a pretrained
network), and batch norm is strided's ordinary BatchNorm2d (call ``.eval()`` for frozen statistics, which is
what torchvision's FrozenBatchNorm2d computes).
"""

from collections import OrderedDict

from ..nn import FeaturePyramidNetwork, LastLevelMaxPool
from ..nn.module import Module
from .feature_extraction import feature_extractor
from .registry import build_model, register_model

__all__ = ["BackboneWithFPN", "resnet_fpn_backbone"]


class BackboneWithFPN(Module):
    """y = fpn(body(x)): ``body`` returns the backbone maps ``return_layers`` names (node -> "0", "1", ...),
    ``fpn`` turns them into maps of ``out_channels``. Backward: fpn's, then body's (a dict of gradients by
    output name in, dL/dx out)."""

    def __init__(self, backbone: Module, return_layers: dict, in_channels_list, out_channels: int,
                 extra_blocks=None):
        super().__init__()
        self.body = feature_extractor(backbone, return_layers)
        self.fpn = FeaturePyramidNetwork(in_channels_list, out_channels, extra_blocks)
        self.out_channels = int(out_channels)

    def forward(self, x) -> OrderedDict:
        return self.fpn(self.body(x))

    def backward(self, grads):
        return self.body.backward({name: self.pass_gradient(g) for name, g in self.fpn.backward(grads).items()})

    def label(self):
        return f"BackboneWithFPN(-> {self.out_channels})"


@register_model
def resnet_fpn_backbone(backbone_name: str = "resnet18", trainable_layers: int | None = None, returned_layers=None,
                        extra_blocks=None, out_channels: int = 256, in_channels: int = 3) -> BackboneWithFPN:
    """torchvision's ``resnet_fpn_backbone`` over strided's ResNets (``resnet18``, ``resnet34``, ``resnet50``,
    and the CIFAR ones, ``resnet_cifar20`` ...): the stages ``returned_layers`` (default all: [1, 2, 3, 4], or
    [1, 2, 3] for a CIFAR ResNet) feed a FeaturePyramidNetwork of ``out_channels``, with ``extra_blocks``
    (default LastLevelMaxPool(): the "pool" level). The ``trainable_layers`` last stages (None: all, 5
    counting the stem; 4 for a CIFAR ResNet) keep requires_grad; the others are frozen (torchvision's rule).
    """
    backbone = build_model(backbone_name, in_channels=in_channels)
    stages = [name for name, _ in backbone.named_children() if name.startswith("layer")]
    order = [*reversed(stages), "conv1"]  # torchvision's: layer4, layer3, layer2, layer1, conv1
    trainable_layers = len(order) if trainable_layers is None else trainable_layers
    if not isinstance(trainable_layers, int) or not 0 <= trainable_layers <= len(order):
        raise ValueError(f"resnet_fpn_backbone: trainable_layers must be in [0, {len(order)}] for {backbone_name}, "
                         f"got {trainable_layers!r}")
    train = order[:trainable_layers] + (["bn1"] if trainable_layers == len(order) else [])
    for name, parameter in backbone.named_parameters():
        if not any(name.startswith(layer) for layer in train):
            parameter.requires_grad_(False)
    returned_layers = list(returned_layers or range(1, len(stages) + 1))
    if not returned_layers or not all(1 <= k <= len(stages) for k in returned_layers):
        raise ValueError(f"resnet_fpn_backbone: returned_layers must lie in [1, {len(stages)}] for "
                         f"{backbone_name}, got {returned_layers!r}")
    return_layers = {f"layer{k}": str(v) for v, k in enumerate(returned_layers)}
    in_channels_list = [getattr(backbone, f"layer{k}")[-1].out_channels for k in returned_layers]
    extra_blocks = LastLevelMaxPool() if extra_blocks is None else extra_blocks
    return BackboneWithFPN(backbone, return_layers, in_channels_list, out_channels, extra_blocks)
