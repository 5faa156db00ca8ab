"""The conv layers strided bench times one by one: which, and their direct-algorithm FLOPs."""

from strided.benchmark import layers
from strided.benchmark.cases import build_strided


def test_the_distinct_3x3_convs_of_seed_net_and_resnet_cifar_each_listed_once():
    found = layers.conv_layers(build_strided)
    assert [layer["names"] for layer in found] == [
        ["seed-net/0"], ["seed-net/3"], ["resnet-cifar/0"], ["resnet-cifar/3.conv1", "resnet-cifar/3.conv2"],
        ["resnet-cifar/4.conv1"], ["resnet-cifar/4.conv2"], ["resnet-cifar/5.conv1"], ["resnet-cifar/5.conv2"]]
    assert found[5]["shape"] == [32, 32, 16, 16] and found[4]["stride"] == 2  # the 1x1 shortcuts are left out


def test_flops_count_forward_and_both_gradients_of_the_direct_algorithm():
    layer = {"shape": [32, 32, 14, 14], "in_channels": 32, "out_channels": 64, "stride": 1, "padding": 1}
    assert layers.conv_flops(layer) == 3 * 2 * (32 * 64 * 14 * 14) * (32 * 3 * 3)
    strided_layer = {**layer, "shape": [32, 32, 16, 16], "stride": 2}  # 8x8 outputs
    assert layers.conv_flops(strided_layer) == 3 * 2 * (32 * 64 * 8 * 8) * (32 * 3 * 3)
