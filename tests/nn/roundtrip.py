"""A model file round trip for the layer tests: st.save, st.load, the same outputs."""

import numpy as np

import strided as st


def assert_round_trip(model, x, tmp_path, name="layer"):
    """Save ``model`` (spec + weights), load it back, and compare eval-mode outputs bit for bit."""
    model.eval()
    expected = model(x)
    path = tmp_path / f"{name}.safetensors"
    st.save(model, path)
    loaded = st.load(path)
    assert type(loaded) is type(model)
    assert list(loaded.state_dict()) == list(model.state_dict())
    np.testing.assert_array_equal(loaded(x), expected)
    return loaded
