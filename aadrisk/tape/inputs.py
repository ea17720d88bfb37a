"""Validation of a program's inputs and their packing into the kernels' arrays.

Examples
--------
>>> import aadrisk as ad
>>> prog = ad.record(lambda *, x, y: x * y)
>>> prog.value({"x": 1.0})
Traceback (most recent call last):
...
aadrisk.tape.inputs.InputError: <lambda>: missing input(s) ['y']
"""
from __future__ import annotations

import numpy as np

from .record import TapeError


class InputError(TapeError, ValueError):
    """Inputs given to a program are missing, unknown or of the wrong shape."""


def check_names(prog, given, allowed, what):
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise InputError(f"{prog.name}: unknown {what} {unknown}; this program's inputs are "
                         f"{prog.input_names + prog.step_input_names}")


def _rows(rows: list, nb: int) -> np.ndarray:
    """``np.stack(rows)`` of 1-d float arrays of length ``nb`` (C-contiguous), filled row
    by row (without ``np.stack``'s per-array set-up)."""
    out = np.empty((len(rows), nb))
    for k, r in enumerate(rows):
        out[k] = r
    return out


def _plain(prog, inputs, tangents, batch):
    """:func:`prepare` of the usual call in one pass, or None for anything else (the
    general path then checks it and raises its errors): no step inputs, no ``batch``,
    every input a 1-d float64 array (all of one length) or a Python float, tangents
    Python floats of inputs."""
    names = prog.input_names
    tangents = {} if tangents is None else tangents
    if prog.step_input_names or batch is not None or type(inputs) is not dict or \
            type(tangents) is not dict or len(inputs) != len(names) or \
            any(type(t) is not float or n not in inputs for n, t in tangents.items()):
        return None
    n_in = len(names)
    in_kind = np.zeros(n_in, dtype=np.int64)
    in_pos = np.zeros(n_in, dtype=np.int64)
    sh_val = np.zeros(n_in)
    sh_tan = np.zeros(n_in)
    f64 = np.dtype(np.float64)
    rows, nb = [], None
    for k, n in enumerate(names):
        x = inputs.get(n, inputs)                   # (a missing name: not a float)
        if type(x) is float:
            sh_val[k] = x
        elif type(x) is np.ndarray and x.dtype == f64 and x.ndim == 1 and \
                x.shape[0] > 0 and (nb is None or x.shape[0] == nb):
            nb = x.shape[0]
            in_kind[k], in_pos[k] = 1, len(rows)
            rows.append(x)
        else:
            return None
        t = tangents.get(n)
        if t is not None:
            sh_tan[k] = t
    zeros_int = np.zeros(n_in, dtype=np.int64)
    IN = (in_kind, in_pos, sh_val, _rows(rows, nb) if rows else np.zeros((1, 1)), zeros_int,
          zeros_int.copy(), sh_tan, np.zeros((1, 1)))
    XS = (np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), np.zeros((1, 1)),
          np.zeros((1, 1, 1)), np.zeros((1, 1)))
    return IN, XS, nb or 1, 1


