"""Trades of one product as columns, and a vectorised first pass over a book of mappings.

:class:`TradeColumns` holds the validated fields of the trades of one product
as NumPy arrays (numbers as ``float``, everything else as object arrays of the
values :func:`aadrisk.risk.instruments.parse_trade` would store): what an
engine that declares ``columnar=True`` evaluates, without one frozen
instrument per trade.

:func:`vet_book` checks the mappings of a book column by column and vouches
only for trades it is certain :func:`~aadrisk.risk.instruments.parse_trade`
would accept unchanged: known product, no unknown or missing field, a usable
trade id, every field valid (numbers by one NumPy test, other fields by the
field's own validator once per distinct value).  Every other trade is left to
the per-trade parser, which reports its errors -- so errors are the parser's,
by construction.

:class:`BookColumns` is a book of mappings held as columns, one set per distinct
key tuple (what a JSON reader that checks a body column by column already has):
:func:`vet_book` and :func:`aadrisk.risk.greeks.greek_arrays` take it in place
of the list of mappings, without a dict per trade.

Examples
--------
>>> from aadrisk.risk.instruments import PRODUCTS
>>> book = [{"trade_id": "A", "underlying": "X", "option_type": "call", "strike": 100,
...          "expiry": "2025-06-20", "quantity": 2},
...         {"trade_id": "B", "underlying": "X", "option_type": "call", "strike": -1,
...          "expiry": "2025-06-20", "quantity": 2}]
>>> fast, slow = vet_book(book, PRODUCTS, {"european_option"})
>>> fast["european_option"][0].tolist(), fast["european_option"][1]["strike"].tolist(), slow
([0], [100.0], [1])
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from . import _validate as v
from .instruments import _TRUSTED, PRODUCTS, EuropeanOption, _layout
from .registry import INSTRUMENTS as PRODUCT_CLASSES
from .registry import factorize  # noqa: F401  (re-exported: equity engines use it)
from .registry import object_array
from ._kernels import first_seen
from ._vet_columns import CodedList, _by_value, _numbers, _trade_ids

__all__ = ["BookColumns", "CodedList", "TradeColumns", "vet_book", "columns_of", "factorize",
           "groups", "NUMBER_VALIDATORS"]

#: scalar number validators -> (lower bound, whether the bound is allowed): vetted by NumPy
NUMBER_VALIDATORS: dict[Callable, tuple[float | None, bool]] = {
    v.number: (None, True), v.positive: (0.0, False), v.non_negative: (0.0, True)}


def _objects(values) -> np.ndarray:
    """A 1-d object array of ``values`` (never a string dtype, never nested)."""
    if isinstance(values, np.ndarray) and values.dtype == object and values.ndim == 1:
        return values
    out = np.empty(len(values), dtype=object)
    out[:] = values if isinstance(values, list) else list(values)
    return out


@dataclasses.dataclass(frozen=True)
class TradeColumns:
    """Validated trades of one product, field by field.

    Attributes
    ----------
    product : str
    trade_id : ndarray of object (str)
    fields : dict of str -> ndarray
        One array per instrument field (besides ``trade_id``): ``float`` for number
        fields, object arrays of the converted values otherwise.
    """

    product: str
    trade_id: np.ndarray
    fields: dict
    #: field -> (codes, table): each value as a code into a table of distinct values, as
    #: the vetting found them; ``(codes, distinct values, True)`` once :meth:`factorized`
    #: (or from the vetting, when its codes are already in order of first appearance)
    codes: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.trade_id)

    def __getitem__(self, key):
        """The column ``key`` (a field name), or the instrument at position ``key``."""
        if isinstance(key, str):
            return self.fields[key]
        return self.records()[key]

    def __iter__(self):
        """The trades as instruments (for code written against lists of instruments)."""
        return iter(self.records())

    def records(self) -> list:
        """The trades as instruments of the product's class (built on demand, from values
        already validated)."""
        cls = PRODUCT_CLASSES.get(self.product) or PRODUCTS[self.product]
        names = list(self.fields)
        cols = [self.fields[n].tolist() for n in names]
        _TRUSTED.on = True
        try:
            return [cls(trade_id=tid, **dict(zip(names, row)))
                    for tid, *row in zip(self.trade_id.tolist(), *cols)]
        finally:
            _TRUSTED.on = False

    def take(self, idx) -> "TradeColumns":
        """The trades at positions ``idx`` (an index array or a boolean mask)."""
        return TradeColumns(self.product, self.trade_id[idx],
                            {k: c[idx] for k, c in self.fields.items()},
                            {k: (c[idx], t) for k, (c, t, *_) in self.codes.items()})

    def factorized(self, name: str) -> tuple[np.ndarray, list]:
        """``factorize(self[name])``: (codes, distinct values in order of first appearance),
        from the codes the vetting kept when it has them (computed once per column)."""
        got = self.codes.get(name)
        if got is not None and len(got) == 3:       # (codes, distinct values, True)
            return got[0], got[1]
        if got is None:
            codes, uniq = factorize(self.fields[name])
        else:                                       # codes into a table (the vetting's)
            codes, order = first_seen(got[0], len(got[1]))
            uniq = object_array(got[1])[order].tolist()
        self.codes[name] = (codes, uniq, True)
        return codes, uniq

    @classmethod
    def build(cls, product: str, instrument: type, trade_id, values: Mapping,
              codes: Mapping | None = None) -> "TradeColumns":
        """Columns from per-field sequences of converted values (numbers as floats; object
        arrays are taken as they are); ``codes``: field -> (codes, object array of
        distinct values) where known."""
        names, _ = _layout(instrument)
        fields = {}
        for name in names:
            if instrument.validators.get(name) in NUMBER_VALIDATORS:
                fields[name] = np.asarray(values[name], dtype=float)
            else:
                fields[name] = _objects(values[name])
        return cls(product, _objects(trade_id), fields, dict(codes or {}))

    @classmethod
    def from_instruments(cls, trades: Sequence, instrument: type | None = None
                         ) -> "TradeColumns":
        """Columns of validated instruments of one product (the per-trade path), with the
        fields of ``instrument`` (default: the class of the first trade)."""
        inst = instrument or (type(trades[0]) if trades else EuropeanOption)
        names, _ = _layout(inst)
        return cls.build(inst.product_type, inst, [t.trade_id for t in trades],
                         {n: [getattr(t, n) for t in trades] for n in names})

    @classmethod
    def concat(cls, parts: Sequence["TradeColumns"]) -> "TradeColumns":
        """The trades of several column sets of the same product, in order."""
        if len(parts) == 1:
            return parts[0]
        return cls(parts[0].product, np.concatenate([p.trade_id for p in parts]),
                   {k: np.concatenate([p.fields[k] for p in parts]) for k in parts[0].fields})


def columns_of(trades) -> TradeColumns:
    """``trades`` as :class:`TradeColumns` (instruments are converted; columns pass)."""
    return trades if isinstance(trades, TradeColumns) else TradeColumns.from_instruments(trades)


class BookColumns:
    """A book of trade mappings held as columns: the trades with the same keys (in the
    same order) form a group, stored as one list of values per key.

    Equivalent to the list of mappings :meth:`mappings` returns (position ``p`` is the
    mapping ``dict(zip(keys, row))`` of its group), for every function taking a book.

    Parameters
    ----------
    n : int
        Number of trades.
    groups : sequence of (keys, positions, columns)
        ``keys``: tuple of str; ``positions``: increasing book positions of the group's
        trades; ``columns``: one list per key, the values of those trades in order.
        Every position ``0 .. n - 1`` belongs to exactly one group.
    types : sequence, optional
        Per group, None or a tuple with each column's set of value types, exactly
        ``frozenset(map(type, column))`` (what a reader that checked the columns
        already knows): :func:`vet_book` then takes them instead of scanning each
        column again.  A wrong set gives wrong results.

    Examples
    --------
    >>> b = BookColumns.from_mappings([{"a": 1, "b": 2}, {"a": 3}, {"a": 5, "b": 6}])
    >>> [(keys, pos, cols) for keys, pos, cols in b.groups]
    [(('a', 'b'), [0, 2], [[1, 5], [2, 6]]), (('a',), [1], [[3]])]
    >>> b.mapping(2), b.mappings() == [{"a": 1, "b": 2}, {"a": 3}, {"a": 5, "b": 6}]
    ({'a': 5, 'b': 6}, True)
    """

    def __init__(self, n: int, groups: Sequence[tuple], types: Sequence | None = None):
        self.n = n
        self.groups = tuple(groups)
        #: per group, each column's set of value types (``frozenset(map(type, column))``)
        #: or None where not given
        self.types = (None,) * len(self.groups) if types is None else tuple(types)
        if len(self.types) != len(self.groups):
            raise ValueError("types: one entry (or None) per group")
        self._where: dict[int, tuple] | None = None

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return iter(self.mappings())

    @classmethod
    def from_mappings(cls, book: Sequence[Mapping]) -> "BookColumns":
        """The mappings of ``book``, grouped by their keys."""
        by_keys: dict[tuple, list[int]] = {}
        for pos, keys in enumerate(map(tuple, book)):
            by_keys.setdefault(keys, []).append(pos)
        return cls(len(book), [(keys, positions, [[book[p][k] for p in positions]
                                                  for k in keys])
                               for keys, positions in by_keys.items()])

    def mapping(self, pos: int) -> dict:
        """The trade at book position ``pos`` as a mapping."""
        if self._where is None:
            self._where = {p: (g, k) for g, (_, positions, _) in enumerate(self.groups)
                           for k, p in enumerate(positions)}
        g, k = self._where[pos]
        keys, _, columns = self.groups[g]
        return {key: col[k] for key, col in zip(keys, columns)}

    def mappings(self) -> list[dict]:
        """The whole book as a list of mappings, in book order."""
        out: list = [None] * self.n
        for keys, positions, columns in self.groups:
            rows = zip(*columns) if columns else ((),) * len(positions)
            for p, row in zip(positions, rows):
                out[p] = dict(zip(keys, row))
        return out


# ----------------------------------------------------------------------------- vetting
def _vet_group(cols: Mapping[str, list], size: int, cls: type, keys: tuple,
               types: Mapping[str, frozenset] | None = None):
    """(ok mask, TradeColumns) of ``size`` trades with the same keys and product (``cols``:
    key -> values), or None when their keys alone send them to the parser (unknown or
    missing fields); ``types``: key -> the set of its values' types, where known."""
    types = types or {}
    names, defaults = _layout(cls)
    allowed = set(names) | {"trade_id", "product"}
    if "trade_id" not in keys or not set(keys) <= allowed or \
            any(n not in keys and n not in defaults for n in names):
        return None
    ok, ids = _trade_ids(cols["trade_id"], types.get("trade_id"))
    values = {}
    codes = {}
    for name in names:
        conv = cls.validators.get(name)
        col, known = (cols[name], types.get(name)) if name in keys else \
            ([defaults[name]] * size, None)
        if conv is None:
            values[name] = col
        elif conv in NUMBER_VALIDATORS:
            good, values[name] = _numbers(col, *NUMBER_VALIDATORS[conv], known)
            ok &= good
        else:
            good, values[name], got = _by_value(col, conv, known)
            ok &= good
            if got is not None:
                codes[name] = got
    cols = TradeColumns.build(cls.product_type, cls, ids, values, codes)
    return ok, cols


