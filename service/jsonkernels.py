"""Compiled kernels of :mod:`service.jsonwrite`: one pass writing JSON arrays of records
from pre-encoded columns.

Text columns (JSON array text of a whole column) are walked with a cursor: a
record's ``m`` elements are the text up to the ``m``-th separator, found eight
bytes at a time for numbers (:func:`_scan_numbers`), byte by byte for strings and
nested values (:func:`_scan`). Coded columns copy table entries; a record's list
of codes seen before is copied from its first text (:func:`_coded_list`).
"""
from __future__ import annotations

import numpy as np

from aadrisk._numba import jit

#: operations of a record's program (see :func:`write`)
LIT, TEXT, CODE, GTEXT, GCODE = 0, 1, 2, 3, 4


@jit(inline="always")
def _copy(out, p, src, s, m):
    """Copy ``m`` bytes of ``src`` from ``s`` to ``out`` at ``p``; new p (unsigned
    indexes: no negative-index wrap-around test per byte)."""
    pu, su = np.uint64(p), np.uint64(s)
    for k in range(np.uint64(m)):
        out[pu + k] = src[su + k]
    return p + m


@jit(inline="always")
def _copy_within(out, p, q, m):
    """Copy ``m`` bytes of ``out`` from ``q`` to ``p`` (``q + m <= p``); new p."""
    pu, qu = np.uint64(p), np.uint64(q)
    for k in range(np.uint64(m)):
        out[pu + k] = out[qu + k]
    return p + m


_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_COMMAS = np.uint64(0x2C2C2C2C2C2C2C2C)
_CLOSES = np.uint64(0x5D5D5D5D5D5D5D5D)
_ONES = np.uint64(0x0101010101010101)


@jit(inline="always")
def _zero_bytes(x):
    """High bit of each byte of ``x`` set iff the byte is 0 (exact, no carries)."""
    return ~(((x & _LOW7) + _LOW7) | x | _LOW7)


@jit(inline="always")
def _scan_numbers(text, words, i, count):
    """Position of the ``count``-th separator (``,`` or ``]``) from ``i`` in the text of
    numbers and ``null`` (``words``: the text as 8-byte words), eight bytes at a time
    (byte by byte for one or two elements)."""
    n = np.uint64(i)
    seen = 0
    if count <= 2:
        while True:
            c = text[n]
            if c == 44 or c == 93:
                seen += 1
                if seen == count:
                    return np.int64(n)
            n += np.uint64(1)
    while n & np.uint64(7):
        c = text[n]
        seen += (c == 44) | (c == 93)
        if seen == count:
            return np.int64(n)
        n += np.uint64(1)
    w = n >> np.uint64(3)
    while True:
        v = words[w]
        m = _zero_bytes(v ^ _COMMAS) | _zero_bytes(v ^ _CLOSES)
        k = np.int64(((m >> np.uint64(7)) * _ONES) >> np.uint64(56))
        if seen + k >= count:
            break
        seen += k
        w += np.uint64(1)
    n = w << np.uint64(3)
    while True:
        c = text[n]
        seen += (c == 44) | (c == 93)
        if seen == count:
            return np.int64(n)
        n += np.uint64(1)


@jit(inline="always")
def _scan(text, words, i, count, generic):
    """Position of the ``count``-th separator (``,`` or the closing ``]`` at depth 0)
    from ``i`` in JSON array text; strings and nested values skipped when ``generic``."""
    if not generic:
        return _scan_numbers(text, words, i, count)
    n = np.uint64(i)
    seen = 0
    depth = 0
    while True:
        c = text[n]
        if c == 34:                                   # a string: to its closing quote
            n += np.uint64(1)
            while text[n] != 34:
                if text[n] == 92:
                    n += np.uint64(1)
                n += np.uint64(1)
        elif c == 91 or c == 123:
            depth += 1
        elif (c == 93 or c == 125) and depth > 0:
            depth -= 1
        elif depth == 0 and (c == 44 or c == 93):
            seen += 1
            if seen == count:
                return np.int64(n)
        n += np.uint64(1)


@jit(inline="always")
def _elements(out, p, text, words, cursor, j, generic, m):
    """The next ``m`` elements of text column ``j``, comma-separated, at ``p``; new p."""
    s = cursor[j]
    e = _scan(text, words, s, m, generic)
    cursor[j] = e + 1
    return _copy(out, p, text, s, e - s)


