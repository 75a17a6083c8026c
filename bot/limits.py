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


@dataclass(frozen=True)
class Turn:
    """When a photo gets its turn.

    Attributes:
        wait: Seconds to wait before tagging it (0: at once).
        warn: Whether to tell the person now (the first photo of a flood that waits).
        refused: The queue is full; the photo is not tagged at all.
    """

    wait: float = 0.0
    warn: bool = False
    refused: bool = False


class FloodGate:
    """A token bucket per user that queues photos instead of dropping them.

    ``burst`` photos are tagged at once, later ones get turns ``60 / per_minute``
    seconds apart, in the order they came, so one person pasting a hundred photos
    does not hold up everyone else and still gets every answer. Only photos count:
    text and commands cost no forward pass. Only the event loop's thread calls
    it, so it needs no lock.

    Args:
        burst: Photos tagged at once.
        per_minute: Sustained photos per minute once the burst is spent (at least 1).
        max_wait: A photo whose turn would come later than this is refused.
        clock: Monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        *,
        burst: int,
        per_minute: float,
        max_wait: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = max(1, burst)
        self.rate = max(per_minute, 1.0) / 60.0
        self.max_wait = max_wait
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}

    def reserve(self, user_id: int) -> Turn:
        """Book this user's next photo a turn.

        The person is told once per flood, when the first photo has to wait, so
        the bot's answers never become a flood of their own.
        """
        now = self._clock()
        bucket = self._buckets.setdefault(user_id, _Bucket(float(self.burst), now))
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.warned = False
            return Turn()
        wait = (1.0 - bucket.tokens) / self.rate
        if wait > self.max_wait:
            return Turn(refused=True)
        bucket.tokens -= 1.0  # a debt: the next photo waits one turn longer
        warn = not bucket.warned
        bucket.warned = True
        return Turn(wait=wait, warn=warn)


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
