"""Kernels loaded from Numba's disk cache without parsing their LLVM bitcode.

Numba caches a kernel as its machine code (an object file) and its optimised LLVM IR
as bitcode, the *shared module*. The bitcode is needed only to link the kernel into
another kernel compiled later in the same process (and to cache the kernel again),
yet Numba parses it at every load, to learn the names of the symbols the kernel
defines (``JitEngine._defined_symbols``, which ``get_pointer_to_function`` checks).
On the vanilla request path that is 13 kernels with 1.1 MB of bitcode: about
120 ms of LLVM parsing and 25 ms of walking its symbols in Python, half of a server
process's warm-up (the tape interpreter ``run_lane`` alone is ~60 ms).

:func:`install` makes a load take the defined names from the object file's ELF
symbol table instead (well under 0.1 ms a kernel) and keeps the bitcode as bytes,
parsed on first use of the shared module (``CPUCodeLibrary._get_module_for_linking``:
a kernel compiled later that calls this one). The engine answers as before: a name
that is not in the tables read so far makes it parse every bitcode still pending
and add its symbols, exactly what Numba's load would have added, before it answers.
Over the 124 cached kernels of this package, the two sets of names were equal for
every kernel (tests/service/test_numba_symbols.py checks this on the request path).
An object file that is not ELF-64 little-endian (macOS, Windows) loads as in Numba.

Examples
--------
>>> elf_defined_symbols(b"not an object file") is None
True
"""
from __future__ import annotations

import struct

__all__ = ["elf_defined_symbols", "install"]

_SHT_SYMTAB = 2
_STT_SECTION, _STT_FILE = 3, 4
_SECTION = struct.Struct("<IIQQQQIIQQ")  # Elf64_Shdr
_SYMBOL = struct.Struct("<IBBHQQ")       # Elf64_Sym
#: the engine's bitcodes whose symbols are not read yet (an attribute of the engine)
_PENDING = "_aadrisk_pending_bitcode"
#: a library's bitcode not parsed yet (an attribute of the library)
_LAZY = "_aadrisk_shared_bitcode"


def elf_defined_symbols(obj: bytes) -> set[str] | None:
    """Names of the symbols an ELF-64 little-endian object file defines.

    Parameters
    ----------
    obj : bytes
        An object file, as Numba caches a kernel's machine code.

    Returns
    -------
    set of str or None
        Every symbol of its symbol table with a section (not undefined), other than
        section and file symbols; None if ``obj`` is not ELF-64 little-endian.

    Raises
    ------
    struct.error, ValueError, UnicodeDecodeError
        A truncated or malformed ELF file.
    """
    if obj[:6] != b"\x7fELF\x02\x01":
        return None
    shoff, = struct.unpack_from("<Q", obj, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", obj, 0x3A)
    if shentsize != _SECTION.size:
        return None
    names = set()
    for i in range(shnum):
        sh = _SECTION.unpack_from(obj, shoff + i * shentsize)
        if sh[1] != _SHT_SYMTAB:
            continue
        offset, size, link = sh[4], sh[5], sh[6]
        strings = _SECTION.unpack_from(obj, shoff + link * shentsize)[4]
        for name, info, _, shndx, _, _ in _SYMBOL.iter_unpack(obj[offset:offset + size]):
            if shndx == 0 or (info & 0xF) in (_STT_SECTION, _STT_FILE):
                continue
            start = strings + name
            names.add(obj[start:obj.index(b"\0", start)].decode())
    return names


def _patched(CPUCodeLibrary, JitEngine, ll):
    """The three replacements, closed over Numba's originals."""
    unserialize = CPUCodeLibrary.__dict__["_unserialize"].__func__
    for_linking = CPUCodeLibrary._get_module_for_linking
    defined = JitEngine.is_symbol_defined

    def _unserialize(cls, codegen, state):
        name, kind, data = state
        try:
            names = elf_defined_symbols(data[0]) if kind == "object" else None
        except (struct.error, ValueError, UnicodeDecodeError):   # not a well-formed ELF
            names = None
        if names is None:
            return unserialize(cls, codegen, state)
        object_code, shared_bitcode = data
        self = codegen.create_library(name)
        self.enable_object_caching()
        self._set_compiled_object(object_code)
        setattr(self, _LAZY, shared_bitcode)
        self._finalize_final_module()
        engine = self._codegen._engine
        engine._defined_symbols |= names
        engine.__dict__.setdefault(_PENDING, []).append(shared_bitcode)
        return self

    def _get_module_for_linking(self):
        bitcode = self.__dict__.pop(_LAZY, None)
        if bitcode is not None:
            self._shared_module = ll.parse_bitcode(bitcode)
        return for_linking(self)

    def is_symbol_defined(self, name):
        if name not in self._defined_symbols:
            pending = self.__dict__.pop(_PENDING, ())
            for bitcode in pending:
                self._load_defined_symbols(ll.parse_bitcode(bitcode))
        return defined(self, name)

    return _unserialize, _get_module_for_linking, is_symbol_defined


def install() -> bool:
    """Replace Numba's loading of cached kernels as the module docstring says (once per
    process; the caller holds a lock). Returns False, and changes nothing, if this
    Numba does not have the methods the replacements use."""
    import llvmlite.binding as ll
    from numba.core.codegen import CPUCodeLibrary, JitEngine

    needs = (hasattr(CPUCodeLibrary, a) for a in (
        "enable_object_caching", "_set_compiled_object", "_finalize_final_module",
        "_get_module_for_linking"))
    if not (all(needs) and isinstance(CPUCodeLibrary.__dict__.get("_unserialize"), classmethod)
            and hasattr(JitEngine, "_load_defined_symbols")):
        return False
    unserialize, for_linking, defined = _patched(CPUCodeLibrary, JitEngine, ll)
    CPUCodeLibrary._unserialize = classmethod(unserialize)
    CPUCodeLibrary._get_module_for_linking = for_linking
    JitEngine.is_symbol_defined = defined
    return True
