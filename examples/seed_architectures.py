"""The course document's ResNet and DenseNet example, unchanged except that its class definitions are
replaced by ``from strided.seed import *``.

Run: python examples/seed_architectures.py           (the document's output: two shapes)
     python examples/seed_architectures.py --time    (then the time of each forward and backward)
"""
# ruff: noqa: F403, F405  (the point of these scripts is the star import the document is run with)

import sys
import time

import numpy as np

from strided.seed import *

# Example usage
# Test ResNet
resnet = AdvancedCNN(architecture='resnet', num_classes=10)
input_data = np.random.randn(1, 3, 224, 224)
output = resnet.forward(input_data)
print(f"ResNet output shape: {output.shape}")

# Test DenseNet
densenet = AdvancedCNN(architecture='densenet', num_classes=10)
output = densenet.forward(input_data)
print(f"DenseNet output shape: {output.shape}")

# Beyond the document: how long each pass takes on this machine (float64, as np.random.randn gives).
for name, model in (("ResNet", resnet), ("DenseNet", densenet)) if "--time" in sys.argv else ():
    start = time.perf_counter()
    output = model.forward(input_data)
    middle = time.perf_counter()
    grad_input = model.backward(np.random.randn(*output.shape))
    end = time.perf_counter()
    print(f"{name}: forward {middle - start:.2f} s, backward {end - middle:.2f} s, "
          f"gradient input shape: {grad_input.shape}")
