"""The Thrift compact protocol, as much of it as Parquet footers need.

A struct decodes to a list of ``[field id, type code, value]`` (values: ints,
bools, floats, bytes, lists ``(element type, [values])`` and nested structs) and
encodes back to the same bytes, so a footer can be edited field by field and
written again.  Used by :mod:`.parquet_concat`.

Examples
--------
>>> fields, end = decode_struct(bytes([0x15, 0x04, 0x00]))   # field 1, i32 = 2
>>> fields, end
([[1, 5, 2]], 3)
>>> encode_struct(fields) == bytes([0x15, 0x04, 0x00])
True
"""
from __future__ import annotations

import struct

__all__ = ["ThriftCompactError", "decode_struct", "encode_struct"]

# Thrift compact protocol type codes
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, \
    _STRUCT = range(13)
_INTS = (_BYTE, _I16, _I32, _I64)


class ThriftCompactError(ValueError):
    """Bytes that are not (or not only) a Thrift compact struct this codec reads."""

def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = out = 0
    while True:
        b = buf[i]
        i += 1
        out |= (b & 0x7F) << shift
        if not b & 0x80:
            return out, i
        shift += 7


def _zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _value(buf: bytes, i: int, t: int):
    if t in (_TRUE, _FALSE):               # a bool inside a list: one byte, 1 = true
        return buf[i] == _TRUE, i + 1
    if t == _BYTE:
        return struct.unpack_from("b", buf, i)[0], i + 1
    if t in (_I16, _I32, _I64):
        n, i = _varint(buf, i)
        return _zigzag(n), i
    if t == _DOUBLE:
        return struct.unpack_from("<d", buf, i)[0], i + 8
    if t == _BINARY:
        n, i = _varint(buf, i)
        return bytes(buf[i:i + n]), i + n
    if t in (_LIST, _SET):
        head = buf[i]
        i += 1
        n, et = head >> 4, head & 0x0F
        if n == 15:
            n, i = _varint(buf, i)
        items = []
        for _ in range(n):
            v, i = _value(buf, i, et)
            items.append(v)
        return (et, items), i
    if t == _MAP:
        n, i = _varint(buf, i)
        if n == 0:
            return (0, 0, []), i
        kt, vt = buf[i] >> 4, buf[i] & 0x0F
        i += 1
        pairs = []
        for _ in range(n):
            k, i = _value(buf, i, kt)
            v, i = _value(buf, i, vt)
            pairs.append((k, v))
        return (kt, vt, pairs), i
    if t == _STRUCT:
        return decode_struct(buf, i)
    raise ThriftCompactError(f"unknown Thrift compact type {t}")


def decode_struct(buf: bytes, i: int = 0) -> tuple[list, int]:
    """A Thrift compact struct at ``buf[i:]`` as ``[[field id, type, value], ...]`` and the
    index after it.  Lists are ``(element type, items)``, maps ``(key type, value type,
    pairs)``, nested structs the same kind of list; bools keep their type code."""
    fields, last = [], 0
    while True:
        head = buf[i]
        i += 1
        t = head & 0x0F
        if t == _STOP:
            return fields, i
        delta = head >> 4
        if delta:
            fid = last + delta
        else:
            n, i = _varint(buf, i)
            fid = _zigzag(n)
        if t in (_TRUE, _FALSE):
            v = t == _TRUE
        else:
            v, i = _value(buf, i, t)
        fields.append([fid, t, v])
        last = fid


def _put_varint(out: bytearray, n: int) -> None:
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return


def _put_value(out: bytearray, t: int, v) -> None:
    if t in (_TRUE, _FALSE):
        out.append(_TRUE if v else _FALSE)
    elif t == _BYTE:
        out += struct.pack("b", v)
    elif t in (_I16, _I32, _I64):
        if v.__class__ is _Hole:
            out.hole(v)
        else:
            _put_varint(out, (v << 1) ^ (v >> 63))
    elif t == _DOUBLE:
        out += struct.pack("<d", v)
    elif t == _BINARY:
        _put_varint(out, len(v))
        out += v
    elif t in (_LIST, _SET):
        et, items = v
        if len(items) < 15:
            out.append((len(items) << 4) | et)
        else:
            out.append(0xF0 | et)
            _put_varint(out, len(items))
        for x in items:
            _put_value(out, et, x)
    elif t == _MAP:
        kt, vt, pairs = v
        _put_varint(out, len(pairs))
        if pairs:
            out.append((kt << 4) | vt)
            for k, x in pairs:
                _put_value(out, kt, k)
                _put_value(out, vt, x)
    elif t == _STRUCT:
        if isinstance(v, _Encoded):
            out += v
        else:
            _put_struct(out, v)
    else:
        raise ThriftCompactError(f"unknown Thrift compact type {t}")


def encode_struct(fields: list) -> bytes:
    """The Thrift compact encoding of a struct decoded by :func:`decode_struct`."""
    out = bytearray()
    _put_struct(out, fields)
    return bytes(out)


def _put_struct(out: bytearray, fields: list) -> None:
    last = 0
    for fid, t, v in fields:
        tt = (_TRUE if v else _FALSE) if t in (_TRUE, _FALSE) else t
        if 0 < fid - last <= 15:
            out.append(((fid - last) << 4) | tt)
        else:
            out.append(tt)
            _put_varint(out, (fid << 1) ^ (fid >> 63))
        if t not in (_TRUE, _FALSE):
            _put_value(out, t, v)
        last = fid
    out.append(_STOP)


class _Encoded(bytes):
    """A struct already in its Thrift compact encoding (written as is by :func:`_put_value`)."""


class _Hole(int):
    """An integer of a footer that depends on where the part lands in the new file: a byte
    offset in the part (shifted when the part is added) or, ``-1``, the row group's
    ordinal in the new file."""


class _Pieces(bytearray):
    """An encoding with holes: :meth:`pieces` gives its bytes between the holes and, for
    each hole, the :class:`_Hole`'s value as a plain int."""

    def __init__(self):
        super().__init__()
        self._pieces = []

    def hole(self, v: _Hole) -> None:
        self._pieces += [bytes(self), int(v)]
        del self[:]

    def pieces(self) -> tuple:
        return tuple(self._pieces) + (bytes(self),)
