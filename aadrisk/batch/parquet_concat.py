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

from .thrift_compact import (_LIST, _STRUCT, ThriftCompactError, _Encoded, _Hole, _Pieces,
                             _put_struct, _put_value, _put_varint, decode_struct,
                             encode_struct)

__all__ = ["ParquetConcatError", "ParquetConcat", "PartLayout", "concat_parquet",
           "decode_struct", "encode_struct", "part_layout"]

MAGIC = b"PAR1"

# parquet.thrift field ids used here
_FMD_SCHEMA, _FMD_NUM_ROWS, _FMD_ROW_GROUPS, _FMD_ENCRYPTION = 2, 3, 4, 8
_RG_COLUMNS, _RG_FILE_OFFSET, _RG_ORDINAL = 1, 5, 7
_CC_FILE_OFFSET, _CC_META, _CC_OFFSET_INDEX, _CC_COLUMN_INDEX, _CC_CRYPTO = 2, 3, 4, 6, 8
_CMD_OFFSETS = (9, 10, 11)          # data, index and dictionary page offsets
_CMD_BLOOM = 14


class ParquetConcatError(ValueError):
    """The files cannot be concatenated byte-wise (layout or schema not supported)."""


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
    try:
        meta, end = decode_struct(data, start)
    except (ThriftCompactError, IndexError, struct.error) as exc:
        raise ParquetConcatError(f"{name}: footer not readable ({exc})") from exc
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
