"""Layers, containers and losses: stateful modules over the pure kernels of strided.functional."""

from . import init as init  # re-exported: st.nn.init
from .activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .blocks import Bottleneck, DenseBlock, DenseLayer, ResidualBlock, Transition
from .capture import LayerOutput, capture_outputs
from .container import ModuleDict, ModuleList, Sequential
from .conv import Conv2d
from .conv_transpose import ConvTranspose2d
from .dropout import Dropout, Dropout2d
from .fpn import FeaturePyramidNetwork, LastLevelMaxPool
from .graph import Graph
from .hardtanh import Hardtanh, ReLU6
from .inverted_residual import InvertedResidual
from .layers1d import AdaptiveAvgPool1d, AdaptiveMaxPool1d, AvgPool1d, Conv1d, MaxPool1d
from .linear import Flatten, Identity, Linear
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .merge import Add, Concat
from .module import IncompatibleKeys, Module, Parameter
from .norm import BatchNorm1d, BatchNorm2d
from .normalization import GroupNorm, LayerNorm, LayerNorm2d
from .pad import CircularPad2d, ConstantPad2d, ReflectionPad2d, ReplicationPad2d, ZeroPad2d
from .pool import (
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool2d,
    FractionalMaxPool2d,
    GlobalAvgPool2d,
    GlobalMaxPool2d,
    MaxPool2d,
)
from .upsample import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = [
    "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Add", "AvgPool2d", "BCEWithLogitsLoss", "BatchNorm1d",
    "BatchNorm2d", "Bottleneck", "CircularPad2d", "Concat", "ConstantPad2d", "Conv2d", "CrossEntropyLoss",
    "DenseBlock", "DenseLayer", "Dropout", "Dropout2d", "ELU", "Flatten", "FractionalMaxPool2d", "GELU",
    "GlobalAvgPool2d", "GlobalMaxPool2d", "Graph", "Identity", "IncompatibleKeys", "LayerOutput", "LeakyReLU",
    "Linear", "LogSoftmax", "MSELoss", "MaxPool2d", "Module", "NLLLoss", "Parameter", "ReLU", "ReflectionPad2d",
    "ReplicationPad2d", "ResidualBlock", "Sequential", "Sigmoid", "Softmax", "Tanh", "Transition", "ZeroPad2d",
    "capture_outputs", "init",
]
__all__ += [  # issue 16's layers
    "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AvgPool1d", "Conv1d", "ConvTranspose2d", "GroupNorm", "LayerNorm",
    "LayerNorm2d", "MaxPool1d", "ModuleDict", "ModuleList", "Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d",
]
__all__ += ["FeaturePyramidNetwork", "Hardtanh", "InvertedResidual", "LastLevelMaxPool", "ReLU6"]

# Scale-out (issue 14); last, because strided.distributed builds on the layers above.
from . import parallel as parallel  # noqa: E402  st.nn.parallel.DistributedDataParallel, as in PyTorch
from .sync_batchnorm import SyncBatchNorm  # noqa: E402

__all__ += ["SyncBatchNorm", "parallel"]
