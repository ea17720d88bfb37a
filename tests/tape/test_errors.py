"""Errors: recording misuse, bad inputs and debug mode name what went wrong."""
from __future__ import annotations

import re

import numpy as np
import pytest

import aadrisk as ad
from aadrisk.tape.record import apply


# -- control flow on recorded values -----------------------------------------------
def test_if_on_var_raises_control_flow_error_mentioning_where():
    def fn(*, x):
        if x > 0.0:
            return x
        return -x

    with pytest.raises(ad.TapeControlFlowError, match=r"where\(") as info:
        ad.record(fn)
    assert isinstance(info.value, ad.TapeError)
    assert "test_errors.py" in str(info.value)  # the user's line is named


@pytest.mark.parametrize("convert", [float, int, bool, lambda v: [0, 1][v],
                                     lambda v: v and 1.0, lambda v: 1.0 if v else 0.0])
def test_python_conversions_of_var_raise(convert):
    with pytest.raises(ad.TapeControlFlowError, match=r"where\("):
        ad.record(lambda *, x: convert(x * 2.0))


def test_while_loop_on_var_raises():
    def fn(*, x):
        while x < 10.0:
            x = x * 2.0
        return x

    with pytest.raises(ad.TapeControlFlowError, match=r"where\("):
        ad.record(fn)


def test_numpy_ufunc_on_var_is_refused():
    with pytest.raises(TypeError):
        ad.record(lambda *, x: np.exp(x))


# -- inputs --------------------------------------------------------------------------
PROG = ad.record(lambda *, spot, vol: ad.log(spot) * vol, name="logprog")


def test_missing_input_names_it():
    with pytest.raises(ad.InputError, match=r"missing.*'vol'"):
        PROG.value({"spot": 1.0})


def test_unknown_input_names_it():
    with pytest.raises(ad.InputError, match=r"unknown.*'volatility'"):
        PROG.value({"spot": 1.0, "vol": 0.2, "volatility": 0.2})


def test_unknown_wrt_and_tangent_names_it():
    with pytest.raises(ad.InputError, match="'rate'"):
        PROG.grad({"spot": 1.0, "vol": 0.2}, wrt=["rate"])
    with pytest.raises(ad.InputError, match="'rate'"):
        PROG.jvp({"spot": 1.0, "vol": 0.2}, {"rate": 1.0})


@pytest.mark.parametrize("bad", [np.ones((2, 2)), np.ones((1, 3, 1))])
def test_wrong_shape_names_the_input(bad):
    with pytest.raises(ad.InputError, match=r"'spot'.*shape") as info:
        PROG.value({"spot": bad, "vol": 0.2})
    assert str(bad.shape) in str(info.value)


def test_non_numeric_input_names_it():
    with pytest.raises(ad.InputError, match="'vol'"):
        PROG.value({"spot": 1.0, "vol": "twenty percent"})


def test_mismatched_batch_sizes_name_the_inputs():
    with pytest.raises(ad.InputError, match=r"spot=3.*vol=4|vol=4.*spot=3"):
        PROG.value({"spot": np.ones(3), "vol": np.ones(4)})
    with pytest.raises(ad.InputError, match=r"spot=3"):
        PROG.value({"spot": np.ones(3), "vol": 0.2}, batch=5)


def test_tangent_of_wrong_shape_names_it():
    with pytest.raises(ad.InputError, match="'vol'"):
        PROG.jvp({"spot": np.ones(3), "vol": 0.2}, {"vol": np.ones(4)})


def test_empty_batch_and_bad_options():
    with pytest.raises(ad.InputError):
        PROG.value({"spot": np.ones(0), "vol": 0.2})
    with pytest.raises(ValueError, match="reduce"):
        PROG.value({"spot": 1.0, "vol": 0.2}, reduce="median")
    with pytest.raises(ValueError, match="block"):
        PROG.value({"spot": 1.0, "vol": 0.2}, block=0)


# -- step inputs ---------------------------------------------------------------------
def _loop_prog():
    def fn(*, x):
        return ad.scan(lambda s, xs: s * (1.0 + xs["r"]), x, n_steps=4, xs=["r"])
    return ad.record(fn, name="loop")


@pytest.mark.parametrize("bad", [np.ones(3), np.ones(5), np.ones((3, 2)), 0.01,
                                 np.ones((4, 2, 2))])
def test_step_input_of_wrong_length_names_it(bad):
    with pytest.raises(ad.InputError, match=r"step input 'r'.*\(4,\)"):
        _loop_prog().value({"x": 1.0, "r": bad})


def test_missing_step_input_names_it():
    with pytest.raises(ad.InputError, match="'r'"):
        _loop_prog().value({"x": 1.0})


def test_per_element_step_input_batch_must_match():
    with pytest.raises(ad.InputError, match=r"x=3.*r=2|r=2.*x=3"):
        _loop_prog().value({"x": np.ones(3), "r": np.ones((4, 2))})


def test_gradient_wrt_per_element_step_input_is_refused_by_name():
    prog = _loop_prog()
    with pytest.raises(ad.InputError, match="'r'"):
        prog.grad({"x": np.ones(2), "r": np.ones((4, 2))})
    # ... but gradients with respect to the other inputs work
    res = prog.grad({"x": np.ones(2), "r": np.full((4, 2), 0.5)}, wrt=["x"])
    assert np.array_equal(res.grad["x"], [1.5 ** 4, 1.5 ** 4])


