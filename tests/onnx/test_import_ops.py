"""st.onnx.load, operator by operator: small graphs written with onnx.helper (the forms Keras/TensorFlow and
PyTorch exporters emit), each compared with onnxruntime; the refusals; external data; the imported layers'
backward against PyTorch."""

import numpy as np
import pytest

import strided as st
from strided.onnx import layers
from tests.helpers import check_numerical_gradients, check_torch_parity, rel_error
from tests.onnx.conftest import onnx, run_onnxruntime

helper, numpy_helper, TensorProto = onnx.helper, onnx.numpy_helper, onnx.TensorProto
FLOAT = TensorProto.FLOAT


def make_model(nodes, input_shape, output_shape, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "test", [helper.make_tensor_value_info("x", FLOAT, ["N", *input_shape])],
                              [helper.make_tensor_value_info("y", FLOAT, None)],
                              initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in initializers])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def import_and_compare(model, tmp_path, batch=3, input_shape=None):
    path = tmp_path / "g.onnx"
    onnx.save(model, str(path))
    ours = st.onnx.load(path)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
    x = np.random.default_rng(0).standard_normal((batch, *dims)).astype(np.float32)
    expected = run_onnxruntime(path, x)[0]
    with st.no_grad():
        assert rel_error(ours(x), expected) <= 1e-5
    # and out again: the layers the import built (Clip, Mul, Reshape, ...) export too
    st.onnx.export(ours, tmp_path / "again.onnx", input_shape=dims)
    assert rel_error(run_onnxruntime(tmp_path / "again.onnx", x)[0], expected) <= 1e-5
    return ours


def randn(*shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_conv_with_auto_pad_and_asymmetric_pads(tmp_path, auto_pad):
    conv = helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[2, 3], strides=[2, 1], auto_pad=auto_pad)
    pool = helper.make_node("MaxPool", ["c"], ["p"], kernel_shape=[3, 2], pads=[0, 1, 2, 0])
    avg = helper.make_node("AveragePool", ["p"], ["y"], kernel_shape=[2, 2], pads=[1, 0, 0, 1], count_include_pad=1)
    import_and_compare(make_model([conv, pool, avg], (3, 9, 8), None, [("w", randn(4, 3, 2, 3)), ("b", randn(4))]),
                       tmp_path)


