"""Errors of the risk layer: each names what is wrong, where, and the bad value."""
from __future__ import annotations


class RiskError(Exception):
    """Base class of aadrisk.risk errors."""


class TradeError(RiskError, ValueError):
    """One trade cannot be priced.

    Attributes
    ----------
    trade_id : str
        Identifier of the trade (``"#<position>"`` when the trade has none).
    field : str
        Name of the offending field (``"strike"``, ``"expiry"``, ...).
    value : object
        The offending value, as given.
    reason : str
        What is wrong with it.

    Examples
    --------
    >>> str(TradeError("T1", "strike", -5.0, "must be a positive number"))
    "trade 'T1': field 'strike' = -5.0: must be a positive number"
    """

    def __init__(self, trade_id: str, field: str, value: object, reason: str):
        self.trade_id = str(trade_id)
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"trade {self.trade_id!r}: field {field!r} = {value!r}: {reason}")

    def as_record(self) -> dict:
        """The error as a flat dict (one row of :attr:`RiskReport.errors_frame`)."""
        return {"trade_id": self.trade_id, "field": self.field, "value": repr(self.value),
                "message": str(self)}


class MarketError(RiskError, ValueError):
    """The market snapshot is malformed (names the underlying / field and the value)."""


class BookError(RiskError, ValueError):
    """A book or market file cannot be read as a whole (not JSON, wrong layout)."""


def errors_frame(errors):
    """Trade errors as a DataFrame with columns trade_id, field, value, message."""
    import pandas as pd

    return pd.DataFrame([e.as_record() for e in errors],
                        columns=["trade_id", "field", "value", "message"])
