"""Fan-out of need events inside one hub process: from its one LISTEN connection to every
subscriber's queue.

Each subscriber has a bounded queue. Publishing never waits: a subscriber whose queue is full
is dropped (its stream ends with ``SLOW_SUBSCRIBER``) rather than skipped silently or buffered
without bound, so the hub's memory stays within queue size x subscribers, and a client never
believes it saw every event when it did not. A dropped client resubscribes and catches up with
the change feed (``needs(orderBy: CHANGED)`` from its last cursor). Likewise, when the
process's LISTEN connection is lost, events may have been missed, so every stream ends with
``EVENTS_INTERRUPTED``; and a subscription made while it is not listening (before the first
LISTEN, or while it reconnects) ends at once the same way, since it would hear nothing.
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
                    "rather than let events pile up. Resubscribe with the last cursor you were "
                    "given (needEvents' after), which replays what you missed",
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

    def raise_if_ended(self) -> None:
        """Raise the reason the subscription was ended, if it was."""
        if self._ended is not None:
            raise self._ended

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


INTERRUPTED = (
    "the hub lost its connection to the event feed; resubscribe with the last cursor you "
    "were given (needEvents' after), which replays what you missed"
)


class EventBroker:
    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self._subscriptions: set[Subscription] = set()
        # Whether the process's LISTEN is in effect: only then does a new subscription hear
        # every event committed after it registered.
        self.listening = False

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        subscription = Subscription(self.queue_size)
        if not self.listening:
            subscription.end(EventsInterrupted(INTERRUPTED))
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

    def resume(self) -> None:
        """The process hears events again: subscriptions made from now on are served."""
        self.listening = True

    def interrupt(self) -> None:
        """The process stopped hearing events: end every stream, so that none silently misses
        what happens until it listens again, and refuse new ones until then."""
        self.listening = False
        for subscription in list(self._subscriptions):
            subscription.end(EventsInterrupted(INTERRUPTED))
