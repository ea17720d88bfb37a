"""service.numba_symbols: cached kernels loaded without parsing their bitcode define the
symbols Numba's own load finds, link into kernels compiled later, and the engine still
finds a symbol that only the bitcode names."""
from __future__ import annotations

import struct
import subprocess
import sys
import textwrap

import pytest

from service.numba_symbols import elf_defined_symbols


def _run(code: str, *args: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.split()


def test_truncated_elf_raises():
    head = bytearray(b"\x7fELF\x02\x01" + bytes(58))
    struct.pack_into("<Q", head, 0x28, 10_000)           # section headers past the end
    struct.pack_into("<HH", head, 0x3A, 64, 3)
    with pytest.raises(struct.error):
        elf_defined_symbols(bytes(head))


def test_not_elf64_is_none():
    assert elf_defined_symbols(b"\x7fELF\x01\x01" + bytes(64)) is None   # ELF-32
    assert elf_defined_symbols(b"\xcf\xfa\xed\xfe" + bytes(64)) is None  # Mach-O


def test_symbol_table_names_equal_the_bitcode_s_for_every_product():
    """In a process with Numba's own loading, every kernel that pricing the warm-up book
    (every product) loads from the disk cache: the ELF names equal the defined names of
    its parsed shared bitcode."""
    code = """
    import llvmlite.binding as ll
    from numba.core import codegen
    from service.numba_symbols import elf_defined_symbols
    states = []
    real = codegen.CPUCodeLibrary.__dict__["_unserialize"].__func__
    def spy(cls, cg, state):
        states.append(state)
        return real(cls, cg, state)
    codegen.CPUCodeLibrary._unserialize = classmethod(spy)
    from service.compute import Job, evaluate
    from service.markets import parse_market
    from service.warmup import WARMUP_MARKET, warmup_trades
    evaluate(parse_market(WARMUP_MARKET), [Job(warmup_trades(), {"portfolio": "p"})])
    n = bad = 0
    for name, kind, data in states:
        mod = ll.parse_bitcode(data[1])
        want = {g.name for gs in (mod.functions, mod.global_variables) for g in gs
                if not g.is_declaration}
        n += kind == "object"
        bad += elf_defined_symbols(data[0]) != want
    print(n, len(states), bad)
    """
    n, total, bad = map(int, _run(code))
    assert n == total >= 10 and bad == 0


_MODULE = """
import numba

@numba.njit(cache=True)
def f(x):
    return 2.0 * x + 1.0
"""

_LOADED = """
import numba
from numba.core.registry import cpu_target
from service.numba_init import init_numba_target
from service.numba_symbols import _LAZY, _PENDING
init_numba_target()
import kern
assert kern.f(3.0) == 7.0 and sum(kern.f.stats.cache_hits.values()) == 1
cres = next(iter(kern.f.overloads.values()))
engine = cpu_target.target_context.codegen()._engine
name = cres.fndesc.llvm_func_name
lazy = hasattr(cres.library, _LAZY) and len(engine.__dict__.get(_PENDING, ())) >= 1
known = name in engine._defined_symbols
engine._defined_symbols.discard(name)
refound = engine.is_symbol_defined(name) and _PENDING not in engine.__dict__
unknown = engine.is_symbol_defined("aadrisk_no_such_symbol")
g = numba.njit(lambda x: kern.f(x) + 1.0)
linked = g(3.0) == 8.0 and not hasattr(cres.library, _LAZY)
print(lazy, known, refound, unknown, linked)
"""


def test_loaded_kernel_is_lazy_links_and_its_names_are_found(tmp_path):
    """A kernel loaded from the disk cache keeps its bitcode unparsed and its names
    known; a name taken out of the engine's table is found again by parsing what is
    pending (an unknown name is not); a kernel compiled afterwards that calls it links
    it (its bitcode parsed then) and computes."""
    (tmp_path / "kern.py").write_text(_MODULE)
    env_code = "import sys; sys.path.insert(0, sys.argv[1]); "
    _run(env_code + "import kern; print(kern.f(1.0))", str(tmp_path))   # compiles, caches
    out = _run(env_code + _LOADED, str(tmp_path))
    assert out == ["True", "True", "True", "False", "True"]