@jit(inline="always")
def _coded_list(out, p, row_codes, base, m, tab, tstart, tlen, tb, memo, mi, slots):
    """The table entries of codes ``row_codes[base:base + m]``, comma-separated, at ``p``;
    new p. A list of codes seen before (``memo[mi]``: open-addressing table of (hash,
    codes start, count, text start, text length) rows, ``slots`` rows per list column) is
    copied from its first text (trades of one kind repeat their labels). ``memo`` is
    indexed, not sliced: a view per call would cost two atomic reference counts)."""
    h = m
    for r in range(m):
        h = h * 1000003 + row_codes[base + r]
    mask = slots - 1
    slot = h & mask
    while memo[mi, slot, 2] != 0:
        if memo[mi, slot, 0] == h and memo[mi, slot, 2] == m:
            b0 = memo[mi, slot, 1]
            same = True
            for r in range(m):
                if row_codes[b0 + r] != row_codes[base + r]:
                    same = False
                    break
            if same:
                return _copy_within(out, p, memo[mi, slot, 3], memo[mi, slot, 4])
        slot = (slot + 1) & mask
    p0 = p
    for r in range(m):
        if r > 0:
            out[p] = 44
            p += 1
        e = tb + row_codes[base + r]
        p = _copy(out, p, tab, tstart[e], tlen[e])
    if memo[mi, 0, 5] < slots // 2:                   # entries kept: at most half full
        memo[mi, 0, 5] += 1
        memo[mi, slot, 0] = h
        memo[mi, slot, 1] = base
        memo[mi, slot, 2] = m
        memo[mi, slot, 3] = p0
        memo[mi, slot, 4] = p - p0
    return p


@jit(noalias=True, refcount=False)
def write(out, book_bounds, book_end, wrap, wstart, wlen, op, lit, lstart, llen, text, words,
          cursor, generic, rec_codes, row_codes, code_base, tab, tstart,
          tlen, tab_base, rows, group_base, group_n, first, count, memo):
    """Write each book's JSON array of records into ``out``, between the book's head and
    tail (pieces ``2 * i`` and ``2 * i + 1`` of ``wrap``, at ``wstart`` of length
    ``wlen``); ``book_end[i]``: end of book ``i`` (books follow one another). Per
    record, the program ``op`` (rows of (operation, a, b, c, d)): ``LIT`` piece ``a`` of
    ``lit``; ``TEXT`` the next element of text column ``a`` (:func:`_elements`); ``CODE``
    entry ``rec_codes[a, record]`` of table ``b``; ``GTEXT`` the record's elements of
    text column ``a`` in group ``c``; ``GCODE`` the entries of table ``b`` of the
    record's rows in group ``c`` by coded row column ``a`` (``memo[d]``, see
    :func:`_coded_list`). Scratch space, zeros (the kernel allocates nothing: it is
    compiled without reference counts): ``first`` and ``count`` (one per group: the
    record's rows), ``memo`` (one table of a power of two rows per ``GCODE``). Returns
    the end position."""
    n_groups = group_base.shape[0]
    slots = memo.shape[1]
    p = 0
    for b in range(book_bounds.shape[0] - 1):
        p = _copy(out, p, wrap, wstart[2 * b], wlen[2 * b])
        out[p] = 91
        p += 1
        for t in range(book_bounds[b], book_bounds[b + 1]):
            if t > book_bounds[b]:
                out[p] = 44
                p += 1
            for g in range(n_groups):
                r = first[g] + count[g]
                first[g] = r
                while r < group_n[g] and rows[group_base[g] + r] == t:
                    r += 1
                count[g] = r - first[g]
            for k in range(op.shape[0]):
                o, j = op[k, 0], op[k, 1]
                if o == LIT:
                    p = _copy(out, p, lit, lstart[j], llen[j])
                elif o == TEXT:
                    p = _elements(out, p, text, words, cursor, j, generic[j], 1)
                elif o == CODE:
                    e = tab_base[op[k, 2]] + rec_codes[j, t]
                    p = _copy(out, p, tab, tstart[e], tlen[e])
                elif o == GTEXT:
                    g = op[k, 3]
                    if count[g] > 0:
                        p = _elements(out, p, text, words, cursor, j, generic[j],
                                      count[g])
                else:
                    g = op[k, 3]
                    if count[g] > 0:
                        p = _coded_list(out, p, row_codes, code_base[j] + first[g], count[g],
                                        tab, tstart, tlen, tab_base[op[k, 2]], memo, op[k, 4],
                                        slots)
        out[p] = 93
        p = _copy(out, p + 1, wrap, wstart[2 * b + 1], wlen[2 * b + 1])
        book_end[b] = p
    return p


