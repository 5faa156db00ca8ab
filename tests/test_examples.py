"""The course document's three examples, run as scripts with ``from strided.seed import *`` in place of
its class definitions, print the shapes the document's code implies."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

EXPECTED = {
    "seed_basic_cnn.py": [
        "Input shape: (32, 1, 28, 28)",
        "Output shape: (32, 64, 7, 7)",
        "Gradient input shape: (32, 1, 28, 28)",
    ],
    "seed_pooling_padding.py": [
        "Input shape: (1, 1, 8, 8)",
        "Max pooled shape: (1, 1, 4, 4)",
        "Average pooled shape: (1, 1, 4, 4)",
        "Global average pooled shape: (1, 1, 1, 1)",
        "Adaptive pooled shape: (1, 1, 3, 3)",
        "Zero padded shape: (1, 1, 12, 12)",
        "Reflect padded shape: (1, 1, 12, 12)",
        "Replicate padded shape: (1, 1, 12, 12)",
    ],
    "seed_architectures.py": [
        "ResNet output shape: (1, 10)",
        "DenseNet output shape: (1, 10)",
    ],
}


def run_example(name: str) -> list[str]:
    result = subprocess.run([sys.executable, str(ROOT / "examples" / name)], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, f"{name} failed:\n{result.stderr}"
    return result.stdout.splitlines()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_seed_example_prints_the_documents_shapes(name):
    lines = run_example(name)
    assert lines[:len(EXPECTED[name])] == EXPECTED[name]
    if name == "seed_architectures.py":  # then one timing line per network, ending with the input gradient
        timing = re.compile(r"^(ResNet|DenseNet): forward \d+\.\d\d s, backward \d+\.\d\d s, "
                            r"gradient input shape: \(1, 3, 224, 224\)$")
        assert len(lines) == 4 and all(timing.match(line) for line in lines[2:]), lines
