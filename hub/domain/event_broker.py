"""Fan-out of need events inside one hub process: from its one LISTEN connection to every
subscriber's queue.

Each subscriber has a bounded queue. Publishing never waits: a subscriber whose queue is full
is dropped (its stream ends with ``SLOW_SUBSCRIBER``) rather than skipped silently or buffered
without bound, so the hub's memory stays within queue size x subscribers, and a client never
believes it saw every event when it did not. A dropped client resubscribes and catches up with
the change feed (``needs(orderBy: CHANGED)`` from its last cursor). Likewise, when the
process's LISTEN connection is lost, events may have been missed, so every stream ends with
``EVENTS_INTERRUPTED``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from hub.domain.errors import DomainError
from hub.domain.events import NeedEvent


class SlowSubscriber(DomainError):
    code = "SLOW_SUBSCRIBER"


class EventsInterrupted(DomainError):
    code = "EVENTS_INTERRUPTED"


class Subscription:
    def __init__(self, queue_size: int) -> None:
        self._queue: asyncio.Queue[NeedEvent] = asyncio.Queue(maxsize=queue_size)
        self._ended: DomainError | None = None
        self._woken = asyncio.Event()

    def offer(self, event: NeedEvent) -> None:
        if self._ended is not None:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.end(
                SlowSubscriber(
                    "events arrived faster than this subscription read them; it was ended "
                    "rather than let events pile up. Resubscribe, and catch up with the change "
                    "feed (needs with orderBy: CHANGED, after your last cursor)",
                    queue_size=self._queue.maxsize,
                )
            )
            return
        self._woken.set()

    def end(self, reason: DomainError) -> None:
        if self._ended is None:
            self._ended = reason
            # What is queued is dropped with it: the stream ends at once, not after a backlog.
            while not self._queue.empty():
                self._queue.get_nowait()
        self._woken.set()

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    async def next(self, wait: float | None) -> NeedEvent | None:
        """The next event; None when ``wait`` seconds pass without one. Raises the reason
        the subscription was ended, if it was."""
        while True:
            if self._ended is not None:
                raise self._ended
            if not self._queue.empty():
                return self._queue.get_nowait()
            self._woken.clear()
            try:
                async with asyncio.timeout(wait):
                    await self._woken.wait()
            except TimeoutError:
                return None


class EventBroker:
    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self._subscriptions: set[Subscription] = set()

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        subscription = Subscription(self.queue_size)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    def publish(self, event: NeedEvent) -> None:
        for subscription in list(self._subscriptions):
            subscription.offer(event)

    def interrupt(self) -> None:
        """The process stopped hearing events for a while: end every stream, so that none
        silently misses what happened meanwhile."""
        for subscription in list(self._subscriptions):
            subscription.end(
                EventsInterrupted(
                    "the hub lost its connection to the event feed; resubscribe, and catch up "
                    "with the change feed (needs with orderBy: CHANGED, after your last cursor)"
                )
            )
