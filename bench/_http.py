"""A load generator for the web benchmarks: many keep-alive HTTP/1.1 connections on one
asyncio loop, each sending GET requests one after another for a fixed time.

It is written on bare asyncio streams rather than an HTTP client library so that the
client costs little of the machine's two cores: the figures should be the server's.
Responses must carry ``Content-Length`` (every route of the app does).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Measured:
    """What ``clients`` connections got from ``path`` in ``seconds``."""

    path: str
    clients: int
    seconds: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        """Requests answered 2xx per second."""
        return (self.requests - self.errors) / self.seconds

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "path": self.path,
            "clients": self.clients,
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
            "errors": self.errors,
            "requests_per_s": round(self.per_second, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
        }


async def _one_connection(
    host: str, port: int, request: bytes, deadline: float, latencies: list[float]
) -> int:
    """Send ``request`` over one connection until ``deadline``; returns non-2xx count."""
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
                    break
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not 200 <= status < 300:
                errors += 1
    finally:
        writer.close()
    return errors


async def _measure(host: str, port: int, path: str, cookie: str, clients: int, seconds: float):
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n"
        "Accept: text/html,application/json\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    errors = await asyncio.gather(
        *(_one_connection(host, port, request, deadline, latencies) for _ in range(clients))
    )
    elapsed = time.perf_counter() - started
    return latencies, sum(errors), elapsed


def measure(
    host: str, port: int, path: str, *, cookie: str = "", clients: int = 50, seconds: float = 20
) -> Measured:
    """``clients`` connections sending ``GET path`` for ``seconds``: throughput and latency."""
    latencies, errors, elapsed = asyncio.run(_measure(host, port, path, cookie, clients, seconds))
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0
    return Measured(
        path=path,
        clients=clients,
        seconds=elapsed,
        requests=len(ordered),
        errors=errors,
        p50_ms=statistics.median(ordered) * 1000 if ordered else 0.0,
        p99_ms=p99 * 1000,
    )
