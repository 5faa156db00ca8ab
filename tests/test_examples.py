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


def run_example(name: str, *args: str) -> list[str]:
    result = subprocess.run([sys.executable, str(ROOT / "examples" / name), *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, f"{name} failed:\n{result.stderr}"
    return result.stdout.splitlines()


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - {"seed_architectures.py"}))
def test_seed_example_prints_the_documents_shapes(name):
    assert run_example(name) == EXPECTED[name]


def test_the_architectures_example_prints_its_shapes_and_times_both_passes():
    """The document's two shapes; with --time, also a forward and a backward of each network on the
    224x224 input and how long they took (a timing, printed, never asserted: that is for benchmarks)."""
    lines = run_example("seed_architectures.py", "--time")
    timing = re.compile(r"^(ResNet|DenseNet): forward \d+\.\d\d s, backward \d+\.\d\d s, "
                        r"gradient input shape: \(1, 3, 224, 224\)$")
    assert lines[:2] == EXPECTED["seed_architectures.py"]
    assert len(lines) == 4 and all(timing.match(line) for line in lines[2:]), lines


def test_training_the_course_network_on_the_bundled_digits_learns():
    """examples/train_seed_cnn.py end to end, kept short: one epoch on 1,000 digits (about 8 s of CPU),
    scored on the 1,000 test digits it never saw. Chance is 10%; this run reaches about 60%
    (3 epochs on all 4,000 digits: 94%)."""
    lines = run_example("train_seed_cnn.py", "--epochs", "1", "--limit", "1000")
    assert lines[0] == "training on 1000 digits, testing on 1000"
    accuracy = float(re.search(r"test accuracy ([\d.]+)%", lines[-1]).group(1))
    assert accuracy > 40.0, lines
