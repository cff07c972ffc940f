"""A load generator for the web benchmarks: many keep-alive HTTP/1.1 connections on one
asyncio loop, each sending requests one after another for a fixed time.

It is written on bare asyncio streams rather than an HTTP client library so that the
client costs little of the machine's two cores: the figures should be the server's.
Responses must carry ``Content-Length`` (every route of the app does).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Call:
    """One request to send: ``label`` groups it in the figures."""

    label: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    answered: Callable[[int, bytes], None] | None = None
    """Told the status and body of the answer (a client that keeps state, e.g. versions)."""

    def encode(self, host: str, port: int) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}:{port}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if self.body or self.method not in ("GET", "HEAD"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass(frozen=True)
class Measured:
    """What the connections got for one label in ``seconds``."""

    label: str
    clients: int
    seconds: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        """Requests answered 2xx/3xx per second."""
        return (self.requests - self.errors) / self.seconds

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "label": self.label,
            "clients": self.clients,
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
            "errors": self.errors,
            "requests_per_s": round(self.per_second, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
        }


@dataclass
class _Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failures: list[str] = field(default_factory=list)


async def _one_connection(
    host: str,
    port: int,
    choose: Callable[[random.Random, int], Call],
    index: int,
    seed: int,
    deadline: float,
    tally: _Tally,
) -> None:
    """Send chosen calls over connection ``index`` until ``deadline``."""
    rng = random.Random(seed + index)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            call = choose(rng, index)
            started = time.perf_counter()
            writer.write(call.encode(host, port))
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
                    break
            body = await reader.readexactly(length)
            if call.answered is not None:
                call.answered(status, body)
            tally.latencies[call.label].append(time.perf_counter() - started)
            if not 200 <= status < 400:
                tally.errors[call.label] += 1
                if len(tally.failures) < 20:
                    tally.failures.append(f"{status} {call.method} {call.path}")
    finally:
        writer.close()


def run_mix(
    host: str,
    port: int,
    choose: Callable[[random.Random, int], Call],
    *,
    clients: int = 50,
    seconds: float = 20,
    seed: int = 7,
) -> tuple[dict[str, Measured], list[str]]:
    """``clients`` connections each sending ``choose(rng, index)`` (``index``: the
    connection's number) for ``seconds``: the figures per label, and the first failures
    (status, method, path)."""
    tally = _Tally()

    async def all_connections() -> float:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(_one_connection(host, port, choose, k, seed, deadline, tally) for k in range(clients))
        )
        return time.perf_counter() - started

    elapsed = asyncio.run(all_connections())
    figures = {}
    for label, latencies in sorted(tally.latencies.items()):
        ordered = sorted(latencies)
        figures[label] = Measured(
            label=label,
            clients=clients,
            seconds=elapsed,
            requests=len(ordered),
            errors=tally.errors[label],
            p50_ms=statistics.median(ordered) * 1000,
            p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        )
    return figures, tally.failures


def measure(
    host: str, port: int, path: str, *, cookie: str = "", clients: int = 50, seconds: float = 20
) -> Measured:
    """``clients`` connections sending ``GET path`` for ``seconds``: throughput and latency."""
    call = Call(path, "GET", path, {"Cookie": cookie, "Accept": "text/html,application/json"})
    figures, _failures = run_mix(
        host, port, lambda _rng, _index: call, clients=clients, seconds=seconds
    )
    return figures[path]
