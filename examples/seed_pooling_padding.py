"""The course document's pooling and padding example, unchanged except that its class definitions
are replaced by ``from strided.seed import *`` (which also defines the ``max_pooling`` it calls).

Run: python examples/seed_pooling_padding.py
"""
# ruff: noqa: F403, F405  (the point of these scripts is the star import the document is run with)

import numpy as np

from strided.seed import *

# Example usage
pooling_demo = AdvancedPooling()
padding_demo = PaddingOperations()

# Test pooling operations
input_data = np.random.randn(1, 1, 8, 8)
print(f"Input shape: {input_data.shape}")

# Test different pooling operations
max_pooled = pooling_demo.max_pooling(input_data, pool_size=2, stride=2)
avg_pooled = pooling_demo.average_pooling(input_data, pool_size=2, stride=2)
global_avg_pooled = pooling_demo.global_average_pooling(input_data)
adaptive_pooled = pooling_demo.adaptive_pooling(input_data, output_size=(3, 3))

print(f"Max pooled shape: {max_pooled.shape}")
print(f"Average pooled shape: {avg_pooled.shape}")
print(f"Global average pooled shape: {global_avg_pooled.shape}")
print(f"Adaptive pooled shape: {adaptive_pooled.shape}")

# Test padding operations
zero_padded = padding_demo.zero_padding(input_data, padding=2)
reflect_padded = padding_demo.reflect_padding(input_data, padding=2)
replicate_padded = padding_demo.replicate_padding(input_data, padding=2)

print(f"Zero padded shape: {zero_padded.shape}")
print(f"Reflect padded shape: {reflect_padded.shape}")
print(f"Replicate padded shape: {replicate_padded.shape}")
