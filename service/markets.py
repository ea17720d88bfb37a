"""Parsed markets: an LRU cache of ``MarketData`` by content hash, parsed off the loop.

Parsing a full market bootstraps its curves (tenths of a second), so each
distinct content is parsed once; concurrent requests for the same content wait
for the same parse.
"""
from __future__ import annotations

import asyncio
import collections
from concurrent.futures import Executor

from aadrisk.market.snapshot import MarketData, MarketDataError


class MarketProblem(ValueError):
    """A market document the library cannot use (message names the input)."""


def parse_market(document: dict) -> MarketData:
    """``MarketData.from_mapping`` with every failure on client data as :class:`MarketProblem`."""
    try:
        return MarketData.from_mapping(document)
    except MarketDataError as exc:
        raise MarketProblem(str(exc)) from None
    except (ValueError, TypeError, KeyError, IndexError, ArithmeticError) as exc:
        raise MarketProblem(f"market cannot be used: {type(exc).__name__}: {exc}") from None


class MarketCache:
    """Parsed markets by content hash (least recently used dropped beyond ``size``).

    Parameters
    ----------
    executor : Executor
        Where parsing runs.
    size : int
        Number of parsed markets kept.
    """

    def __init__(self, executor: Executor, size: int):
        self.executor = executor
        self.size = size
        self._cache: collections.OrderedDict[str, MarketData] = collections.OrderedDict()
        self._inflight: dict[str, asyncio.Future] = {}

    def put(self, key: str, market: MarketData) -> None:
        """Keep an already parsed market."""
        self._cache[key] = market
        self._cache.move_to_end(key)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)

    def cached(self, key: str) -> MarketData | None:
        """The parsed market of content hash ``key`` if it is in the cache."""
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
        return hit

    async def get(self, key: str, document: dict) -> MarketData:
        """The parsed market of ``document`` (whose content hash is ``key``).

        Raises
        ------
        MarketProblem
            The library refuses the document.
        """
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        fut = self._inflight.get(key)
        if fut is None:
            loop = asyncio.get_running_loop()
            fut = loop.run_in_executor(self.executor, parse_market, document)
            self._inflight[key] = fut
            try:
                market = await fut
            finally:
                self._inflight.pop(key, None)
            self.put(key, market)
            return market
        return await asyncio.shield(fut)
