"""Concatenate Parquet files of one schema into one file without decoding them.

A Parquet file is ``PAR1``, the column chunks of its row groups, a footer
(``FileMetaData``, Thrift compact protocol), the footer's length and ``PAR1``.
Row groups are self-contained; only the footer points into the file, with
absolute byte offsets.  Concatenating files therefore means copying each
file's body (its row groups, byte for byte) and writing one footer that lists
every row group with its offsets shifted by where the body landed.  No page
is decompressed, decoded or re-encoded: the cost is that of copying bytes,
which is why the batch run merges its chunk files this way (``run.py``).

Only what the batch writer produces is accepted: no page index, no bloom
filter, no encryption, every file with the same Parquet schema.  Anything else
raises :class:`ParquetConcatError` (the caller then rewrites the data with
pyarrow instead).  The result is a function of the input bytes and their order
only, so the same chunk files always give the same file.

Examples
--------
>>> import io, pyarrow as pa, pyarrow.parquet as pq
>>> def part(xs):
...     buf = io.BytesIO(); pq.write_table(pa.table({"x": xs}), buf); return buf.getvalue()
>>> out = io.BytesIO()
>>> concat_parquet([part([1, 2]), part([3])], out)
3
>>> pq.read_table(io.BytesIO(out.getvalue()))["x"].to_pylist()
[1, 2, 3]
"""
from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterable

__all__ = ["ParquetConcatError", "ParquetConcat", "PartLayout", "concat_parquet",
           "decode_struct", "encode_struct", "part_layout"]

MAGIC = b"PAR1"

# Thrift compact protocol type codes
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, \
    _STRUCT = range(13)
_INTS = (_BYTE, _I16, _I32, _I64)

# parquet.thrift field ids used here
_FMD_SCHEMA, _FMD_NUM_ROWS, _FMD_ROW_GROUPS, _FMD_ENCRYPTION = 2, 3, 4, 8
_RG_COLUMNS, _RG_FILE_OFFSET, _RG_ORDINAL = 1, 5, 7
_CC_FILE_OFFSET, _CC_META, _CC_OFFSET_INDEX, _CC_COLUMN_INDEX, _CC_CRYPTO = 2, 3, 4, 6, 8
_CMD_OFFSETS = (9, 10, 11)          # data, index and dictionary page offsets
_CMD_BLOOM = 14


class ParquetConcatError(ValueError):
    """The files cannot be concatenated byte-wise (layout or schema not supported)."""


# ------------------------------------------------------------------ Thrift compact codec
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
    raise ParquetConcatError(f"unknown Thrift compact type {t}")


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
        raise ParquetConcatError(f"unknown Thrift compact type {t}")


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


# ------------------------------------------------------------------ footers
def _field(fields: list, fid: int):
    for f in fields:
        if f[0] == fid:
            return f
    return None


def _footer(data: bytes, name: str) -> tuple[list, int]:
    """(decoded FileMetaData, offset where the footer starts) of one file's bytes."""
    if len(data) < 12 or data[:4] != MAGIC or data[-4:] != MAGIC:
        raise ParquetConcatError(f"{name}: not a plain Parquet file (magic bytes)")
    n = struct.unpack_from("<I", data, len(data) - 8)[0]
    start = len(data) - 8 - n
    if start < 4:
        raise ParquetConcatError(f"{name}: footer length {n} out of range")
    meta, end = decode_struct(data, start)
    if end != len(data) - 8:
        raise ParquetConcatError(f"{name}: footer does not end where its length says")
    if _field(meta, _FMD_ENCRYPTION) is not None:
        raise ParquetConcatError(f"{name}: encrypted files are not supported")
    return meta, start


def _mark_row_group(rg: list, name: str) -> None:
    """Make the row group's offsets and ordinal :class:`_Hole` s (in place)."""
    for f in rg:
        if f[0] == _RG_FILE_OFFSET:
            f[2] = _Hole(f[2])
        elif f[0] == _RG_ORDINAL:
            f[2] = _Hole(-1)
    for cc in _field(rg, _RG_COLUMNS)[2][1]:
        for f in cc:
            if f[0] in (_CC_OFFSET_INDEX, _CC_COLUMN_INDEX, _CC_CRYPTO):
                raise ParquetConcatError(f"{name}: page indexes / column encryption are not "
                                         "supported")
            if f[0] == _CC_FILE_OFFSET:
                f[2] = _Hole(f[2])
            elif f[0] == _CC_META:
                for g in f[2]:
                    if g[0] == _CMD_BLOOM:
                        raise ParquetConcatError(f"{name}: bloom filters are not supported")
                    if g[0] in _CMD_OFFSETS:
                        g[2] = _Hole(g[2])


@dataclasses.dataclass(frozen=True)
class PartLayout:
    """What :meth:`ParquetConcat.add` needs of a part besides its bytes (picklable).

    Computed from the part's bytes by :func:`part_layout`, by whoever holds them
    -- in a batch run the worker that wrote the part, in parallel with the
    other workers -- so that adding the part only fills in its offsets.

    Attributes
    ----------
    size, start : int
        The part's length in bytes and where its footer starts.
    rows : int
        Its rows.
    schema : bytes
        Its Parquet schema, encoded (parts must have equal ones).
    row_groups : tuple
        Each row group's encoding as pieces: ``bytes`` between holes, an ``int``
        >= 0 for a byte offset in the part (shifted by where the part lands),
        ``-1`` for the row group's ordinal in the new file.
    """

    size: int
    start: int
    rows: int
    schema: bytes
    row_groups: tuple


