"""Request and response schemas (Pydantic 2) matching docs/formats.md.

Requests are validated for *shape and JSON types* here (422 with the path of
every bad field); the *rules* of a trade (strike > 0, a known product, an
expiry after the valuation date ...) are checked by the library per trade, so
that one bad trade is reported beside the others (200) and never sinks the
request. Market documents follow docs/schemas/market.schema.json; the library
then reports anything it cannot use (422 naming the input).

The trade model is derived at run time from
:data:`aadrisk.risk.greeks.GREEK_PRODUCTS`: every field of every product,
typed from the dataclass annotation (numbers, dates, strings), optional here.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import typing
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (AfterValidator, AllowInfNan, BaseModel, ConfigDict, Field, Strict,
                      StringConstraints, create_model)

#: A finite JSON number (int or float; never a bool, a numeric string, NaN or Infinity).
Number = Annotated[float, Strict(), AllowInfNan(False)]
PositiveNumber = Annotated[Number, Field(gt=0)]


def _iso_date(value: str) -> str:
    dt.date.fromisoformat(value)  # ValueError -> 422 naming the field
    return value


#: An ISO calendar date ``YYYY-MM-DD`` given as a JSON string (kept as the string).
Date = Annotated[str, Strict(), StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
                 AfterValidator(_iso_date), Field(json_schema_extra={"format": "date"})]
Text = Annotated[str, Strict()]
Tenor = Annotated[str, StringConstraints(pattern=r"^([0-9]+[DWMYdwmy]|[0-9]+[xX][0-9]+)$")]
MarketId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
DayCount = Literal["ACT/360", "ACT/365F", "30/360"]

_FORBID = ConfigDict(extra="forbid")


# ----------------------------------------------------------------------------- market
class Underlying(BaseModel):
    """One underlying of a market snapshot."""

    model_config = _FORBID
    spot: PositiveNumber
    vol: Optional[PositiveNumber] = None
    div_yield: Optional[Number] = None
    currency: Optional[Annotated[str, StringConstraints(min_length=1), Strict()]] = None


class Conventions(BaseModel):
    """Curve conventions (defaults of ``aadrisk.market.bootstrap.Conventions``)."""

    model_config = _FORBID
    holidays: Optional[list[Date]] = None
    convention: Optional[Literal["F", "MF", "P", "U"]] = None
    depo_dc: Optional[DayCount] = None
    fixed_tenor: Optional[Tenor] = None
    fixed_dc: Optional[DayCount] = None
    float_tenor: Optional[Tenor] = None
    float_dc: Optional[DayCount] = None


class Quote(BaseModel):
    """A par quote of a curve."""

    model_config = _FORBID
    kind: Literal["depo", "fra", "swap", "ois"]
    tenor: Tenor
    rate: Number


class Curve(BaseModel):
    """A curve bootstrapped from par quotes."""

    model_config = _FORBID
    currency: Optional[Text] = None
    discount: Optional[Text] = None
    method: Optional[Literal["loglinear_df", "linear_zero"]] = None
    conventions: Optional[Conventions] = None
    quotes: Annotated[list[Quote], Field(min_length=1)]


class VolSurface(BaseModel):
    """Black vols ``vols[i][j]`` at expiry i and strike j."""

    model_config = _FORBID
    expiries: Annotated[list[Date], Field(min_length=1)]
    strikes: Annotated[list[PositiveNumber], Field(min_length=1)]
    vols: Annotated[list[Annotated[list[PositiveNumber], Field(min_length=1)]],
                    Field(min_length=1)]


class RateVols(BaseModel):
    """Rate vols: an ATM swaption matrix (``tenors`` given) or caplet vols by expiry."""

    model_config = _FORBID
    model: Literal["black", "bachelier"]
    currency: Optional[Text] = None
    expiries: Annotated[list[Tenor], Field(min_length=1)]
    tenors: Optional[Annotated[list[Tenor], Field(min_length=1)]] = None
    vols: Annotated[list[Any], Field(min_length=1)]


MARKET_EXAMPLE = {
    "valuation_date": "2024-06-28",
    "rates": {"USD": 0.0525},
    "underlyings": {"SPX": {"spot": 5460.48, "div_yield": 0.013, "currency": "USD"}},
    "vol_surfaces": {"SPX": {"expiries": ["2024-12-20", "2025-06-20"],
                             "strikes": [5000, 5500], "vols": [[0.167, 0.135],
                                                               [0.168, 0.141]]}},
}


class Market(BaseModel):
    """A market snapshot (flat or full; docs/formats.md, docs/schemas/market.schema.json)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [MARKET_EXAMPLE]})
    description: Optional[Text] = None
    valuation_date: Date
    rate: Optional[Number] = None
    rates: Optional[dict[str, Number]] = None
    underlyings: Optional[dict[str, Underlying]] = None
    curves: Optional[dict[str, Curve]] = None
    discount_curves: Optional[dict[str, Text]] = None
    vol_surfaces: Optional[dict[str, VolSurface]] = None
    # model parameters: numbers per underlying, or per-expiry slices
    # ({"expiries": {DATE: {param: x}}}), or a local-vol grid ({times, spots, vols});
    # the library validates the inner layout and names what it refuses (422)
    models: Optional[dict[str, dict[str, dict[str, Any]]]] = None
    rate_vols: Optional[dict[str, RateVols]] = None

    def document(self) -> dict:
        """The snapshot as the JSON-like mapping the library parses (only given fields)."""
        return self.model_dump(mode="json", exclude_unset=True)


