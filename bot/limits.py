"""Flood control both ways: users flooding the bot, and Telegram telling the bot to wait."""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import time
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    warned: bool = False


class FloodGate:
    """A token bucket per user: ``burst`` messages at once, then ``per_minute`` sustained.

    Each photo costs a forward pass, so one person pasting a hundred photos must
    not hold up everyone else. Only the event loop's thread calls it, so it needs
    no lock.
    """

    def __init__(
        self, *, burst: int, per_minute: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.burst = max(1, burst)
        self.rate = max(per_minute, 0.0) / 60.0
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}

    def admit(self, user_id: int) -> tuple[bool, bool]:
        """Whether this message may be processed, and whether to tell the user to slow down.

        The warning is given once per flood, not for every dropped message, so the
        bot's answers never become a flood of their own.
        """
        now = self._clock()
        bucket = self._buckets.setdefault(user_id, _Bucket(float(self.burst), now))
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.warned = False
            return True, False
        warn = not bucket.warned
        bucket.warned = True
        return False, warn


def retry_seconds(error: RetryAfter) -> float:
    """RetryAfter's wait in seconds, whichever of PTB 22's int or timedelta forms it has."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22.2+ deprecates the int form it still returns
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


class RetryAfterLimiter(BaseRateLimiter[None]):
    """Retries a Bot API call that got 429 Too Many Requests after the wait Telegram asks for.

    PTB's ``AIORateLimiter`` does the same plus throttling, at the price of one more
    dependency; a photo bot answers one message per photo, well under Telegram's
    limits, so honouring the server's ``retry_after`` is what matters.

    Args:
        max_retries: Attempts after the first; then the RetryAfter reaches the handler.
        max_wait: Waits longer than this are not slept through (a stop must stay prompt).
    """

    def __init__(self, *, max_retries: int = 3, max_wait: float = 60.0) -> None:
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.retried = 0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        attempt = 0
        while True:
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                if attempt >= self.max_retries or wait > self.max_wait:
                    raise
                attempt += 1
                self.retried += 1
                log.info("Telegram asked to wait %.0f s before %s; retrying", wait, endpoint)
                await asyncio.sleep(wait + 0.05)
