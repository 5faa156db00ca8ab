"""A small trained-looking model file for the service tests (no training needed: random weights)."""

import io

import numpy as np
import pytest

import strided as st

READ_TIMEOUT = 1.5  # seconds, for the hardened server: short, so the stall tests are quick
CLASSES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def make_model_file(path, in_channels=1, size=28, classes=CLASSES):
    st.manual_seed(0)
    model = st.models.build_model("seed_cnn", num_classes=len(classes), in_channels=in_channels)
    mode = "L" if in_channels == 1 else "RGB"
    st.save(model, path, name="digits", class_names=list(classes), input_shape=[in_channels, size, size],
            preprocessing={"mode": mode, "size": [size, size], "mean": [0.5] * in_channels,
                           "std": [0.25] * in_channels},
            metrics={"val_accuracy": 0.5})
    return path


def png_bytes(array: np.ndarray, fmt: str = "PNG") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def model_path(tmp_path_factory):
    return make_model_file(tmp_path_factory.mktemp("model") / "digits.safetensors")


@pytest.fixture(scope="session")
def hardened_server(model_path):
    """One real `strided serve` for the edge and fuzz tests: a 1 MiB body limit, a short read timeout."""
    from strided.serve.loadtest import LiveServer

    running = LiveServer(model_path, "--max-body-mb", "1", "--read-timeout", str(READ_TIMEOUT))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def digit_png():
    image = np.zeros((28, 28), np.uint8)
    image[6:22, 12:16] = 255  # a vertical bar, like a "1"
    return png_bytes(image)


def metric_value(text: str, name: str) -> float:
    """The value of an unlabelled sample in Prometheus text (not its # HELP or # TYPE lines)."""
    import re

    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in the metrics"
    return float(match.group(1))