def test_step_input_shared_by_loops_of_different_lengths():
    def fn(*, x):
        a = ad.scan(lambda s, xs: s + xs["r"], x, n_steps=3, xs=["r"])
        return ad.scan(lambda s, xs: s + xs["r"], a, n_steps=4, xs=["r"])

    with pytest.raises(ad.TapeError, match="'r'"):
        ad.record(fn)


def test_step_input_name_clashing_with_input():
    with pytest.raises(ad.TapeError, match="'x'"):
        ad.record(lambda *, x: ad.scan(lambda s, xs: s + xs["x"], x, n_steps=2, xs=["x"]))


# -- loop structure -----------------------------------------------------------------
def test_nested_scan_raises_tape_error():
    def fn(*, x):
        def outer(s, _):
            return ad.scan(lambda u, _: u * 2.0, s, n_steps=2)
        return ad.scan(outer, x, n_steps=3)

    with pytest.raises(ad.TapeError, match="nested"):
        ad.record(fn)


def test_loop_body_value_used_outside_raises_scope_error():
    leaked = []

    def fn(*, x):
        def step(s, _):
            y = s * 1.5
            leaked.append(y)
            return y
        out = ad.scan(step, x, n_steps=3)
        return out + leaked[0]

    with pytest.raises(ad.TapeScopeError, match="loop"):
        ad.record(fn)


def test_loop_body_value_returned_as_output_raises_scope_error():
    leaked = []

    def fn(*, x):
        def step(s, _):
            leaked.append(s + 1.0)
            return s * 2.0
        ad.scan(step, x, n_steps=3)
        return leaked[0]

    with pytest.raises(ad.TapeScopeError):
        ad.record(fn)


def test_value_from_another_recording_raises_scope_error():
    other = []
    ad.record(lambda *, x: other.append(x) or x)
    with pytest.raises(ad.TapeScopeError):
        ad.record(lambda *, y: y + other[0])


def test_scan_step_returning_wrong_state_size():
    with pytest.raises(ad.TapeError, match="2"):
        ad.record(lambda *, x: ad.scan(lambda s, _: (s[0],), (x, x), n_steps=2)[0])


def test_scan_needs_positive_steps_and_recording():
    with pytest.raises(ValueError):
        ad.record(lambda *, x: ad.scan(lambda s, _: s, x, n_steps=0))
    with pytest.raises(ad.TapeError):
        ad.scan(lambda s, _: s, 1.0, n_steps=2)
    with pytest.raises(ad.TapeError):
        ad.normal()


def test_input_declared_twice():
    with pytest.raises(ad.TapeError, match="'x'"):
        ad.record(lambda **kw: kw["x"], ["x", "x"])


# -- non-differentiable solver ------------------------------------------------------
def test_grad_through_raw_solver_names_the_op():
    prog = ad.record(lambda *, c, x: apply("iv_black_stdev", c, x, 1.0) * 2.0)
    inputs = {"c": 0.1, "x": 1.0}
    assert np.isfinite(prog.value(inputs).value[0])  # values are fine
    for call in (lambda: prog.grad(inputs), lambda: prog.hvp(inputs, {"c": 1.0})):
        with pytest.raises(ad.TapeError, match="iv_black_stdev"):
            call()
    prog = ad.record(lambda *, v, m: apply("iv_bachelier_stdev", v, m))
    with pytest.raises(ad.TapeError, match="iv_bachelier_stdev"):
        prog.grad({"v": 1.0, "m": 0.0})


def test_stopped_raw_solver_is_differentiable():
    """Behind stop_gradient the solver is fine: derivative exactly zero."""
    prog = ad.record(lambda *, c, x: ad.stop_gradient(apply("iv_black_stdev", c, x, 1.0)) + c)
    res = prog.grad({"c": 0.1, "x": 1.0})
    assert res.grad["c"] == 1.0 and res.grad["x"] == 0.0


# -- debug mode ---------------------------------------------------------------------
def test_debug_mode_names_op_element_and_argument():
    prog = ad.record(lambda *, x: ad.log(x) + 1.0, name="logdebug")
    x = np.array([1.0, 2.0, 3.0, -2.5, 5.0, -7.0])
    res = prog.value({"x": x})  # without debug: NaN, silently
    assert np.isnan(res.value[3]) and np.isfinite(res.value[0])
    for method in (lambda **kw: prog.value({"x": x}, **kw),
                   lambda **kw: prog.grad({"x": x}, **kw),
                   lambda **kw: prog.hvp({"x": x}, {"x": 1.0}, **kw)):
        with pytest.raises(ad.NonFiniteError) as info:
            method(debug=True, block=2)
        msg = str(info.value)
        assert "'log'" in msg or "(log" in msg, msg
        assert re.search(r"element 3\b", msg), msg
        assert "-2.5" in msg, msg
        assert isinstance(info.value, FloatingPointError)


def test_debug_mode_in_loop_names_the_step():
    def fn(*, x):
        # s_t = x - t: the log's argument becomes negative at step 2 for x = 1.5
        return ad.scan(lambda s, _: (s[0] - 1.0, s[1] + ad.log(s[0])), (x, 0.0), n_steps=4)[1]

    prog = ad.record(fn)
    with pytest.raises(ad.NonFiniteError) as info:
        prog.value({"x": np.array([10.0, 1.5])}, debug=True)
    msg = str(info.value)
    assert "log" in msg and re.search(r"element 1\b", msg) and "step 2" in msg, msg
    assert "-0.5" in msg, msg


def test_debug_mode_passes_finite_programs():
    prog = ad.record(lambda *, x: ad.log(x))
    res = prog.grad({"x": np.array([1.0, 2.0])}, debug=True)
    assert np.array_equal(res.grad["x"], [1.0, 0.5])