def part_layout(data, name: str = "part") -> PartLayout:
    """The :class:`PartLayout` of one file's bytes.

    Raises :class:`ParquetConcatError` if the file cannot be concatenated
    byte-wise (see :func:`concat_parquet`).
    """
    meta, start = _footer(data, name)
    schema = bytearray()
    _put_value(schema, _LIST, _field(meta, _FMD_SCHEMA)[2])
    row_groups = []
    for rg in _field(meta, _FMD_ROW_GROUPS)[2][1]:
        _mark_row_group(rg, name)
        out = _Pieces()
        _put_struct(out, rg)
        row_groups.append(out.pieces())
    return PartLayout(len(data), start, _field(meta, _FMD_NUM_ROWS)[2], bytes(schema),
                      tuple(row_groups))


class ParquetConcat:
    """Incremental :func:`concat_parquet`: :meth:`add` the parts one by one (in order), as
    they become available, then :meth:`finish`.

    Each part's body is written to ``out`` and its row groups (offsets shifted)
    are encoded when it is added, so that :meth:`finish` only joins bytes into
    the footer: a caller that adds parts while others are still being computed
    is left with little to do after the last one.  The file written is the same
    as :func:`concat_parquet`'s for the same parts.

    Examples
    --------
    >>> import io, pyarrow as pa, pyarrow.parquet as pq
    >>> def part(xs):
    ...     buf = io.BytesIO(); pq.write_table(pa.table({"x": xs}), buf); return buf.getvalue()
    >>> out = io.BytesIO()
    >>> w = ParquetConcat(out)
    >>> w.add(part([1, 2])); w.add(part([3]))
    >>> w.finish()
    3
    >>> pq.read_table(io.BytesIO(out.getvalue()))["x"].to_pylist()
    [1, 2, 3]
    """

    def __init__(self, out):
        self.out, self.head, self.schema, self.row_groups, self.rows = out, None, None, [], 0
        self.pos = len(MAGIC)
        self.parts = 0
        out.write(MAGIC)

    def add(self, data, name: str | None = None, layout: PartLayout | None = None) -> None:
        """Append one file's row groups (``data``: its bytes; ``layout``: its
        :func:`part_layout`, computed here if not given).

        Raises :class:`ParquetConcatError` (see :func:`concat_parquet`); the
        object should not be used after that.
        """
        name = name if name is not None else f"part {self.parts}"
        if layout is None:
            layout = part_layout(data, name)
        elif layout.size != len(data):
            raise ParquetConcatError(f"{name}: the layout given is another file's")
        if self.head is None:
            self.head, self.schema = _footer(data, name)[0], layout.schema
        elif layout.schema != self.schema:
            raise ParquetConcatError(f"{name}: Parquet schema differs from the first part's")
        shift = self.pos - len(MAGIC)
        for pieces in layout.row_groups:
            out = bytearray(pieces[0])
            for k in range(1, len(pieces), 2):
                v = pieces[k] + shift if pieces[k] >= 0 else len(self.row_groups)
                _put_varint(out, v << 1)        # zigzag of v >= 0
                out += pieces[k + 1]
            self.row_groups.append(_Encoded(out))
        self.rows += layout.rows
        body = memoryview(data)[len(MAGIC):layout.start]
        self.out.write(body)
        self.pos += len(body)
        self.parts += 1

    def finish(self) -> int:
        """Write the footer; the rows of the new file."""
        if self.head is None:
            raise ParquetConcatError("no parts to concatenate")
        _field(self.head, _FMD_NUM_ROWS)[2] = self.rows
        _field(self.head, _FMD_ROW_GROUPS)[2] = (_STRUCT, self.row_groups)
        footer = encode_struct(self.head)
        self.out.write(footer)
        self.out.write(struct.pack("<I", len(footer)))
        self.out.write(MAGIC)
        return self.rows


def concat_parquet(parts: Iterable, out, names: Iterable | None = None) -> int:
    """Write the row groups of ``parts`` (file contents, in order) as one Parquet file.

    Parameters
    ----------
    parts : iterable of bytes or callables returning bytes
        The files' contents, read one at a time (a callable is called when its
        turn comes, so at most one part is held in memory).
    out : binary file object
        Receives the new file (``write`` only; e.g. an open temp file).
    names : iterable of str, optional
        Names of the parts for error messages.

    Returns
    -------
    int
        Rows in the new file.

    Raises
    ------
    ParquetConcatError
        A part is not a plain Parquet file, uses a feature that holds absolute
        offsets outside the footer (page index, bloom filter, encryption), or
        its Parquet schema differs from the first part's.  Nothing useful has
        been written to ``out`` then.

    Notes
    -----
    The footer is the first part's with ``row_groups`` and ``num_rows``
    replaced; its key/value metadata (e.g. the Arrow schema) is the first
    part's, which is why every part must have the same schema.
    :class:`ParquetConcat` does the same part by part.
    """
    names = iter(names) if names is not None else None
    w = ParquetConcat(out)
    for k, part in enumerate(parts):
        w.add(part() if callable(part) else part,
              next(names) if names is not None else f"part {k}")
    return w.finish()
