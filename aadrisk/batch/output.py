"""Atomic writers: every file appears whole or not at all (write to a temp file in the
same directory, fsync, ``os.replace``), so a run killed at any instant never leaves
a half-written result that a resumed run would trust.

Parquet is written with pyarrow without the pandas index and with a fixed
writer configuration, so the same frame gives the same bytes.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import pandas as pd

__all__ = ["AtomicFile", "atomic_write_bytes", "atomic_write_stream", "atomic_write_json",
           "write_chunk_file", "read_chunk_info", "read_chunk_part", "frame_to_bytes",
           "frame_from_bytes", "write_frame", "read_frame", "FORMATS"]

FORMATS = ("parquet", "csv")
_UMASK = os.umask(0)
os.umask(_UMASK)


class AtomicFile:
    """A file written piece by piece (possibly over a long time) that appears whole at
    :meth:`commit` or not at all (:meth:`abort`, or a killed process: only a hidden
    temp file ``.NAME.*.tmp`` in the same directory is left).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> f = AtomicFile(d / "x.txt")
    >>> _ = f.write(b"hello ")
    >>> (d / "x.txt").exists()
    False
    >>> _ = f.write(b"world")
    >>> f.commit()[:12]
    'b94d27b9934d'
    >>> (d / "x.txt").read_bytes()
    b'hello world'
    """

    def __init__(self, path, digest: bool = True):
        import hashlib

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                        suffix=".tmp")
        self._fh = os.fdopen(fd, "wb")
        self._sha = hashlib.sha256() if digest else None

    def write(self, data) -> int:
        if self._sha is not None:
            self._sha.update(data)
        return self._fh.write(data)

    def commit(self) -> str | None:
        """Flush, fsync and move the file into place; the sha256 hex digest of its bytes
        (None when made with ``digest=False``)."""
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            os.chmod(self.tmp, 0o666 & ~_UMASK)
            os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        return self._sha.hexdigest() if self._sha is not None else None

    def abort(self) -> None:
        """Drop the temp file (nothing appears); harmless after :meth:`commit`."""
        try:
            self._fh.close()
        except OSError:
            pass
        try:
            os.unlink(self.tmp)
        except OSError:
            pass


def _atomic(path, fill, digest: bool = True):
    """Write ``path`` from ``fill(fh)`` (a binary file) so that it appears whole or not
    at all: a temp file in the same directory, fsync, ``os.replace``."""
    f = AtomicFile(path, digest)
    try:
        result = fill(f)
    except BaseException:
        f.abort()
        raise
    return result, f.commit()


def atomic_write_bytes(path, data: bytes) -> None:
    _atomic(path, lambda fh: fh.write(data))


def atomic_write_stream(path, fill) -> tuple:
    """Write ``path`` atomically from ``fill(fh)``, which writes to the binary file ``fh``.

    Returns ``(fill's result, sha256 hex digest of the bytes written)``.  Like
    :func:`atomic_write_bytes`, the file appears whole (temp file, fsync,
    ``os.replace``) or not at all; the content is never held in memory whole.
    """
    return _atomic(path, fill)


def atomic_write_json(path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=str)
                              + "\n").encode())


_CHUNK_MAGIC = b"AADRISK-CHUNK\n"


def write_chunk_file(path, info: dict, parts: dict) -> None:
    """Write a finished chunk as ONE file, atomically: its ``info`` (JSON) and its
    ``parts`` (name -> bytes, e.g. Parquet files) one after the other.

    The file appearing is the chunk being done (one temp file, one fsync, one
    ``os.replace`` instead of one per part and a separate done-marker).  Layout:
    a magic line, the header's length (8 bytes, little-endian), the header
    ``{"info": info, "parts": {name: [offset, length]}}`` (offsets from the end
    of the header), then the parts' bytes in the order given.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "c.chunk"
    >>> write_chunk_file(f, {"key": "k"}, {"a": b"xy", "b": b"z"})
    >>> info = read_chunk_info(f)
    >>> info["key"], read_chunk_part(f, info, "b")
    ('k', b'z')
    """
    index, at = {}, 0
    for name, data in parts.items():
        index[name] = [at, len(data)]
        at += len(data)
    head = json.dumps({"info": info, "parts": index}, sort_keys=True, default=str).encode()

    def fill(fh):
        fh.write(_CHUNK_MAGIC + len(head).to_bytes(8, "little") + head)
        for data in parts.values():
            fh.write(data)

    _atomic(path, fill, digest=False)     # nobody needs a chunk file's sha256


def read_chunk_info(path) -> dict | None:
    """The ``info`` of a chunk file (with ``"_parts"``: where its parts are), or None when
    the file is missing, not a chunk file or shorter than its header says."""
    try:
        with open(path, "rb") as fh:
            if fh.read(len(_CHUNK_MAGIC)) != _CHUNK_MAGIC:
                return None
            n = int.from_bytes(fh.read(8), "little")
            head = json.loads(fh.read(n))
            start = fh.tell()
            size = os.fstat(fh.fileno()).st_size
        parts = {name: (start + at, length) for name, (at, length) in head["parts"].items()}
        info = dict(head["info"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None        # missing, or not a chunk file of this layout: recomputed
    if any(at + length > size for at, length in parts.values()):
        return None
    return dict(info, _parts=parts)


def read_chunk_part(path, info: dict, name: str) -> bytes:
    """The bytes of part ``name`` of a chunk file (``info``: :func:`read_chunk_info`)."""
    at, length = info["_parts"][name]
    with open(path, "rb") as fh:
        fh.seek(at)
        data = fh.read(length)
    if len(data) != length:
        raise OSError(f"{path}: part {name!r} cut short")
    return data


def frame_to_bytes(df: pd.DataFrame, fmt: str = "parquet") -> bytes:
    """The file content of ``df`` as Parquet (zstd, no index) or CSV."""
    if fmt == "csv":
        return df.to_csv(index=False, lineterminator="\n").encode()
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", use_dictionary=True,
                   write_statistics=False)
    return buf.getvalue()


def frame_from_bytes(data: bytes) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data)).to_pandas()


def write_frame(df: pd.DataFrame, path, fmt: str = "parquet") -> Path:
    path = Path(path)
    atomic_write_bytes(path, frame_to_bytes(df, fmt))
    return path


def read_frame(path) -> pd.DataFrame:
    path = Path(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas()
