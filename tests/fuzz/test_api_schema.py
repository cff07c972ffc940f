"""The API fuzzed from its own description: schemathesis generates requests for every
operation of ``/openapi.json`` (valid and invalid ones), sent as each role, and checks
that none gets a 5xx and that every response conforms to the schema it documents.

``make test`` runs a bounded number of examples per operation and role
(``GONGJIAN_FUZZ_EXAMPLES``, 3 by default); ``make fuzz`` runs many more.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import Engine

from gongjian.web.app import create_app
from tests.conftest import DatabaseFactory

CHECKS = [not_a_server_error, response_schema_conformance]
EXAMPLES = int(os.environ.get("GONGJIAN_FUZZ_EXAMPLES", "3"))
#: The demo accounts the fuzzing signs in as, one per role; "public" sends no credentials.
ROLES = {
    "admin": "admin",
    "city": "gaigeban",
    "town": "town-shiqi",
    "auditor": "shenji",
    "public": None,
}


@pytest.fixture(scope="module")
def fuzz_engine(databases: DatabaseFactory) -> Iterator[Engine]:
    """The small demo city in a database of the fuzzing's own (it writes freely)."""
    from gongjian.demo.generate import load_demo

    engine = databases.new("fuzz", towns=False)
    load_demo(engine, seed=7, scale="small")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def fuzz_app(fuzz_engine: Engine) -> FastAPI:
    return create_app(fuzz_engine)


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


def _password(username: str) -> str:
    from gongjian.demo.generate import DEMO_USERS

    return next(password for name, password, *_ in DEMO_USERS if name == username)


def _headers(fuzz_app: FastAPI, username: str) -> dict[str, str]:
    """The headers a signed-in browser of ``username`` sends: its session cookie and CSRF
    token (the API takes a session cookie with ``X-CSRF-Token`` for writes)."""
    with TestClient(fuzz_app, follow_redirects=False) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token
        signed = client.post(
            "/login",
            data={
                "username": username,
                "password": _password(username),
                "csrf_token": token.group(1),
            },
        )
        assert signed.status_code == 303, signed.text
        page = client.get("/docs").text
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
        assert csrf
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    return {"Cookie": cookie, "X-CSRF-Token": csrf.group(1)}


@pytest.fixture(scope="module")
def credentials(fuzz_app: FastAPI) -> dict[str, dict[str, str]]:
    """Each role's headers (none for the public)."""
    return {role: _headers(fuzz_app, account) if account else {} for role, account in ROLES.items()}


def test_no_server_error_and_every_answer_keeps_its_schema(
    api_schema: schemathesis.BaseSchema, credentials: dict[str, dict[str, str]]
) -> None:
    failures: list[str] = []
    for found in api_schema.get_all_operations():
        operation = found.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def send(case: schemathesis.Case) -> None:
                for role, headers in credentials.items():
                    response = case.call(headers=headers)
                    try:
                        case.validate_response(response, checks=CHECKS, headers=headers)
                    except Exception as exc:
                        raise AssertionError(f"as {role}: {exc}") from exc

            try:
                send()
            except Unsatisfiable:
                continue  # nothing of this operation can be made invalid (no parameters)
            except Exception as exc:  # every operation is tried; failures reported together
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)