def test_keras_style_dense_layers_normalisation_and_global_mean(tmp_path):
    """(x - mean) / std, Transpose to NHWC and back, ReduceMean over H, W, MatMul + Add (a dense layer)."""
    nodes = [helper.make_node("Sub", ["x", "mean"], ["s"]), helper.make_node("Div", ["s", "std"], ["n"]),
             helper.make_node("Transpose", ["n"], ["t"], perm=[0, 2, 3, 1]),
             helper.make_node("Transpose", ["t"], ["u"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["u", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("HardSigmoid", ["c"], ["h"], alpha=0.25, beta=0.4),
             helper.make_node("ReduceMean", ["h"], ["r"], axes=[2, 3], keepdims=0),
             helper.make_node("MatMul", ["r", "k"], ["m"]), helper.make_node("Add", ["m", "bias"], ["a"]),
             helper.make_node("Softmax", ["a"], ["y"], axis=-1)]
    ours = import_and_compare(make_model(nodes, (3, 6, 6), None, [
        ("mean", randn(1, 3, 1, 1)), ("std", np.float32([[[[0.5]], [[2.0]], [[1.5]]]])), ("w", randn(5, 3, 3, 3)),
        ("k", randn(5, 4)), ("bias", randn(4))], opset=17), tmp_path)
    linear = [m for _, m, _ in ours.nodes if isinstance(m, st.nn.Linear)]
    assert len(linear) == 1 and linear[0].bias is not None  # MatMul + Add became one Linear


def test_squeeze_excitation_gate_mul_clip_hardswish_and_padding(tmp_path):
    """A MobileNet-V3 style block: x * HardSigmoid(fc(pool(x))), HardSwish, ReLU6 as Clip, Pad modes, Sum."""
    nodes = [helper.make_node("Pad", ["x", "pads"], ["p"], mode="reflect"),
             helper.make_node("Pad", ["p", "pads2", "value"], ["q"], mode="constant"),
             helper.make_node("Pad", ["q", "pads"], ["e"], mode="edge"),
             helper.make_node("GlobalAveragePool", ["e"], ["g"]),
             helper.make_node("Conv", ["g", "w1"], ["f"], kernel_shape=[1, 1]),
             helper.make_node("HardSigmoid", ["f"], ["s"], alpha=1 / 6, beta=0.5),
             helper.make_node("Mul", ["e", "s"], ["m"]),
             helper.make_node("HardSwish", ["m"], ["hs"]),
             helper.make_node("Clip", ["hs", "zero", "six"], ["c"]),
             helper.make_node("Mul", ["c", "scale"], ["sc"]),
             helper.make_node("Sum", ["sc", "c", "m"], ["sum"]),
             helper.make_node("LeakyRelu", ["sum"], ["l"], alpha=0.3),
             helper.make_node("Elu", ["l"], ["el"], alpha=0.5),
             helper.make_node("Flatten", ["el"], ["fl"], axis=1),
             helper.make_node("Gemm", ["fl", "gw", "gb"], ["gm"], transB=0, alpha=0.5, beta=2.0),
             helper.make_node("Sigmoid", ["gm"], ["sg"]),
             helper.make_node("Tanh", ["sg"], ["y"])]
    import_and_compare(make_model(nodes, (4, 5, 5), None, [
        ("pads", np.int64([0, 0, 1, 2, 0, 0, 2, 1])), ("pads2", np.int64([0, 0, 1, 0, 0, 0, 0, 1])),
        ("value", np.float32(0.75)), ("w1", randn(4, 4, 1, 1)), ("zero", np.float32(0)), ("six", np.float32(6)),
        ("scale", randn(1, 4, 1, 1)), ("gw", randn(4 * 12 * 12, 3)), ("gb", randn(3))], opset=14), tmp_path)


def test_gelu_log_softmax_dropout_identity_and_unsqueeze(tmp_path):
    nodes = [helper.make_node("Gelu", ["x"], ["g"], approximate="tanh"),
             helper.make_node("Dropout", ["g"], ["d"]), helper.make_node("Identity", ["d"], ["i"]),
             helper.make_node("GlobalMaxPool", ["i"], ["p"]),
             helper.make_node("Squeeze", ["p", "axes"], ["s"]), helper.make_node("Unsqueeze", ["s", "axes1"], ["u"]),
             helper.make_node("Concat", ["u", "u"], ["c"], axis=1),
             helper.make_node("Reshape", ["c", "shape"], ["r"]), helper.make_node("LogSoftmax", ["r"], ["y"], axis=1)]
    import_and_compare(make_model(nodes, (3, 4, 4), None, [("axes", np.int64([2, 3])), ("axes1", np.int64([2])),
                                                           ("shape", np.int64([0, -1]))], opset=20), tmp_path)


def test_unsupported_operators_and_forms_are_named_in_one_line(tmp_path):
    cases = [
        ([helper.make_node("Erf", ["x"], ["y"], name="erf_1")], r"unsupported ONNX operator Erf \(node 'erf_1'\)"),
        ([helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", kernel_shape=[2, 2])],
         r"node 'up' \(ConvTranspose\): only 2-D transposed convolutions import"),
        ([helper.make_node("Add", ["x", "x"], ["a"]), helper.make_node("MatMul", ["x", "a"], ["y"], name="mm")],
         r"node 'mm' \(MatMul\): imports only as X @ W"),
    ]
    for nodes, message in cases:
        onnx.save(make_model(nodes, (3, 4, 4), None, [("w", randn(3, 2, 2))]), str(tmp_path / "bad.onnx"))
        with pytest.raises(ValueError, match=message) as error:
            st.onnx.load(tmp_path / "bad.onnx")
        assert "\n" not in str(error.value) and "bad.onnx" in str(error.value)


def test_symbolic_sizes_need_input_shape(tmp_path):
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", FLOAT, ["N", 3, "H", "W"])],
                              [helper.make_tensor_value_info("y", FLOAT, None)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "s.onnx"))
    with pytest.raises(ValueError, match=r"symbolic shape \['N', 3, 'H', 'W'\]; give input_shape"):
        st.onnx.load(tmp_path / "s.onnx")
    model = st.onnx.load(tmp_path / "s.onnx", input_shape=(3, 8, 8))
    assert model.metadata["input_shape"] == [3, 8, 8]


def test_not_a_file_and_not_onnx(tmp_path):
    with pytest.raises(FileNotFoundError):
        st.onnx.load(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07junk that is not protobuf \xff\xff")
    with pytest.raises(ValueError, match=r"junk.onnx: not a readable ONNX file"):
        st.onnx.load(tmp_path / "junk.onnx")


def test_initializers_in_external_data_are_read(tmp_path):
    model = st.models.lenet5()
    st.onnx.export(model, tmp_path / "inline.onnx", input_shape=(1, 28, 28))
    proto = onnx.load(str(tmp_path / "inline.onnx"))
    onnx.save_model(proto, str(tmp_path / "external.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="external.weights", size_threshold=0)
    assert (tmp_path / "external.weights").stat().st_size > 4 * 60000
    x = randn(2, 1, 28, 28)
    with st.no_grad():
        for from_graph in (False, True):
            np.testing.assert_allclose(st.onnx.load(tmp_path / "external.onnx", from_graph=from_graph)(x),
                                       model.eval()(x), rtol=1e-6, atol=1e-6)


torch = pytest.importorskip("torch")
PARITY = [
    (layers.Clip(0.0, 6.0), lambda: torch.nn.ReLU6()),
    (layers.Clip(-0.5, None), lambda: torch.nn.Threshold(-0.5, -0.5)),
    (layers.HardSigmoid(1 / 6, 0.5), lambda: torch.nn.Hardsigmoid()),
    (layers.HardSwish(), lambda: torch.nn.Hardswish()),
    (layers.Reshape((0, -1, 5)), lambda: torch.nn.Unflatten(1, (-1, 5))),
    (layers.Transpose((0, 2, 3, 1)), None),
    (layers.Slice((1, -3), (4, 100), (2, 3), (2, 1)), None),
]


@pytest.mark.parametrize("layer, make_torch", PARITY, ids=lambda v: v.label() if hasattr(v, "label") else "")
def test_imported_layers_backward(layer, make_torch):
    x = 3 * randn(2, 3, 5, 6, seed=4)
    if make_torch is not None and not isinstance(layer, layers.Reshape):
        check_torch_parity(layer, make_torch(), x, copy_weights=False)
    check_numerical_gradients(layer, x.astype(np.float64) + 0.01)  # off the kinks of the piecewise ones


def test_broadcasting_mul_and_constant_layers_backward():
    gate = layers.Mul()
    a, b = randn(2, 3, 4, 4), randn(2, 3, 1, 1, seed=2)
    y = gate(a, b)
    g = randn(*y.shape, seed=3)
    da, db = gate.backward(g)
    np.testing.assert_allclose(da, g * b, rtol=1e-6)
    np.testing.assert_allclose(db, (g * a).sum(axis=(2, 3), keepdims=True), rtol=1e-5)
    for layer_class in (layers.AddConstant, layers.MulConstant):
        layer = layer_class((1, 3, 1, 1))
        layer.value = randn(1, 3, 1, 1, seed=5).astype(np.float64)
        check_numerical_gradients(layer, randn(2, 3, 4, 4).astype(np.float64))
