"""The dashboard under load: the KPI API and the city overview against trivial baselines.

One server process (uvicorn, the app as ``gongjian serve`` builds it, access log off)
serves the city-scale demo city (seed 7) on SQLite and then on PostgreSQL. A load
generator (``_http.py``, bare asyncio, 50 keep-alive connections) sends GET requests to
one path at a time for ``SECONDS`` after a short warm-up, signed in as the city office:

- ``/healthz``: the trivial endpoint (one ``SELECT 1``), the baseline of the API;
- ``/api/v1/kpi?as_of=…``: the nine headline KPIs (cached per scope and date, cleared
  by writes); the aim is at least a third of the trivial endpoint's throughput;
- ``/bench/bare``: the bare page, added by this script: a signed-in page that renders
  the site's layout (``base.html``) with nothing in it — the baseline of the pages;
- ``/?as_of=…``: the city overview; the aim is at least a quarter of the bare page's
  throughput, with a p99 at most twice the bare page's.

The figures (requests per second, p50 and p99 per path, errors, the ratios) go to
``bench/results/web.json``. Usage: ``python bench/web.py [--seconds 20] [--scale city]``.
"""

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import drop_database, fresh_database, write_result
from _http import Measured, measure
from _server import HOST, demo_password, sign_in, start

CLIENTS = 50
SECONDS = 20.0
WARM_UP = 2.0
AS_OF = "2023-01-31"
ACCOUNT = "gaigeban"
BARE = '{% extends "base.html" %}{% block title %}bench{% endblock %}'


def _serve(url: str, port: int) -> None:
    """Run the app on ``port`` over the database at ``url``, with the bare page added."""
    import uvicorn
    from fastapi import Request
    from fastapi.responses import HTMLResponse, Response
    from jinja2 import ChoiceLoader, DictLoader

    from gongjian.db import make_engine
    from gongjian.web.app import create_app
    from gongjian.web.deps import PageActor
    from gongjian.web.templating import environment, render

    app = create_app(make_engine(url))
    assert environment.loader is not None
    environment.loader = ChoiceLoader([DictLoader({"bench/bare.html": BARE}), environment.loader])

    @app.get("/bench/bare", response_class=HTMLResponse)
    def bare(request: Request, actor: PageActor) -> Response:
        return render(request, "bench/bare.html")

    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


def _run(backend: str, scale: str, seconds: float) -> dict[str, Any]:
    from gongjian.demo.generate import load_demo

    with tempfile.TemporaryDirectory() as folder:
        engine, name = fresh_database(backend, Path(folder))
        try:
            url = engine.url.render_as_string(hide_password=False)
            started = time.perf_counter()
            load_demo(engine, seed=7, scale=scale)
            print(f"  {backend}: demo ({scale}) loaded in {time.perf_counter() - started:.1f} s")
            engine.dispose()
            server, port = start(Path(__file__), url)
            try:
                cookie = sign_in(port, ACCOUNT, demo_password(ACCOUNT)).cookie
                results: dict[str, Measured] = {}
                for label, path in (
                    ("trivial", "/healthz"),
                    ("kpi", f"/api/v1/kpi?as_of={AS_OF}"),
                    ("bare_page", "/bench/bare"),
                    ("overview", f"/?as_of={AS_OF}"),
                ):
                    measure(HOST, port, path, cookie=cookie, clients=CLIENTS, seconds=WARM_UP)
                    results[label] = measure(
                        HOST, port, path, cookie=cookie, clients=CLIENTS, seconds=seconds
                    )
                    print(f"  {backend} {label}: {results[label].as_dict()}")
            finally:
                server.terminate()
                server.wait(timeout=30)
        finally:
            drop_database(backend, engine, name)
    kpi_ratio = results["kpi"].per_second / results["trivial"].per_second
    page_ratio = results["overview"].per_second / results["bare_page"].per_second
    p99_ratio = results["overview"].p99_ms / results["bare_page"].p99_ms
    return {
        "paths": {label: found.as_dict() for label, found in results.items()},
        "kpi_vs_trivial": round(kpi_ratio, 3),
        "overview_vs_bare_page": round(page_ratio, 3),
        "overview_p99_vs_bare_page_p99": round(p99_ratio, 3),
        "met": {
            "kpi_at_least_a_third": kpi_ratio >= 1 / 3,
            "overview_at_least_a_quarter": page_ratio >= 1 / 4,
            "overview_p99_at_most_twice": p99_ratio <= 2,
            "no_errors": all(found.errors == 0 for found in results.values()),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--scale", choices=("small", "city"), default="city")
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
        "scale": options.scale,
        "as_of": AS_OF,
        "backends": {
            backend: _run(backend, options.scale, options.seconds) for backend in backends
        },
    }
    print(write_result("web", figures))


if __name__ == "__main__":
    main()
