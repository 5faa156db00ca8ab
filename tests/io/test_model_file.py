"""Model files: save, load, identical outputs, metadata, and refusal of anything that does not fit."""

import json

import numpy as np
import pytest

import strided as st
from strided.io import ModelFileError


def small_net():
    return st.nn.Sequential(
        st.nn.Conv2d(1, 4, 3, padding=1, padding_mode="reflect"),
        st.nn.BatchNorm2d(4),
        st.nn.ReLU(),
        st.nn.MaxPool2d(2),
        st.nn.Flatten(),
        st.nn.Linear(4 * 4 * 4, 3),
    )


@pytest.fixture
def trained(tmp_path):
    st.manual_seed(0)
    model = small_net()
    x = st.get_generator().standard_normal((5, 1, 8, 8)).astype(np.float32)
    model(x)  # one training forward moves the batch norm's running statistics off their defaults
    path = tmp_path / "model.safetensors"
    st.save(model, path, class_names=["a", "b", "c"], input_shape=[1, 8, 8],
            preprocessing={"mean": [0.5], "std": [0.25]})
    return model.eval(), x, path


def test_load_rebuilds_the_model_with_identical_outputs(trained):
    model, x, path = trained
    loaded = st.load(path)
    assert not loaded.training
    np.testing.assert_array_equal(loaded(x), model(x))
    assert list(loaded.state_dict()) == list(model.state_dict())
    assert loaded.metadata["class_names"] == ["a", "b", "c"]
    assert loaded.metadata["preprocessing"] == {"mean": [0.5], "std": [0.25]}


def test_builder_models_round_trip(tmp_path):
    model = st.models.build_model("seed_cnn", num_classes=4)
    st.save(model, tmp_path / "m.safetensors")
    assert st.io.read_metadata(tmp_path / "m.safetensors")["spec"]["builder"] == "seed_cnn"
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    np.testing.assert_array_equal(st.load(tmp_path / "m.safetensors")(x), model.eval()(x))


def test_float64_models_stay_float64(tmp_path):
    model = small_net().double()
    st.save(model, tmp_path / "m.safetensors")
    assert all(p.dtype == np.float64 for p in st.load(tmp_path / "m.safetensors").parameters())


def test_truncated_file_is_refused(trained, tmp_path):
    _, _, path = trained
    data = path.read_bytes()
    bad = tmp_path / "truncated.safetensors"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated.safetensors: not a readable safetensors file"):
        st.load(bad)


def test_file_from_something_else_is_refused(tmp_path):
    other = tmp_path / "photo.safetensors"
    other.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ModelFileError, match="photo.safetensors: not a readable"):
        st.load(other)
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(3, np.float32)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(ModelFileError, match="not a strided model file"):
        st.load(tmp_path / "plain.safetensors")


def test_altered_weights_are_refused(trained, tmp_path):
    model, _, path = trained
    from safetensors.numpy import save_file

    header = st.io.read_metadata(path)
    tensors = {k: np.require(v, requirements="C") for k, v in model.state_dict().items()}
    tensors["5.weight"] = np.zeros((3, 7), np.float32)  # wrong shape for the architecture
    metadata = {"format": "strided-model", "strided.version": header["version"],
                "strided.spec": json.dumps(header["spec"]), "strided.meta": json.dumps(header["meta"])}
    save_file(tensors, str(tmp_path / "altered.safetensors"), metadata=metadata)
    with pytest.raises(ModelFileError, match="'5.weight' expects shape \\(3, 64\\), got \\(3, 7\\)"):
        st.load(tmp_path / "altered.safetensors")


def test_missing_file_and_custom_modules_are_clear_errors(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        st.load(tmp_path / "absent.safetensors")

    class Mine(st.nn.Module):
        pass

    with pytest.raises(st.io.SpecError, match="cannot describe .*Mine"):
        st.save(Mine(), tmp_path / "mine.safetensors")
    assert not (tmp_path / "mine.safetensors").exists()


def test_unknown_metadata_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown metadata \\['colour'\\]"):
        st.save(small_net(), tmp_path / "m.safetensors", colour="red")
