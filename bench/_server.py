"""Serving the app in a process of its own for the web benchmarks, signing in as a
browser does, and reading the server's memory."""

import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Browser:
    """What a signed-in browser sends: its cookies, and the CSRF token for writes."""

    cookie: str
    csrf: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def start(script: Path, url: str) -> tuple[subprocess.Popen[bytes], int]:
    """Run ``script --serve URL PORT`` (the script serves the app) and wait until the app
    answers; returns the process and its port."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(script), "--serve", url, str(port)],
        env=os.environ | {"GONGJIAN_DATABASE_URL": url},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{HOST}:{port}/healthz", timeout=1).status_code == 200:
                return server, port
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not start")


def sign_in(port: int, username: str, password: str) -> Browser:
    """Sign in through the form; the cookies a browser would send and its CSRF token."""
    with httpx.Client(base_url=f"http://{HOST}:{port}", follow_redirects=False) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token, "no CSRF field on the sign-in form"
        answer = client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token.group(1)},
        )
        assert answer.status_code == 303, answer.text
        page = client.get("/docs").text
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
        assert csrf, "no CSRF meta tag on a signed-in page"
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        return Browser(cookie, csrf.group(1))


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` now, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def demo_password(username: str) -> str:
    from gongjian.demo.generate import DEMO_USERS

    return next(password for name, password, *_ in DEMO_USERS if name == username)
