"""Merging a run's finished chunks into its final files, in chunk order, while later
chunks are still computing (see :mod:`.run`, step 4).

:class:`_Merger` appends each chunk's long parts byte-wise to hidden temp files of
the final outputs (:class:`.parquet_concat.ParquetConcat`), keeps its errors and
partial aggregates, and at the end writes the footers, moves the files into place
and adds up the partial sums; :class:`_Parts` reads a chunk's parts from its chunk
file or from memory; :class:`_Closing` shuts an executor down off the main thread.
"""
from __future__ import annotations

import functools
import hashlib
import io
import threading
from pathlib import Path

import pandas as pd

from .chunk import SCHEMAS, encode_frame
from .output import AtomicFile, atomic_write_bytes, atomic_write_stream, read_chunk_info, \
    read_chunk_part
from .parquet_concat import ParquetConcat, ParquetConcatError, concat_parquet
from .portfolio import PROBLEM_COLUMNS

#: final files that are the chunks' parts concatenated -> the part's name
_CONCATENATED = {"trades": "prices", "greeks": "greeks", "zero_greeks": "zero_greeks"}


def _stem(task_or_index, key=None) -> str:
    if key is None:
        return f"{task_or_index.index:05d}-{task_or_index.key[:16]}"
    return f"{task_or_index:05d}-{key[:16]}"


