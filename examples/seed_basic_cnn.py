"""The course document's first example (a conv/pool network, forward and backward), unchanged except
that its class definitions are replaced by ``from strided.seed import *``.

Run: python examples/seed_basic_cnn.py
"""
# ruff: noqa: F403, F405  (the point of these scripts is the star import the document is run with)

import numpy as np

from strided.seed import *

# Example usage
# Create sample image data (batch_size, channels, height, width)
batch_size = 32
channels = 1
height = 28
width = 28

# Generate random image data
X = np.random.randn(batch_size, channels, height, width)
y = np.random.randint(0, 10, batch_size)  # 10 classes

# Create CNN layers
conv1 = ConvolutionalLayer(num_filters=32, filter_size=3, stride=1, padding=1, activation='relu')
pool1 = MaxPoolingLayer(pool_size=2, stride=2)
conv2 = ConvolutionalLayer(num_filters=64, filter_size=3, stride=1, padding=1, activation='relu')
pool2 = MaxPoolingLayer(pool_size=2, stride=2)

# Create CNN
cnn = CNN([conv1, pool1, conv2, pool2], learning_rate=0.01)

# Test forward pass
output = cnn.forward(X)
print(f"Input shape: {X.shape}")
print(f"Output shape: {output.shape}")

# Test backward pass
grad_output = np.random.randn(*output.shape)
grad_input = cnn.backward(grad_output)
print(f"Gradient input shape: {grad_input.shape}")