def _by_product(keys: tuple, positions: Sequence[int], columns: list, products: Mapping,
                columnar, slow: list, types: tuple | None = None) -> list[tuple]:
    """[(product, positions, key -> values, key -> value types or None)] of a group of
    mappings with the same keys (``types``: each column's set of value types, if known),
    split by product (default: a European option); the positions of products not vetted
    are appended to ``slow``."""
    default = EuropeanOption.product_type
    known = None if types is None else dict(zip(keys, types))
    if "product" not in keys:
        if default in columnar and default in products:
            return [(default, positions, dict(zip(keys, columns)), known)]
        slow += positions
        return []
    by: dict[str, list[int]] = {}
    for k, product in enumerate(columns[keys.index("product")]):
        if type(product) is not str or product not in columnar or product not in products:
            slow.append(positions[k])
        else:
            by.setdefault(product, []).append(k)
    if len(by) == 1 and len(next(iter(by.values()))) == len(positions):
        return [(next(iter(by)), positions, dict(zip(keys, columns)), known)]
    return [(product, [positions[k] for k in ks],
             {key: [col[k] for k in ks] for key, col in zip(keys, columns)}, None)
            for product, ks in by.items()]


def vet_book(book, products: Mapping[str, type], columnar) -> tuple[dict, list]:
    """Split a book into the trades vetted column by column and the rest.

    Parameters
    ----------
    book : list or BookColumns
        Trades (mappings, or instruments: those are left to the caller).
    products : mapping
        Product name -> instrument class (``parse_trade``'s registry).
    columnar : collection of str
        The products to vet (instrument classes without cross-field rules).

    Returns
    -------
    (dict, list)
        ``product -> (positions, TradeColumns)`` of the vetted trades (positions
        increasing), and the positions of every other item, increasing.
    """
    slow: list = []
    if not isinstance(book, BookColumns) and set(map(type, book)) == {dict}:
        book = BookColumns.from_mappings(book)      # mappings only: group by keys
    if isinstance(book, BookColumns):
        groups = [g for (keys, positions, columns), types in zip(book.groups, book.types)
                  for g in _by_product(keys, positions, columns, products, columnar, slow,
                                       types)]
    else:
        by: dict = {}
        for pos, raw in enumerate(book):
            if type(raw) is not dict:
                slow.append(pos)
                continue
            product = raw.get("product", EuropeanOption.product_type)
            if type(product) is not str or product not in columnar or product not in products:
                slow.append(pos)
                continue
            by.setdefault((product, tuple(raw)), []).append(pos)
        groups = [(product, positions, {k: [book[p][k] for p in positions] for k in keys},
                   None) for (product, keys), positions in by.items()]
    parts: dict = {}
    for product, positions, cols, types in groups:
        cls = products[product]
        got = None if cls.__post_init__ is not EuropeanOption.__post_init__ else \
            _vet_group(cols, len(positions), cls, tuple(cols), types)
        if got is None:
            slow += positions
            continue
        ok, tcols = got
        pos = np.asarray(positions, dtype=np.int64)
        if not ok.all():
            slow += pos[~ok].tolist()
            pos, tcols = pos[ok], tcols.take(ok)
        if len(pos):
            parts.setdefault(product, []).append((pos, tcols))
    fast = {}
    for product, chunks in parts.items():
        first = chunks[0][0]
        if len(chunks) == 1 and bool((first[1:] > first[:-1]).all()):
            fast[product] = chunks[0]               # already in book order
            continue
        pos = np.concatenate([p for p, _ in chunks])
        cols = TradeColumns.concat([c for _, c in chunks])
        order = np.argsort(pos, kind="stable")
        fast[product] = (pos[order], cols.take(order))
    return fast, sorted(slow)


def groups(codes: np.ndarray, n_groups: int) -> list[np.ndarray]:
    """Indexes of each code's members (increasing), for codes ``0 .. n_groups - 1``."""
    if n_groups == 1:
        return [np.arange(len(codes))]
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_groups + 1))
    return [order[bounds[k]:bounds[k + 1]] for k in range(n_groups)]
