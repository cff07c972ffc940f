"""Load and soak: a mixed workload against one server process on the city-scale demo.

One server process (uvicorn, access log off) serves the city-scale demo city (seed 7),
on SQLite and then on PostgreSQL. 50 keep-alive connections (``_http.py``) send, for
``--seconds`` (5 minutes by default):

- 80% reads, by the city office and by five town users (each reading only what its
  role may see, so every answer should be 2xx): the overview, a town's page, the river
  and project lists and pages, the KPI and project APIs, the public portal;
- 20% writes by the five town users: ``PATCH /api/v1/projects/{code}`` of one of their
  own town's projects (its spend, in 万元) with the version last read, and the session
  cookie and CSRF header a browser sends. Each connection edits a project of its own, as
  one person edits one record: a conflict (409) would be a real error here.

Reported per backend: requests per second overall and per route, p50 and p99 per route,
errors (must be 0), and the server's resident memory after the warm-up, at the end, and
sampled every 10 s (it must not keep growing). Results: ``bench/results/load.json``.
Usage: ``python bench/load.py [--seconds 300] [--backend sqlite]``.
"""

import argparse
import json
import random
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from _common import drop_database, fresh_database, write_result
from _http import Call, Measured, run_mix
from _server import HOST, Browser, demo_password, rss_mb, sign_in, start

CLIENTS = 50
SECONDS = 300.0
WARM_UP = 10.0
SAMPLE_EVERY = 10.0
WRITE_SHARE = 0.2
AS_OF = "2023-01-31"
CITY = "gaigeban"
TOWN_USERS = ("town-shiqi", "town-dongqu", "town-torch", "town-xiqu", "town-nanqu")


def _serve(url: str, port: int) -> None:
    import uvicorn

    from gongjian.db import make_engine
    from gongjian.web.app import create_app

    uvicorn.run(
        create_app(make_engine(url)), host=HOST, port=port, log_level="warning", access_log=False
    )


