"""Two `hub serve` processes over one hub, as the Kubernetes deployment runs two API replicas
behind one Service: a browser signed in on one is served by either, its forms' CSRF token holds
on both, what a page keeps in the session (the latest search) is seen by the other, signing out
on one ends the session on both, and a session left idle past HUB_SESSION_IDLE_MINUTES is
refused by both."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from tests.e2e.test_browser import free_port, start, stop

IDLE_MINUTES = 0.15  # 9 s: short enough to wait out in the test
PRACTITIONER = "sw-0001"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SIGN_IN = "/"


def hub_cli(*args: str) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", *args, "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, str] = json.loads(result.stdout)
    return answer


@pytest.fixture
def replicas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, str]]:
    """Two servers on one data directory (the same session store) and a token to sign in with."""
    for name, value in {
        "HUB_DEV_TOKENS": "true",
        "HUB_DIRECTORY": str(SAMPLE_DIRECTORY_PATH),
        "HUB_SESSION_IDLE_MINUTES": str(IDLE_MINUTES),
        "HUB_LOG_LEVEL": "warning",
    }.items():
        monkeypatch.setenv(name, value)
    data_dir = str(tmp_path / "hub")
    urls, processes = [], []
    try:
        for replica in ("one", "two"):
            url = f"http://127.0.0.1:{free_port()}"
            command = [sys.executable, "-m", "hub.cli", "serve", "--data-dir", data_dir]
            port = ["--port", url.rsplit(":", 1)[1]]
            # The second starts once the first has made the hub, as a rollout adds a replica.
            processes.append(start([*command, *port], tmp_path / f"{replica}.log", url))
            urls.append(url)
        token = hub_cli("token", "issue", "--practitioner", PRACTITIONER, "--data-dir", data_dir)
        yield urls[0], urls[1], token["token"]
    finally:
        for process in processes:
            stop(process)


def page(url: str, path: str, session: str) -> httpx.Response:
    return httpx.get(f"{url}{path}", headers={"Cookie": f"hub_session={session}"}, timeout=60)


def post(url: str, path: str, session: str, form: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{url}{path}", data=form, headers={"Cookie": f"hub_session={session}"}, timeout=60
    )


def sign_in(url: str, token: str) -> str:
    """Sign in as a browser does (the login form's own CSRF cookie, then POST /login); the
    session cookie's value."""
    form = httpx.get(f"{url}/", timeout=60)
    login_csrf = CSRF.search(form.text)
    assert login_csrf is not None
    answer = httpx.post(
        f"{url}/login",
        data={
            "token": token,
            "purpose": "child-protection-planning",
            "csrf_token": login_csrf.group(1),
        },
        headers={"Cookie": f"hub_login_csrf={form.cookies['hub_login_csrf']}"},
        timeout=60,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/chronology"
    return answer.cookies["hub_session"]


def refused(answer: httpx.Response) -> bool:
    """Sent back to sign in, as a browser with no live session is."""
    return answer.status_code == 303 and answer.headers["location"] == SIGN_IN


def test_replicas_share_sign_in_csrf_session_state_logout_and_idle_expiry(
    replicas: tuple[str, str, str],
) -> None:
    one, two, token = replicas
    session = sign_in(one, token)

    # Alternate: each page on one replica, then the other.
    inbox = page(two, "/inbox", session)
    assert inbox.status_code == 200
    chronology = page(one, "/chronology", session)
    assert chronology.status_code == 200
    csrf = CSRF.search(inbox.text)
    assert csrf is not None
    assert f'value="{csrf.group(1)}"' in chronology.text  # one session, one CSRF token

    search = {"family_name": "Tesscombe", "date_of_birth": "2015-04-01", "given_name": ""}
    wrong = post(two, "/find", session, {**search, "csrf_token": "not-the-token"})
    assert wrong.status_code == 403
    searched = post(two, "/find", session, {**search, "csrf_token": csrf.group(1)})
    assert searched.status_code == 303 and searched.headers["location"] == "/find"
    shown = page(one, "/find", session)  # what two kept in the session, rendered by one
    assert shown.status_code == 200
    assert "Children named Tesscombe" in shown.text
    assert page(two, "/inbox", session).status_code == 200

    assert refused(page(one, "/inbox", "a-cookie-for-no-session"))
    signed_out = post(two, "/logout", session, {"csrf_token": csrf.group(1)})
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/"
    assert refused(page(one, "/inbox", session))
    assert refused(page(two, "/chronology", session))

    idle = sign_in(two, token)
    assert page(one, "/inbox", idle).status_code == 200
    # Waiting out the idle timeout itself (nothing to synchronise with): no request meanwhile.
    time.sleep(IDLE_MINUTES * 60 + 1)
    assert refused(page(two, "/inbox", idle))
    assert refused(page(one, "/inbox", idle))
