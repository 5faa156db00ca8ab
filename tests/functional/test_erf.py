"""erf and erfc (Cody's rational approximations) against Python's math.erf / math.erfc."""

import math

import numpy as np
import pytest

from strided.functional.erf import erf, erfc

RNG = np.random.default_rng(1234)
POINTS = np.concatenate([
    RNG.uniform(-1, 1, 20000),
    RNG.uniform(-6, 6, 20000),
    RNG.uniform(-30, 30, 5000),
    np.geomspace(1e-300, 1, 600),
    -np.geomspace(1e-300, 1, 600),
    # each side of the range boundaries 0.46875 and 4, and where erfc leaves the normal range (~26.5)
    np.concatenate([b + np.linspace(-1e-6, 1e-6, 21) for b in (0.46875, 4.0, -0.46875, -4.0)]),
    np.linspace(20, 26.5, 200), np.array([0.0, -0.0, 0.5, 1.0, 2.0, 5.0, 10.0]),
])


def _reference(function, x):
    return np.array([function(float(v)) for v in x])


def test_erf_matches_math_erf_to_1e_15_relative():
    ref = _reference(math.erf, POINTS)
    rel = np.abs(erf(POINTS) - ref) / np.maximum(np.abs(ref), np.finfo(np.float64).tiny)
    assert rel.max() <= 1e-15, f"worst relative error {rel.max():.2e} at x = {POINTS[rel.argmax()]!r}"


def test_erfc_matches_math_erfc_to_1e_15_relative_in_the_tails_too():
    ref = _reference(math.erfc, POINTS)
    normal = ref > 1e-300  # below that erfc is subnormal and carries fewer digits anyway
    rel = np.abs(erfc(POINTS) - ref)[normal] / ref[normal]
    assert rel.max() <= 1e-15, f"worst relative error {rel.max():.2e}"
    np.testing.assert_array_equal(erfc(np.array([30.0, 1e10, np.inf])), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(erfc(np.array([-30.0, -np.inf])), [2.0, 2.0])


def test_erf_is_odd_and_has_the_right_limits():
    x = RNG.uniform(0, 8, 1000)
    np.testing.assert_array_equal(erf(-x), -erf(x))
    out = erf(np.array([0.0, -0.0, np.inf, -np.inf, 40.0, -40.0]))
    np.testing.assert_array_equal(out, [0.0, -0.0, 1.0, -1.0, 1.0, -1.0])
    assert np.signbit(out[1])


def test_nan_propagates():
    assert np.isnan(erf(np.array([np.nan, 1.0]))[0])
    assert np.isnan(erfc(np.array([np.nan, 1.0]))[0])


@pytest.mark.parametrize("function, reference", [(erf, math.erf), (erfc, math.erfc)])
def test_float32_stays_float32_and_is_accurate_to_float32(function, reference):
    x = RNG.uniform(-5, 5, 5000).astype(np.float32)
    out = function(x)
    assert out.dtype == np.float32
    ref = _reference(reference, x)
    # float32 arithmetic: a few units of float32's last place, relative to the value (erfc's exp(-x^2)
    # magnifies the rounding of x^2, so a few more there)
    rel = np.abs(out - ref) / np.abs(ref)
    assert rel.max() <= (4 if function is erf else 16) * np.finfo(np.float32).eps


def test_shapes_scalars_and_integers():
    assert erf(np.zeros((2, 3, 4))).shape == (2, 3, 4)
    assert erf(np.zeros((0, 3))).shape == (0, 3)
    for x in (0.3, 2.0, -5.0, 7.5):  # 0-d input in each of the three ranges
        assert erf(x).shape == erfc(np.array(x)).shape == ()
        assert abs(float(erf(x)) - math.erf(x)) <= 1e-15 * abs(math.erf(x))
        assert abs(float(erfc(np.array(x))) - math.erfc(x)) <= 1e-15 * math.erfc(x)
    out = erf(np.array([1, 2]))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [math.erf(1), math.erf(2)], rtol=1e-15)