def prepare(prog, inputs, tangents, batch):
    got = _plain(prog, inputs, tangents, batch)
    if got is not None:
        return got
    names = prog.input_names + prog.step_input_names
    check_names(prog, inputs, names, "input(s)")
    missing = [n for n in names if n not in inputs]
    if missing:
        raise InputError(f"{prog.name}: missing input(s) {missing}")
    arrays = {}
    f64 = np.dtype(np.float64)
    for n in names:
        arr = inputs[n]
        if type(arr) is np.ndarray and arr.dtype == f64:
            arrays[n] = arr                         # what np.asarray would return
            continue
        try:
            arr = np.asarray(arr, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{prog.name}: input {n!r} is not numeric: "
                             f"{inputs[n]!r:.80}") from None
        arrays[n] = arr
    sizes = {}
    for n in prog.input_names:
        if arrays[n].ndim == 1:
            sizes[n] = arrays[n].shape[0]
        elif arrays[n].ndim != 0:
            raise InputError(f"{prog.name}: input {n!r} must be a scalar or a 1-d array over "
                             f"the batch, got shape {arrays[n].shape}")
    for n in prog.step_input_names:
        a, N = arrays[n], prog._step_len[n]
        if a.ndim == 0 or a.shape[0] != N or a.ndim > 2:
            raise InputError(f"{prog.name}: step input {n!r} must have shape ({N},) or "
                             f"({N}, batch), got {a.shape}")
        if a.ndim == 2:
            sizes[n] = a.shape[1]
    distinct = set(sizes.values())
    if batch is not None:
        distinct.add(int(batch))
    if len(distinct) > 1:
        raise InputError(f"{prog.name}: batch sizes disagree: " + ", ".join(
            f"{n}={v}" for n, v in sizes.items()) + (f", batch={batch}" if batch else ""))
    nb = distinct.pop() if distinct else 1
    if nb < 1:
        raise InputError(f"{prog.name}: empty batch")
    n_in = len(prog.input_names)
    in_kind = np.zeros(n_in, dtype=np.int64)
    in_pos = np.zeros(n_in, dtype=np.int64)
    sh_val = np.zeros(n_in)
    el_rows = []
    for k, n in enumerate(prog.input_names):
        if arrays[n].ndim == 0:
            sh_val[k] = float(arrays[n])
        else:
            in_kind[k], in_pos[k] = 1, len(el_rows)
            el_rows.append(arrays[n])
    el_val = _rows(el_rows, nb) if el_rows else np.zeros((1, 1))
    # tangents
    tangents = tangents or {}
    check_names(prog, tangents, names, "tangent(s)")
    tan_kind = np.zeros(n_in, dtype=np.int64)
    tan_pos = np.zeros(n_in, dtype=np.int64)
    sh_tan = np.zeros(n_in)
    tan_rows = []
    for k, n in enumerate(prog.input_names):
        if n not in tangents:
            continue
        t = np.asarray(tangents[n], dtype=np.float64)
        if t.ndim == 0:
            sh_tan[k] = float(t)
        elif t.shape == (nb,):
            tan_kind[k], tan_pos[k] = 1, len(tan_rows)
            tan_rows.append(t)
        else:
            raise InputError(f"{prog.name}: tangent of {n!r} must be a scalar or shape "
                             f"({nb},), got {t.shape}")
    el_tan = _rows(tan_rows, nb) if tan_rows else np.zeros((1, 1))
    n_xs = len(prog.step_input_names)
    nmax = max(prog._step_len.values(), default=1)
    xs_kind = np.zeros(max(n_xs, 1), dtype=np.int64)
    xs_pos = np.zeros(max(n_xs, 1), dtype=np.int64)
    xs_sh = np.zeros((max(n_xs, 1), nmax))
    xs_tan = np.zeros((max(n_xs, 1), nmax))
    el3 = []
    for k, n in enumerate(prog.step_input_names):
        a = arrays[n]
        if a.ndim == 1:
            xs_pos[k] = k
            xs_sh[k, :a.shape[0]] = a
        else:
            xs_kind[k], xs_pos[k] = 1, len(el3)
            el3.append(np.pad(a, ((0, nmax - a.shape[0]), (0, 0))))
        if n in tangents:
            t = np.asarray(tangents[n], dtype=np.float64)
            if t.ndim == 0:
                xs_tan[k, :] = float(t)
            elif t.shape == (a.shape[0],):
                xs_tan[k, :a.shape[0]] = t
            else:
                raise InputError(f"{prog.name}: tangent of step input {n!r} must be a "
                                 f"scalar or shape ({a.shape[0]},), got {t.shape}")
    xs_el = np.ascontiguousarray(np.stack(el3)) if el3 else np.zeros((1, 1, 1))
    IN = (in_kind, in_pos, sh_val, el_val, tan_kind, tan_pos, sh_tan, el_tan)
    XS = (xs_kind, xs_pos, xs_sh, xs_el, xs_tan)
    return IN, XS, nb, nmax