# ----------------------------------------------------------------------------- trades
def _pydantic_type(hint: Any) -> Any:
    """JSON type accepted for a product field with annotation ``hint``."""
    if hint in (int, float):
        return Number
    if hint is dt.date:
        return Date
    if hint is str or (isinstance(hint, type) and issubclass(hint, (str, enum.Enum))):
        return Text
    return Any


def product_fields(cls: type) -> list[dict]:
    """Fields of an instrument class: name, JSON type, required, default.

    Derived from ``dataclasses.fields`` and the annotations (never hard-coded).
    """
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.name == "trade_id":
            continue
        t = _pydantic_type(hints.get(f.name))
        kind = {Number: "number", Date: "date", Text: "string"}.get(t, "any")
        has_default = f.default is not dataclasses.MISSING
        default = f.default.value if isinstance(f.default, enum.Enum) else f.default
        out.append({"name": f.name, "type": kind, "required": not has_default,
                    "default": default if has_default else None})
    return out


TRADE_EXAMPLE = {"trade_id": "SPX-C-5500-DEC24", "product": "european_option",
                 "underlying": "SPX", "option_type": "call", "strike": 5500,
                 "expiry": "2024-12-20", "quantity": 100}


@functools.lru_cache(maxsize=1)
def trade_field_types() -> dict[str, Any]:
    """Field name -> JSON type (``Number``, ``Date``, ``Text`` or ``Any``) of the trade
    schema: the union of all products' fields (a field typed differently by two products
    is ``Text`` if date and text, else ``Any``)."""
    from aadrisk.risk.greeks import GREEK_PRODUCTS

    fields: dict[str, Any] = {}
    for cls in GREEK_PRODUCTS.values():
        for f in product_fields(cls):
            t = {"number": Number, "date": Date, "string": Text}.get(f["type"], Any)
            prev = fields.get(f["name"])
            if prev is None or prev == t:
                fields[f["name"]] = t
            elif {prev, t} <= {Date, Text}:      # a date for one product, a tenor for another
                fields[f["name"]] = Text
            else:
                fields[f["name"]] = Any
    return fields


@functools.lru_cache(maxsize=1)
def trade_field_kinds() -> dict[str, str]:
    """Field name -> ``"id"``, ``"number"``, ``"date"``, ``"string"`` or ``"any"`` for every
    declared field of the trade schema, in the schema's order (``trade_id``, ``product``,
    then the products' fields); what :mod:`service.fastpath` checks. Computed once, like
    :func:`trade_field_types` (read-only: do not modify the mapping)."""
    kinds = {"trade_id": "id", "product": "string"}
    for name, t in trade_field_types().items():
        kinds[name] = {Number: "number", Date: "date", Text: "string"}.get(t, "any")
    return kinds


@functools.lru_cache(maxsize=1)
def trade_model() -> type[BaseModel]:
    """The trade schema: the union of all products' fields, each optional and typed.

    Unknown fields are accepted here and reported per trade by the library.
    """
    definitions = {name: (Optional[t], None) for name, t in trade_field_types().items()}
    return create_model(
        "Trade",
        __config__=ConfigDict(extra="allow", json_schema_extra={"examples": [TRADE_EXAMPLE]}),
        __doc__="A trade (docs/formats.md); fields depend on `product` (GET /v1/products).",
        trade_id=(Optional[Union[Annotated[str, Strict()], Annotated[int, Strict()]]], None),
        product=(Optional[Text], None),
        **definitions)


Trade = trade_model()


class Portfolio(BaseModel):
    """A book: trades, and optionally a name, a description and an embedded market."""

    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"name": "demo",
                                                               "trades": [TRADE_EXAMPLE]}]})
    name: Optional[Text] = None
    description: Optional[Text] = None
    market: Optional[Market] = None
    trades: list[Trade]  # type: ignore[valid-type]

    def trade_documents(self) -> list[dict]:
        """Trades as JSON-like mappings for the library (only the fields the client gave)."""
        return [t.model_dump(mode="json", exclude_unset=True) for t in self.trades]


