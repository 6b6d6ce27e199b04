"""Rate limits of the Telegram bot: questions per user, and replies of any kind per sender
(so that one sender's flood costs the others little), each in a sliding window, bounded."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable


def window(seconds: float) -> str:
    """A rate window in words: "minute", "hour", "90 seconds"."""
    named = {60: "minute", 3600: "hour", 86400: "day"}
    if seconds in named:
        return named[seconds]
    return f"{seconds:g} seconds"


class UserRateLimit:
    """At most `count` requests per `seconds` per key (sliding window), bounded memory."""

    def __init__(
        self,
        count: int,
        seconds: float,
        *,
        max_users: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.count = count
        self.seconds = seconds
        self.max_users = max_users
        self.clock = clock
        self._asked: OrderedDict[Hashable, deque[float]] = OrderedDict()

    def acquire(self, user_id: Hashable) -> float:
        """0 and counts the request if the key may go ahead now, else the seconds to wait."""
        now = self.clock()
        times = self._asked.get(user_id)
        if times is None:
            times = self._asked[user_id] = deque()
        self._asked.move_to_end(user_id)
        while times and times[0] <= now - self.seconds:
            times.popleft()
        if len(times) >= self.count:
            return max(times[0] + self.seconds - now, 0.1)
        times.append(now)
        while len(self._asked) > self.max_users:
            self._asked.popitem(last=False)
        return 0.0


class ReplyLimit:
    """Every reply to one sender, not just answers: at most `count` per `seconds`; past that one
    notice per window, then silence. Telegram lets a bot send about 30 messages a second in all,
    so without this one sender's 300 /help made everyone else wait 9 s for an answer."""

    def __init__(
        self,
        count: int,
        seconds: float,
        *,
        max_users: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.replies = UserRateLimit(count, seconds, max_users=max_users, clock=clock)
        self.notices = UserRateLimit(1, seconds, max_users=max_users, clock=clock)

    def admit(self, sender: Hashable) -> tuple[str, float]:
        """("reply", 0), ("notice", seconds to wait) once per window, then ("silence", seconds)."""
        wait = self.replies.acquire(sender)
        if not wait:
            return "reply", 0.0
        return ("silence" if self.notices.acquire(sender) else "notice"), wait