class _Parts:
    """The chunks' parts, from the chunk files of ``DIR/chunks`` or from memory."""

    def __init__(self, tasks, chunks_dir: Path | None, results: dict):
        self.tasks, self.dir, self.results = tasks, chunks_dir, results
        self._info: dict = {}        # chunk index -> its chunk file's header (read once)

    def path(self, task) -> Path:
        return self.dir / f"{_stem(task)}.chunk"

    def name(self, task, part: str) -> str:
        """The part's name in messages."""
        return f"{self.path(task)}:{part}" if self.dir is not None else f"chunk {task.index}:{part}"

    def data(self, task, part: str) -> bytes:
        if self.dir is None:
            return self.results[task.index][part]
        path = self.path(task)
        info = self._info.get(task.index)
        if info is None:
            info = read_chunk_info(path)
            if info is None:
                raise OSError(f"{path}: not a complete chunk file")
            self._info[task.index] = info
        return read_chunk_part(path, info, part)

    def frame(self, part: str, columns) -> pd.DataFrame:
        """All chunks' ``part`` as one frame, in chunk order."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        tables = [pq.read_table(io.BytesIO(self.data(t, part))) for t in self.tasks]
        if not tables:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        return pa.concat_tables(tables).to_pandas()

    def concat_to(self, dest: Path, part: str) -> tuple[int, str]:
        """Concatenate the chunk files of ``part`` into ``dest`` (atomic); (rows, sha256).

        Byte-wise (:mod:`.parquet_concat`): no decoding.  Should a chunk file not
        allow it, the tables are read and written again by pyarrow instead (same
        result for the same chunk files, just slower).
        """
        def fill(fh):
            return concat_parquet([functools.partial(self.data, t, part) for t in self.tasks],
                                  fh, names=[self.name(t, part) for t in self.tasks])

        try:
            return atomic_write_stream(dest, fill)
        except ParquetConcatError:
            data = encode_frame(self.frame(part, SCHEMAS[part].names), SCHEMAS[part])
            atomic_write_bytes(dest, data)
            return _rows(data), hashlib.sha256(data).hexdigest()


def _rows(data: bytes) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(io.BytesIO(data)).metadata.num_rows


class _Closing(threading.Thread):
    """``executor.close()`` in the background; :meth:`join` re-raises its exception."""

    def __init__(self, executor):
        super().__init__(name="aadrisk-close-executor", daemon=True)
        self.executor, self.error = executor, None
        self.start()

    def run(self) -> None:
        try:
            self.executor.close()
        except BaseException as exc:  # noqa: BLE001  (re-raised by join)
            self.error = exc

    def join(self, timeout=None) -> None:
        super().join(timeout)
        if self.error is not None:
            err, self.error = self.error, None
            raise err


class _Merger:
    """Merges the chunks in chunk order as they complete (while later chunks compute).

    :meth:`add` takes a chunk that is done: a result in memory (its parts'
    bytes) or a committed / reused chunk (``None``: the parts are read from
    the chunk files when its turn comes).  Whenever the chunks 0..k are all
    there, they are merged: the ``prices`` / ``greeks`` / ``zero_greeks`` parts
    appended byte-wise to the hidden temp files of the final Parquet outputs
    (with ``stream``: a run writing Parquet), the errors and partial aggregates
    decoded.  A chunk that arrives early keeps its bytes in memory until its
    turn (at most ``hold`` chunks; later ones are read back from their files).
    What is written does not depend on the order in which chunks arrive: the
    same bytes as concatenating the chunk files after the run.
    """

    def __init__(self, chunks, parts: "_Parts", out: Path | None, stream: bool,
                 hold: int = 8):
        self.chunks, self.parts, self.out, self.stream, self.hold = chunks, parts, out, \
            stream, hold
        self.next, self.ready = 0, {}
        self.errors: list = []
        self.aggregates: list = []
        self.files: dict = {}            # final name -> (AtomicFile, ParquetConcat)
        self.failed: set = set()         # outputs left to the whole-file fallback
        self.no_errors: set = set()      # chunks known to have no error rows

    def add(self, index: int, res: dict | None = None, errors: int | None = None) -> None:
        """Chunk ``index`` is done (``res``: its result in memory; ``errors``: its count of
        error rows when known, 0 sparing the decoding of its empty errors part)."""
        if errors == 0:
            self.no_errors.add(index)
        self.ready[index] = res
        if res is not None and self.parts.dir is not None:
            early = [k for k, r in self.ready.items() if r is not None and k != self.next]
            for k in sorted(early)[:max(0, len(early) - self.hold)]:
                self.ready[k] = None     # committed: read back from its files when due
        while self.next in self.ready:
            self._merge(self.chunks[self.next], self.ready.pop(self.next))
            self.next += 1

    def _merge(self, chunk, res) -> None:
        import pyarrow.parquet as pq

        def data(part):
            return res[part] if res is not None else self.parts.data(chunk, part)

        # ParquetFile.read: the table without pyarrow's dataset layer (a third of read_table)
        if chunk.index not in self.no_errors:
            self.errors.append(pq.ParquetFile(io.BytesIO(data("errors"))).read(
                use_threads=False))
        # kept as Arrow tables (sent by the worker, or decoded from a chunk file):
        # combine_aggregates concatenates them once, at the end
        table = res.get("aggregates_table") if res is not None else None
        self.aggregates.append(table if table is not None else pq.ParquetFile(
            io.BytesIO(data("aggregates"))).read(use_threads=False))
        if not self.stream:
            return
        for name, part in _CONCATENATED.items():
            if name in self.failed:
                continue
            if name not in self.files:
                f = AtomicFile(self.out / f"{name}.parquet")
                self.files[name] = (f, ParquetConcat(f))
            f, w = self.files[name]
            try:
                w.add(data(part), self.parts.name(chunk, part),
                      res["layouts"][part] if res is not None else None)
            except ParquetConcatError:
                f.abort()
                del self.files[name]
                self.failed.add(name)

    def errors_frame(self) -> pd.DataFrame:
        import pyarrow as pa

        if not self.errors:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in PROBLEM_COLUMNS})
        return pa.concat_tables(self.errors).to_pandas()

    def finish(self, name: str) -> tuple[int, str]:
        """Write the final Parquet output ``name`` (one of :data:`_CONCATENATED`): (rows,
        sha256)."""
        assert self.next == len(self.chunks), "merge finished before every chunk was added"
        if name in self.files:
            f, w = self.files.pop(name)
            try:
                rows = w.finish()
            except BaseException:
                f.abort()
                raise
            return rows, f.commit()
        # no chunk, or a chunk file the byte-wise concatenation refused: whole-file path
        return self.parts.concat_to(self.out / f"{name}.parquet", _CONCATENATED[name])

    def abort(self) -> None:
        for f, _ in self.files.values():
            f.abort()
        self.files.clear()