class RiskRequest(BaseModel):
    """A portfolio and its market: inline (``market``), stored (``market_id``) or the
    portfolio's embedded ``market`` -- exactly one of them."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"portfolio": {"name": "demo", "trades": [TRADE_EXAMPLE]}, "market": MARKET_EXAMPLE},
        {"portfolio": {"trades": [TRADE_EXAMPLE]}, "market_id": "eod-2024-06-28"}]})
    portfolio: Portfolio
    market: Optional[Market] = None
    market_id: Optional[MarketId] = None
    include_zero_greeks: bool = Field(False, description="also return the derived pillar "
                                      "zero-rate sensitivities (greek 'zero')")
    layout: Literal["trades", "columnar"] = Field(
        "trades", description="'trades' (default): one object per trade with its Greek "
        "vector; 'columnar': trades as columns and the book's Greek rows as columns, "
        "labels / greeks / units given once and indexed per row (smaller, faster)")


class BatchRequest(BaseModel):
    """Several risk requests in one call (each is answered as by POST /v1/risk)."""

    model_config = ConfigDict(extra="forbid")
    requests: Annotated[list[RiskRequest], Field(min_length=1, max_length=1000)]


# ----------------------------------------------------------------------------- responses
class TradeErrorOut(BaseModel):
    """A trade that could not be priced: its id, the field, the value given and why."""

    trade_id: str
    field: str
    value: Any = None
    reason: str


class GreekVector(BaseModel):
    """A trade's labelled Greek vector, columnar (equal-length lists)."""

    model_config = ConfigDict(extra="allow")
    label: list[str]
    greek: list[str]
    value: list[float] = Field(description="raw derivative x quantity (unit in `unit`)")
    unit: list[str]
    value_per_bp: list[Optional[float]] = Field(description="div/rate/par/zero rows: value x 1e-4")
    value_per_vol_point: list[Optional[float]] = Field(description="vega rows: value x 1e-2")
    stderr: Optional[list[Optional[float]]] = Field(None, description="Monte Carlo standard "
                                                    "error of value (null when analytic)")


class TradeResult(BaseModel):
    """Price and Greek vector of one trade."""

    model_config = ConfigDict(extra="allow")
    trade: str
    product: str
    model: str
    underlying: str
    currency: str
    quantity: float
    unit_price: float
    price: float = Field(description="quantity x unit_price, in currency")
    stderr: Optional[float] = Field(None, description="Monte Carlo standard error of price "
                                    "(null when analytic)")
    greeks: GreekVector
    zero_greeks: Optional[GreekVector] = None


class Aggregates(BaseModel):
    """Sums over the priced trades."""

    price_by_currency: dict[str, float]
    by_label: dict[str, list[Any]] = Field(description="columnar: label, greek, currency, "
                                           "unit, value, value_per_bp, value_per_vol_point")


class MarketRef(BaseModel):
    """Which market was used: a stored one (id, version) or an inline one (sha256)."""

    source: Literal["stored", "inline", "portfolio"]
    id: Optional[str] = None
    version: Optional[int] = None
    sha256: Optional[str] = None


class ColumnarTrades(BaseModel):
    """``layout: columnar``: the priced trades as equal-length columns."""

    model_config = ConfigDict(extra="allow")
    trade: list[str]
    product: list[str]
    model: list[str]
    underlying: list[str]
    currency: list[str]
    quantity: list[float]
    unit_price: list[float]
    price: list[float]
    stderr: list[Optional[float]]


class ColumnarGreeks(BaseModel):
    """``layout: columnar``: every Greek row of the book; strings given once.

    Row ``i`` is trade ``trade[i]`` (index into the trade columns), label
    ``labels[label[i]]``, greek ``greeks[greek[i]]`` with unit ``units[greek[i]]``."""

    labels: list[str]
    greeks: list[str]
    units: list[Optional[str]]
    trade: list[int]
    label: list[int]
    greek: list[int]
    value: list[float] = Field(description="raw derivative x quantity (unit in `units`)")
    value_per_bp: list[Optional[float]]
    value_per_vol_point: list[Optional[float]]
    stderr: list[Optional[float]]


class RiskResponse(BaseModel):
    """Prices, Greek vectors, per-trade errors and aggregates of one portfolio (layout
    ``trades``: ``trades`` is a list of objects; ``columnar``: columns, plus ``greeks``)."""

    portfolio: Optional[str]
    valuation_date: str
    market: MarketRef
    n_trades: int
    n_priced: int
    layout: Optional[Literal["columnar"]] = None
    trades: Union[list[TradeResult], ColumnarTrades]
    greeks: Optional[ColumnarGreeks] = None
    zero_greeks: Optional[ColumnarGreeks] = None
    errors: list[TradeErrorOut]
    aggregates: Aggregates


class BatchResponse(BaseModel):
    """One answer per request, in order: a RiskResponse or an error object."""

    results: list[dict[str, Any]]


class StoredMarket(BaseModel):
    """A stored market snapshot."""

    id: str
    version: int
    updated_at: str
    sha256: str
    market: dict[str, Any]


class StoredMarketInfo(BaseModel):
    """What PUT /v1/markets/{id} stored."""

    id: str
    version: int
    updated_at: str
    sha256: str
    created: bool


class ProductField(BaseModel):
    name: str
    type: Literal["number", "date", "string", "any"]
    required: bool
    default: Any = None


class ProductInfo(BaseModel):
    product: str
    description: str
    fields: list[ProductField]


class Problem(BaseModel):
    """An error answer (401/403/404/413/422/504)."""

    detail: Any
