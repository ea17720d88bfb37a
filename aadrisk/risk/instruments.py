"""Instruments: immutable trade descriptions, parsed and validated from plain mappings.

An instrument is a frozen dataclass with a ``product_type`` class attribute
(the key of the product registry :data:`PRODUCTS` and of the pricer registry
:data:`aadrisk.risk.pricers.PRICERS`) and a ``validators`` table (field name ->
converter raising ``ValueError``).  It says *what* was traded, never how to
price it.  Construction validates every field and raises
:class:`~aadrisk.risk.errors.TradeError` naming the trade, the field and the
value; :func:`parse_trade` does the same from a JSON-like mapping and returns
*all* problems of the trade at once.

Examples
--------
>>> import datetime as dt
>>> opt = EuropeanOption("T1", "SPX", "call", strike=5000.0, expiry=dt.date(2025, 6, 20),
...                      quantity=10)
>>> opt.option_type, opt.is_call, opt.quantity
(<OptionType.CALL: 'call'>, True, 10.0)
>>> trade, errors = parse_trade({"trade_id": "T2", "underlying": "SPX", "option_type": "put",
...                              "strike": -1, "expiry": "2025-06-20", "quantity": "ten"})
>>> trade is None, [str(e) for e in errors]  # doctest: +NORMALIZE_WHITESPACE
(True, ["trade 'T2': field 'strike' = -1: must be a positive number",
        "trade 'T2': field 'quantity' = 'ten': must be a number, got str"])
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import enum
from collections.abc import Callable, Mapping
from typing import ClassVar

from . import _validate as v
from .errors import TradeError


class Choice(str, enum.Enum):
    """A field with a few allowed string values (subclass with the members)."""

    @classmethod
    def parse(cls, value: object):
        """A member from its value in any case (or a member); ``ValueError`` naming the
        allowed values otherwise."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        raise ValueError("must be " + " or ".join(f"'{m.value}'" for m in cls))


class OptionType(Choice):
    """Call or put (the string values are what books contain)."""

    CALL = "call"
    PUT = "put"


#: Product type name -> instrument class.  Extend with :func:`register_product`.
PRODUCTS: dict[str, type] = {}


def register_product(cls: type) -> type:
    """Class decorator: register an instrument class under its ``product_type``."""
    PRODUCTS[cls.product_type] = cls
    return cls


@register_product
@dataclasses.dataclass(frozen=True)
class EuropeanOption:
    """A European call or put on one underlying, exercised at expiry only.

    Parameters
    ----------
    trade_id : str
        Unique identifier within the book.
    underlying : str
        Name of the underlying as quoted in the market snapshot.
    option_type : OptionType or str
        ``"call"`` or ``"put"``.
    strike : float
        Strike price, in the underlying's currency per unit of underlying (> 0).
    expiry : datetime.date
        Expiry date; time to expiry is Act/365F from the valuation date.
    quantity : float
        Number of units of underlying (contracts times multiplier); negative for
        a short position.  Results are scaled by it.  Required: a position size
        is never guessed.
    """

    product_type: ClassVar[str] = "european_option"

    trade_id: str
    underlying: str
    option_type: OptionType
    strike: float
    expiry: dt.date
    quantity: float

    #: Field name -> converter/validator (raises ``ValueError`` with the reason).
    validators: ClassVar[Mapping[str, Callable]] = {
        "underlying": v.text, "option_type": OptionType.parse, "strike": v.positive,
        "expiry": v.date, "quantity": v.number}

    def __post_init__(self):
        validate_fields(self)

    @property
    def is_call(self) -> bool:
        """True for a call."""
        return self.option_type is OptionType.CALL

    @classmethod
    def fields(cls) -> list[str]:
        """Field names accepted in a book (besides ``product``)."""
        return [f.name for f in dataclasses.fields(cls)]


_TRUSTED = threading.local()