def _town_records(engine: Engine, usernames: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """For each town user: its town's code, some of its rivers' ids, and its projects'
    codes with their versions."""
    from gongjian.auth.models import User
    from gongjian.campaign.models import Project
    from gongjian.towns.models import Town
    from gongjian.water.models import River

    found: dict[str, dict[str, Any]] = {}
    with Session(engine) as session:
        for username in usernames:
            user = session.scalars(select(User).where(User.username == username)).one()
            town = session.get(Town, user.town_id)
            assert town is not None
            found[username] = {
                "town": town.code,
                "rivers": list(
                    session.scalars(select(River.id).where(River.lead_town_id == town.id).limit(20))
                ),
                "projects": {
                    code: version
                    for code, version in session.execute(
                        select(Project.code, Project.version)
                        .where(Project.town_id == town.id)
                        .order_by(Project.code)
                        .limit(20)
                    )
                },
            }
        published = list(session.scalars(select(River.id).where(River.published).limit(20)))
    found[""] = {"published": published}
    return found


def _chooser(browsers: dict[str, Browser], records: dict[str, dict[str, Any]]):
    """The mix: a function from a random generator to the next call."""
    city = browsers[CITY]
    public = Browser("", "")
    published = records[""]["published"]

    def page(label: str, path: str, who: Browser) -> Call:
        return Call(label, "GET", path, {"Cookie": who.cookie, "Accept": "text/html"})

    def api(label: str, path: str, who: Browser) -> Call:
        return Call(label, "GET", path, {"Cookie": who.cookie, "Accept": "application/json"})

    versions = {
        code: version for user in TOWN_USERS for code, version in records[user]["projects"].items()
    }

    def write(index: int, rng: random.Random) -> Call:
        """Connection ``index`` edits its own project of its own town's user."""
        username = TOWN_USERS[index % len(TOWN_USERS)]
        code = sorted(records[username]["projects"])[index // len(TOWN_USERS)]
        town = browsers[username]

        def answered(status: int, body: bytes) -> None:
            if status == 200:
                versions[code] = json.loads(body)["version"]

        spend = Decimal(rng.randrange(0, 100_000)) / 100
        return Call(
            "PATCH /api/v1/projects/{code}",
            "PATCH",
            f"/api/v1/projects/{code}",
            {
                "Cookie": town.cookie,
                "X-CSRF-Token": town.csrf,
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            json.dumps({"spend_wan": str(spend), "version": versions[code]}).encode(),
            answered,
        )

    def choose(rng: random.Random, index: int) -> Call:
        if rng.random() < WRITE_SHARE:
            return write(index, rng)
        username = rng.choice(TOWN_USERS)
        town, mine = browsers[username], records[username]
        reads = (
            lambda: page("GET /", f"/?as_of={AS_OF}", city),
            lambda: page("GET /towns/{code}", f"/towns/{mine['town']}?as_of={AS_OF}", town),
            lambda: page("GET /rivers", f"/rivers?page={rng.randrange(1, 4)}", city),
            lambda: page("GET /rivers/{id}", f"/rivers/{rng.choice(mine['rivers'])}", town),
            lambda: page("GET /projects", f"/projects?town={mine['town']}", town),
            lambda: page(
                "GET /projects/{code}", f"/projects/{rng.choice(list(mine['projects']))}", town
            ),
            lambda: api("GET /api/v1/kpi", f"/api/v1/kpi?as_of={AS_OF}", city),
            lambda: api("GET /api/v1/projects", f"/api/v1/projects?town={mine['town']}", town),
            lambda: page("GET /portal", "/portal", public),
            lambda: page(
                "GET /portal/rivers/{id}", f"/portal/rivers/{rng.choice(published)}", public
            ),
        )
        return rng.choice(reads)()

    return choose


def _sample_memory(pid: int, stop: threading.Event, into: list[tuple[float, float]]) -> None:
    started = time.monotonic()
    while not stop.wait(SAMPLE_EVERY):
        into.append((round(time.monotonic() - started, 1), round(rss_mb(pid), 1)))


def _run(backend: str, seconds: float) -> dict[str, Any]:
    from gongjian.demo.generate import load_demo

    with tempfile.TemporaryDirectory() as folder:
        engine, name = fresh_database(backend, Path(folder))
        try:
            url = engine.url.render_as_string(hide_password=False)
            started = time.perf_counter()
            load_demo(engine, seed=7, scale="city")
            print(f"  {backend}: city demo loaded in {time.perf_counter() - started:.0f} s")
            records = _town_records(engine, TOWN_USERS)
            engine.dispose()
            server, port = start(Path(__file__), url)
            try:
                browsers = {
                    username: sign_in(port, username, demo_password(username))
                    for username in (CITY, *TOWN_USERS)
                }
                choose = _chooser(browsers, records)
                run_mix(HOST, port, choose, clients=CLIENTS, seconds=WARM_UP)
                memory_start = rss_mb(server.pid)
                samples: list[tuple[float, float]] = []
                stop = threading.Event()
                sampler = threading.Thread(
                    target=_sample_memory, args=(server.pid, stop, samples), daemon=True
                )
                sampler.start()
                figures, failures = run_mix(
                    HOST, port, choose, clients=CLIENTS, seconds=seconds, seed=11
                )
                stop.set()
                sampler.join()
                memory_end = rss_mb(server.pid)
            finally:
                server.terminate()
                server.wait(timeout=30)
        finally:
            drop_database(backend, engine, name)
    total = sum(found.requests for found in figures.values())
    errors = sum(found.errors for found in figures.values())
    elapsed = max(found.seconds for found in figures.values())
    half = [mb for _, mb in samples[len(samples) // 2 :]]
    result = {
        "requests": total,
        "requests_per_s": round(total / elapsed, 1),
        "errors": errors,
        "first_failures": failures,
        "routes": {label: _route(found) for label, found in figures.items()},
        "memory_mb": {
            "after_warm_up": round(memory_start, 1),
            "end": round(memory_end, 1),
            "samples": samples,
            "growth_second_half": round(half[-1] - half[0], 1) if len(half) > 1 else 0.0,
        },
    }
    print(f"  {backend}: {json.dumps({k: v for k, v in result.items() if k != 'routes'})}")
    return result


def _route(found: Measured) -> dict[str, Any]:
    figures = found.as_dict()
    figures.pop("label")
    figures.pop("clients")
    figures.pop("seconds")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), action="append")
    parser.add_argument("--serve", nargs=2, metavar=("URL", "PORT"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        _serve(options.serve[0], int(options.serve[1]))
        return
    backends = options.backend or ["sqlite", "postgresql"]
    figures = {
        "clients": CLIENTS,
        "seconds": options.seconds,
        "write_share": WRITE_SHARE,
        "scale": "city",
        "backends": {backend: _run(backend, options.seconds) for backend in backends},
    }
    print(write_result("load", figures))


if __name__ == "__main__":
    main()
