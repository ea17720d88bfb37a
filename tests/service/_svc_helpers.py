"""Helpers of the service tests."""
from __future__ import annotations


def vanilla(n: int, prefix: str = "T") -> list[dict]:
    """``n`` European options on SPX / AAPL / SX5E (valid on market_full.json)."""
    spots = {"SPX": 5460.48, "AAPL": 210.62, "SX5E": 4894.02}
    unds = list(spots)
    out = []
    for i in range(n):
        u = unds[i % 3]
        out.append({"trade_id": f"{prefix}{i}", "underlying": u,
                    "option_type": "call" if i % 2 else "put",
                    "strike": round(spots[u] * (0.85 + 0.3 * (i % 7) / 6), 2),
                    "expiry": ["2024-12-20", "2025-06-20", "2025-09-19"][i % 3],
                    "quantity": (i % 5) - 2 or 1})
    return out
