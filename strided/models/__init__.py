"""Model builders: plain functions returning Modules (see registry.py for how they are listed).

``seed_cnn`` and ``lenet5`` (simple.py), ``resnet`` / ``resnet_cifar`` (resnet.py) and
``densenet`` / ``densenet121`` / ``densenet_cifar`` (densenet.py), ``mobilenet_v2`` (mobilenet.py) and
``vgg`` / ``vgg11`` / ``vgg11_bn`` ... (vgg.py); each takes ``num_classes`` and ``in_channels`` and works on any
image of at least its ``min_input_size``. ``feature_extractor`` (feature_extraction.py) returns a model's
intermediate outputs by name; ``resnet_fpn_backbone`` (fpn_backbone.py) puts a feature pyramid on a ResNet.
"""

from .densenet import DenseNet, densenet, densenet121, densenet_cifar
from .feature_extraction import FeatureExtractor, create_feature_extractor, feature_extractor, get_graph_node_names
from .fpn_backbone import BackboneWithFPN, resnet_fpn_backbone
from .mobilenet import MobileNetV2, mobilenet_v2
from .network import Network
from .registry import MODEL_BUILDERS, build_model, register_model
from .resnet import (
    ResNet,
    resnet,
    resnet18,
    resnet34,
    resnet50,
    resnet_cifar,
    resnet_cifar20,
    resnet_cifar32,
    resnet_cifar44,
    resnet_cifar56,
)
from .simple import lenet5, seed_cnn
from .vgg import VGG, vgg, vgg11, vgg11_bn, vgg13, vgg16, vgg19

__all__ = [
    "MODEL_BUILDERS", "DenseNet", "Network", "ResNet", "build_model", "densenet", "densenet121", "densenet_cifar",
    "lenet5", "register_model", "resnet", "resnet18", "resnet34", "resnet50", "resnet_cifar", "resnet_cifar20",
    "resnet_cifar32", "resnet_cifar44", "resnet_cifar56", "seed_cnn",
]
__all__ += ["FeatureExtractor", "create_feature_extractor", "feature_extractor", "get_graph_node_names"]
__all__ += ["BackboneWithFPN", "resnet_fpn_backbone"]
__all__ += ["MobileNetV2", "VGG", "mobilenet_v2", "vgg", "vgg11", "vgg11_bn", "vgg13", "vgg16", "vgg19"]