def validate_fields(inst) -> None:
    """Validate and convert an instrument's fields on construction (its ``validators``);
    raise the first :class:`TradeError`.  Skipped while :func:`parse_trade` constructs the
    instrument from values it has just validated (each field is checked once)."""
    if getattr(_TRUSTED, "on", False):
        return
    if not isinstance(inst.trade_id, str) or not inst.trade_id.strip():
        raise TradeError("#?", "trade_id", inst.trade_id, "must be a non-empty string")
    values = {n: getattr(inst, n) for n in inst.validators}
    errors = check_fields(inst.trade_id, values, inst.validators,
                          lambda name, val: object.__setattr__(inst, name, val))
    if errors:
        raise errors[0]


def check_fields(trade_id: str, values: Mapping[str, object],
                 validators: Mapping[str, Callable],
                 store: Callable[[str, object], None] | None = None) -> list[TradeError]:
    """Run each field's validator; pass converted values to ``store``; return all errors."""
    errors = []
    for name, value in values.items():
        conv = validators.get(name)
        if conv is None:
            continue
        try:
            converted = conv(value)
        except ValueError as exc:
            errors.append(TradeError(trade_id, name, value, str(exc)))
            continue
        if store is not None:
            store(name, converted)
    return errors


_MISSING = object()
_LAYOUTS: dict[type, tuple[list[str], dict[str, object]]] = {}


def _layout(cls: type) -> tuple[list[str], dict[str, object]]:
    """(field names besides ``trade_id``, defaults) of an instrument class, computed once
    per class (a dataclass's fields never change after its definition)."""
    got = _LAYOUTS.get(cls)
    if got is None:
        names = [n for n in cls.fields() if n != "trade_id"]
        defaults = {f.name: f.default for f in dataclasses.fields(cls)
                    if f.default is not dataclasses.MISSING}
        got = _LAYOUTS[cls] = (names, defaults)
    return got


def parse_trade(raw: object, position: int | None = None, *,
                products: Mapping[str, type] | None = None
                ) -> tuple[object | None, list[TradeError]]:
    """Build an instrument from a JSON-like mapping, collecting every problem.

    Parameters
    ----------
    raw : mapping
        ``{"trade_id": ..., "product": "european_option" (default), <fields>}``.
    position : int, optional
        Index of the trade in its book, used as ``"#<position>"`` when the trade
        has no ``trade_id``.
    products : mapping, optional
        Product type -> instrument class to accept (default :data:`PRODUCTS`).

    Returns
    -------
    (instrument or None, list of TradeError)
        The instrument when the list is empty, else ``None``.
    """
    fallback = f"#{position}" if position is not None else "#?"
    if not isinstance(raw, Mapping):
        return None, [TradeError(fallback, "trade", raw, "must be a JSON object (a mapping)")]
    tid = raw.get("trade_id", _MISSING)
    errors: list[TradeError] = []
    if tid is _MISSING or not isinstance(tid, (str, int)) or isinstance(tid, bool) \
            or not str(tid).strip():
        errors.append(TradeError(fallback, "trade_id", None if tid is _MISSING else tid,
                                 "missing or not a non-empty string"))
        trade_id = fallback
    else:
        trade_id = str(tid).strip()
    products = PRODUCTS if products is None else products
    product = raw.get("product", EuropeanOption.product_type)
    cls = products.get(product) if isinstance(product, str) else None
    if cls is None:
        errors.append(TradeError(trade_id, "product", product,
                                 f"unknown product; known: {sorted(products)}"))
        return None, errors
    names, defaults = _layout(cls)
    for key in raw:
        if key not in names and key not in ("trade_id", "product"):
            errors.append(TradeError(trade_id, key, raw[key],
                                     f"unknown field for {product}; expected {names}"))
    values = {}
    for name in names:
        if name in raw:
            values[name] = raw[name]
        elif name in defaults:
            values[name] = defaults[name]
        else:
            errors.append(TradeError(trade_id, name, None, "missing"))
    converted = dict(values)
    errors += check_fields(trade_id, values, cls.validators, converted.__setitem__)
    if errors:
        return None, errors
    _TRUSTED.on = True     # fields validated above; __post_init__ keeps its cross-field rules
    try:
        return cls(trade_id=trade_id, **converted), []
    except TradeError as exc:
        return None, [exc]
    finally:
        _TRUSTED.on = False
