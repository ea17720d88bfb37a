"""Chunk files (aadrisk.batch.output): one atomic file per finished chunk."""
from __future__ import annotations

import pytest

from aadrisk.batch.output import read_chunk_info, read_chunk_part, write_chunk_file


def test_chunk_file_round_trip(tmp_path):
    f = tmp_path / "00000-k.chunk"
    write_chunk_file(f, {"key": "k", "counts": {"ok": 2}}, {"a": b"12345", "b": b"", "c": b"z"})
    info = read_chunk_info(f)
    assert info["key"] == "k" and info["counts"] == {"ok": 2}
    assert [read_chunk_part(f, info, p) for p in "abc"] == [b"12345", b"", b"z"]
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("head", [b"[1, 2]", b'{"info": {}}', b'{"parts": {}, "info": 3}',
                                  b'{"info": {}, "parts": {"a": 5}}', b"not json"])
def test_a_file_that_is_not_a_chunk_of_this_layout_reads_as_missing(tmp_path, head):
    """Such a chunk is recomputed by a resumed run, not a crash of the run."""
    f = tmp_path / "x.chunk"
    f.write_bytes(b"AADRISK-CHUNK\n" + len(head).to_bytes(8, "little") + head)
    assert read_chunk_info(f) is None


def test_a_cut_short_chunk_file_reads_as_missing(tmp_path):
    f = tmp_path / "x.chunk"
    write_chunk_file(f, {"key": "k"}, {"a": b"0123456789"})
    f.write_bytes(f.read_bytes()[:-3])
    assert read_chunk_info(f) is None
    assert read_chunk_info(tmp_path / "absent.chunk") is None
