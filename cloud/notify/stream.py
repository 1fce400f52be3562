"""The live notification stream of this process: new in-app notifications pushed to their users' browsers.

``NotifyStream.on_stored`` is registered on ``services.notify_listeners``: what ``notify`` stored in
this process is pushed at once to the user's open streams (an ``event: notification`` SSE frame
with the same JSON as ``GET /api/notifications``). A notification stored by another replica reaches
the inbox, not this stream (the inbox is the truth; a browser that reconnects reloads it).
Subscribers have bounded queues, as the fleet feed's: a browser too slow to read is dropped.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, Final

from cloud.fleet.feed import Subscriber, sse_frame
from cloud.notify.service import Stored

CLIENT_QUEUE: Final = 200


class NotifyStream:
    def __init__(self, client_queue: int = CLIENT_QUEUE) -> None:
        self.client_queue = client_queue
        self._subscribers: dict[str, set[Subscriber]] = {}

    @contextlib.asynccontextmanager
    async def subscribe(self, user_id: str) -> AsyncIterator[Subscriber]:
        subscriber = Subscriber(user_id, self.client_queue)
        self._subscribers.setdefault(user_id, set()).add(subscriber)
        try:
            yield subscriber
        finally:
            group = self._subscribers.get(user_id)
            if group is not None:
                group.discard(subscriber)
                if not group:
                    del self._subscribers[user_id]

    @property
    def clients(self) -> int:
        return sum(len(group) for group in self._subscribers.values())

    def on_stored(self, stored: Any) -> None:
        if not isinstance(stored, Stored):
            return
        for view in stored.notifications:
            for subscriber in list(self._subscribers.get(view.user_id, ())):
                subscriber.offer(sse_frame("notification", json.dumps(view.as_json(), separators=(",", ":"))))
