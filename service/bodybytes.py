"""Byte-level kernels of :mod:`service.bodyscan`: whitespace, strings, keys and the end
of a JSON value, each from a position in the body's bytes (compiled without reference
counts: they allocate nothing, see :mod:`aadrisk._numba`)."""
from __future__ import annotations

from aadrisk._numba import jit

_QUOTE, _BACKSLASH, _COMMA = 34, 92, 44
_LBRACE, _RBRACE, _LBRACKET, _RBRACKET = 123, 125, 91, 93


@jit(refcount=False)
def ws(b, i):
    """First position from ``i`` that is not JSON whitespace."""
    n = b.shape[0]
    while i < n and (b[i] == 32 or b[i] == 10 or b[i] == 13 or b[i] == 9):
        i += 1
    return i


@jit(refcount=False)
def string_end(b, i):
    """(position after the string starting at ``b[i] == '"'``, whether it has a
    backslash), or (-1, False) if it does not end."""
    n = b.shape[0]
    j = i + 1
    escaped = False
    while j < n:
        c = b[j]
        if c == _QUOTE:
            return j + 1, escaped
        if c == _BACKSLASH:
            escaped = True
            j += 2
        else:
            j += 1
    return -1, escaped


@jit(refcount=False)
def equal(x, a, y, s, m):
    """Whether ``x[a:a + m]`` equals ``y[s:s + m]``."""
    for q in range(m):
        if x[a + q] != y[s + q]:
            return False
    return True


@jit(refcount=False)
def same(b, a, e, word):
    """Whether ``b[a:e]`` equals ``word``."""
    return e - a == word.shape[0] and equal(b, a, word, 0, e - a)


@jit(refcount=False)
def skip(b, i):
    """Position after the JSON value starting at ``i`` (its text is checked later, by
    orjson, as part of the skeleton), or -1."""
    n = b.shape[0]
    if i >= n:
        return -1
    c = b[i]
    if c == _QUOTE:
        return string_end(b, i)[0]
    if c == _LBRACE or c == _LBRACKET:
        depth = 0
        while i < n:
            c = b[i]
            if c == _QUOTE:
                i = string_end(b, i)[0]
                if i < 0:
                    return -1
                continue
            if c == _LBRACE or c == _LBRACKET:
                depth += 1
            elif c == _RBRACE or c == _RBRACKET:
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        return -1
    while i < n:                      # number or literal: up to a delimiter
        c = b[i]
        if c == _COMMA or c == _RBRACE or c == _RBRACKET or c == 32 or c == 10 or \
                c == 13 or c == 9:
            break
        i += 1
    return i


@jit(refcount=False)
def key_index(b, a, e, kblob, kstart, klen, guess):
    """Index of the declared key ``b[a:e]`` (``guess`` first), or -1."""
    m = e - a
    for t in range(-1, kstart.shape[0]):
        k = guess if t < 0 else t
        if k >= 0 and klen[k] == m and equal(b, a, kblob, kstart[k], m):
            return k
    return -1


@jit(refcount=False)
def value_end(b, i):
    """(end, kind) of a trade's value at ``i``: kind 1 string, 2 number, 3 literal, 4
    string with a backslash; -1 if it is an object, an array or not a value."""
    n = b.shape[0]
    c = b[i]
    if c == _QUOTE:
        e, escaped = string_end(b, i)
        return e, 4 if escaped else 1
    if c == 45 or (48 <= c <= 57):
        j = i + 1
        while j < n:
            c = b[j]
            if not ((48 <= c <= 57) or c == 46 or c == 101 or c == 69 or c == 43 or c == 45):
                break
            j += 1
        return j, 2
    if c == 110 and i + 4 <= n and b[i + 1] == 117 and b[i + 2] == 108 and b[i + 3] == 108:
        return i + 4, 3                                                    # null
    if c == 116 and i + 4 <= n and b[i + 1] == 114 and b[i + 2] == 117 and b[i + 3] == 101:
        return i + 4, 3                                                    # true
    if c == 102 and i + 5 <= n and b[i + 1] == 97 and b[i + 2] == 108 and \
            b[i + 3] == 115 and b[i + 4] == 101:
        return i + 5, 3                                                    # false
    return -1, -1
