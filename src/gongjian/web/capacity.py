"""How many requests the server works on at once.

A request runs its route and its dependencies' set-up and tear-down in the threadpool,
one after the other, and holds one database connection from its first query until its
session closes in the tear-down. Without a bound, a burst of requests takes every
thread of the threadpool to wait for a connection, while the requests that hold the
connections wait for a thread to commit and give them back: nothing moves until the
pool's timeout. ``ConcurrencyLimit`` lets in at most ``web_concurrency`` requests at a
time (fewer than the threadpool's 40 threads and the pool's 15 connections), so a
request let in always finds a thread and a connection. The others wait their turn in
the event loop, holding neither; one that waits longer than ``web_queue_seconds`` is
answered by ``refuse`` (503 with ``Retry-After``). Static files need no connection and
pass without waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from weakref import WeakKeyDictionary

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send


class ConcurrencyLimit:
    """Lets at most ``concurrency`` requests (other than under ``exempt``) into ``app``
    at once, in order of arrival; one kept waiting ``wait_seconds`` gets ``refuse``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        concurrency: int,
        wait_seconds: float,
        refuse: Callable[[Request], Response],
        exempt: tuple[str, ...] = ("/static/",),
    ) -> None:
        self.app = app
        self.concurrency = concurrency
        self.wait_seconds = wait_seconds
        self.refuse = refuse
        self.exempt = exempt
        self._slots: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            WeakKeyDictionary()
        )

    def _slots_here(self) -> asyncio.Semaphore:
        """The slots of the running event loop (a test may serve one app from several
        loops, one after the other; a server runs one)."""
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = asyncio.Semaphore(self.concurrency)
        return slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        slots = self._slots_here()
        try:
            async with asyncio.timeout(self.wait_seconds):
                await slots.acquire()
        except TimeoutError:
            await self.refuse(Request(scope))(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            slots.release()
