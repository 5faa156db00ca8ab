"""Model files that claim more than they hold, that no builder can build, or that load and then break:
each is refused at load, with a ModelFileError of one line, before anything large is allocated."""

import json
import subprocess
import sys
import threading

import numpy as np
import pytest

import strided as st
from strided.io import ModelFileError
from strided.io.spec import module_from_spec
from strided.predictor import Predictor

safetensors_numpy = pytest.importorskip("safetensors.numpy")


def forged(path, spec, tensors, meta=None):
    """A file with any spec, tensors and meta, as an attacker (or a bug elsewhere) could write it."""
    header = {"format": "strided-model", "strided.version": st.__version__, "strided.spec": json.dumps(spec),
              "strided.meta": json.dumps({"input_shape": [1, 1, 4]} if meta is None else meta)}
    path.write_bytes(safetensors_numpy.save(tensors, metadata=header))
    return path


def linear_tensors(n_in=4, n_out=3, dtype=np.float32):
    rng = np.random.default_rng(0)
    return {"weight": rng.standard_normal((n_out, n_in)).astype(dtype), "bias": np.zeros(n_out, dtype)}


LINEAR = {"class": "Linear", "args": [4, 3], "kwargs": {}}


def test_a_huge_spec_over_small_tensors_is_refused_before_allocating(tmp_path):
    path = forged(tmp_path / "big.safetensors", {"class": "Linear", "args": [8000, 8000], "kwargs": {}},
                  linear_tensors(220, 220))
    # In a fresh process, so that its peak resident memory is this load's alone.
    code = ("import resource, sys, time\nimport strided as st\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\nstarted = time.perf_counter()\n"
            "try:\n    st.load(sys.argv[1])\nexcept st.io.ModelFileError as error:\n    print(error)\n"
            "print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    message, figures = result.stdout.strip().splitlines()
    seconds, grown_kib = map(float, figures.split())
    assert "'weight' expects shape (8000, 8000), got (220, 220)" in message
    # Before: 977 MiB and 1.5-4.7 s of float64 draws; the 256 MB of zeros are now mapped, never touched.
    assert seconds < 1.0 and grown_kib < 32 * 1024, (seconds, grown_kib)


@pytest.mark.parametrize("spec, message", [
    ({"class": "Linear", "args": [4, 3], "kwargs": {"colour": "red"}}, "unexpected keyword"),
    ({"class": "Conv2d", "args": [1, 10**9, 3], "kwargs": {}}, "does not fit in memory|missing tensors"),
    ({"class": "Module", "args": [], "kwargs": {}}, "bare Module"),
    ({"builder": "seed_cnn", "kwargs": {"num_classes": 10, "nonsense": 1}}, "cannot build"),
    ({"builder": "seed_cnn", "kwargs": [1, 2]}, "must be an object"),
    ({"class": "Linear", "args": {"a": 1}, "kwargs": {}}, "args as a list"),
])
def test_specs_no_builder_can_build_are_model_file_errors(tmp_path, spec, message):
    path = forged(tmp_path / "bad.safetensors", spec, linear_tensors())
    with pytest.raises(ModelFileError, match=message) as caught:
        st.load(path)
    assert "\n" not in str(caught.value)


def test_a_deeply_nested_spec_is_refused(tmp_path):
    spec = LINEAR
    for _ in range(200):  # 600 JSON levels: json itself can still write and read them
        spec = {"class": "Sequential", "args": [{"__module__": spec}], "kwargs": {}}
    with pytest.raises(ModelFileError, match="nests more than"):
        st.load(forged(tmp_path / "deep.safetensors", spec, linear_tensors()))


@pytest.mark.parametrize("meta, message", [
    ([1, 2], "meta must be JSON objects"),
    ({"class_names": "abc"}, "class_names must be"),
    ({"input_shape": [1, -4]}, "input_shape must be"),
])
def test_damaged_meta_is_refused(tmp_path, meta, message):
    with pytest.raises(ModelFileError, match=message):
        st.load(forged(tmp_path / "meta.safetensors", LINEAR, linear_tensors(), meta))


def test_tensors_that_would_break_every_prediction_are_refused(tmp_path):
    nan = linear_tensors()
    nan["weight"][1, 2] = np.nan
    with pytest.raises(ModelFileError, match="'weight' holds NaN or infinite"):
        st.load(forged(tmp_path / "nan.safetensors", LINEAR, nan))
    ints = {k: v.astype(np.int32) for k, v in linear_tensors().items()}
    with pytest.raises(ModelFileError, match="stored as I32, the architecture expects a floating-point"):
        st.load(forged(tmp_path / "int.safetensors", LINEAR, ints))


def test_class_names_must_match_the_outputs(tmp_path):
    path = tmp_path / "names.safetensors"
    st.save(st.nn.Sequential(st.nn.Flatten(), st.nn.Linear(4, 3)), path, input_shape=[1, 1, 4], class_names=["a", "b"])
    st.load(path)  # the file itself reads; what it cannot do is serve
    with pytest.raises(ModelFileError, match="2 class names for 3 outputs"):
        Predictor(path)
    empty = forged(tmp_path / "empty.safetensors", {"class": "Sequential", "args": [], "kwargs": {}}, {})
    with pytest.raises(ModelFileError, match="no parameters"):
        Predictor(empty)


def test_skipping_initialisation_is_for_the_loading_thread_only(tmp_path):
    built = {}
    with st.nn.init.skip_init():
        skipped = module_from_spec(LINEAR)
        worker = threading.Thread(target=lambda: built.update(layer=st.nn.Linear(4, 3)))
        worker.start()
        worker.join()
    assert not skipped.weight.data.any()
    assert built["layer"].weight.data.any()  # another thread's layer was initialised as usual
    assert st.nn.Linear(4, 3).weight.data.any()  # and so is this thread's, afterwards
