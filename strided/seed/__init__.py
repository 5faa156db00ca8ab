"""The course document's API, working and exact: ``from strided.seed import *``.

The course (docs/README.md tells its story) teaches CNNs with a handful of classes. Their names,
constructors and methods are kept here, as thin wrappers over strided's layers, so that the
document's examples run unchanged once its class definitions are replaced by this import:

* layers: ConvolutionalLayer, MaxPoolingLayer, GlobalAveragePooling, DenseLayer, TransitionLayer
* blocks: ResidualBlock, DenseBlock (the document's form: ReLU convolutions, no batch norm)
* networks: CNN (forward, backward, train_step, fit, predict) and AdvancedCNN ('resnet', 'densenet'),
  with CrossEntropy, the loss ``fit`` uses when given none
* operations: AdvancedPooling, PaddingOperations

As in the document, a layer's ``backward(grad_output, learning_rate=0.01)`` returns the input
gradient and then updates the layer's weights by plain SGD; unlike the document's sketch, every
gradient is right (activation derivatives, the residual's final ReLU, the dense block's split), and
there is no Python loop over images, channels or pixels. ``backward(g, learning_rate=0)`` computes
the gradients (left in each ``Parameter.grad``) without changing any weight.
"""

from .blocks import *  # noqa: F403
from .blocks import __all__ as _blocks
from .layers import *  # noqa: F403
from .layers import __all__ as _layers
from .network import *  # noqa: F403
from .network import __all__ as _network
from .operations import *  # noqa: F403
from .operations import __all__ as _operations

__all__ = sorted(_layers + _blocks + _network + _operations)
