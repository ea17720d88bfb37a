"""The one-pass packing of the usual inputs (tape.inputs._plain) against the general path."""
from __future__ import annotations

import numpy as np
import pytest

import aadrisk as ad
from aadrisk.tape import inputs as I


def _prog():
    return ad.record(lambda *, x, y, k: ad.maximum(x * y - k, 0.0) + y)


def _general(prog, inputs, tangents, batch, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(I, "_plain", lambda *a: None)
        return I.prepare(prog, inputs, tangents, batch)


def _flat(packed):
    IN, XS, nb, nmax = packed
    return [(a.dtype.str, a.shape, a.tobytes()) for a in (*IN, *XS)] + [nb, nmax]


X = np.linspace(0.5, 2.0, 7)
CASES = [
    ({"x": X, "y": X[::-1].copy(), "k": 1.0}, {"x": 1.0}),
    ({"x": X, "y": 2.0, "k": 1.0}, None),
    ({"x": 3.0, "y": 2.0, "k": 1.0}, {"y": 0.0, "k": -2.5}),
    ({"x": X[::2], "y": X[:4].copy(), "k": 0.5}, {"x": 1.0, "y": 1.0}),  # a strided view
]


@pytest.mark.parametrize("inputs, tangents", CASES)
def test_plain_equals_general(inputs, tangents, monkeypatch):
    prog = _prog()
    assert I._plain(prog, inputs, tangents, None) is not None     # the fast path ran
    assert _flat(I.prepare(prog, inputs, tangents, None)) == \
        _flat(_general(prog, inputs, tangents, None, monkeypatch))


@pytest.mark.parametrize("inputs, tangents, batch", [
    ({"x": X, "y": 2, "k": 1.0}, None, None),                        # an int
    ({"x": X, "y": np.float64(2.0), "k": 1.0}, None, None),          # a NumPy scalar
    ({"x": X.astype(np.float32), "y": 2.0, "k": 1.0}, None, None),  # float32
    ({"x": X, "y": 2.0, "k": 1.0}, {"x": 1}, None),                  # int tangent
    ({"x": X, "y": 2.0, "k": 1.0}, {"x": X}, None),                  # array tangent
    ({"x": X, "y": 2.0, "k": 1.0}, None, 7),                         # batch given
    ({"x": [1.0, 2.0], "y": 2.0, "k": 1.0}, None, None),             # a list
])
def test_other_inputs_take_the_general_path(inputs, tangents, batch, monkeypatch):
    prog = _prog()
    assert I._plain(prog, inputs, tangents, batch) is None
    assert _flat(I.prepare(prog, inputs, tangents, batch)) == \
        _flat(_general(prog, inputs, tangents, batch, monkeypatch))


@pytest.mark.parametrize("inputs, tangents, match", [
    ({"x": X, "y": X[:3].copy(), "k": 1.0}, None, "batch sizes disagree"),
    ({"x": X, "y": 2.0}, None, "missing input"),
    ({"x": X, "y": 2.0, "k": 1.0, "z": 1.0}, None, "unknown input"),
    ({"x": X, "y": 2.0, "k": 1.0}, {"z": 1.0}, "unknown tangent"),
    ({"x": X, "y": np.ones((2, 7)), "k": 1.0}, None, "must be a scalar or a 1-d"),
    ({"x": np.zeros(0), "y": 2.0, "k": 1.0}, None, "empty batch"),
    ({"x": X, "y": "two", "k": 1.0}, None, "not numeric"),
])
def test_bad_inputs_raise_the_general_errors(inputs, tangents, match):
    with pytest.raises(ad.TapeError, match=match):
        I.prepare(_prog(), inputs, tangents, None)
